// One accepted TCP connection: HTTP/1.1 requests, or a WebSocket once it asks for one.
#pragma once

#include <cstdint>
#include <memory>

#include <optional>

#include "herald/context.hpp"
#include "herald/http_api.hpp"
#include "herald/net.hpp"
#include "herald/stop_signal.hpp"
#include "herald/websocket_session.hpp"

namespace herald {

// Serves HTTP requests on `socket` until the peer is done, a request is malformed, or the server
// stops (then returns null), or until a request asks for a WebSocket on /ws and passes its
// checks (then returns it, for the caller to start a WebSocket session). Returning rather than
// running the session from here lets this frame and its HTTP buffers go first: a WebSocket may
// last for days. Runs on the socket's own strand. Never throws for I/O failures. `remote` is
// the peer's address as accept() reported it.
awaitable<std::unique_ptr<PlainUpgrade>> serve_http(tcp::socket socket, tcp::endpoint remote,
                                                    std::uint64_t id,
                                                    std::shared_ptr<StopSignal> stop,
                                                    Context& context);

// The same over TLS (context.tls), after the TLS handshake.
awaitable<std::unique_ptr<TlsUpgrade>> serve_https(tcp::socket socket, tcp::endpoint remote,
                                                   std::uint64_t id,
                                                   std::shared_ptr<StopSignal> stop,
                                                   Context& context);

}  // namespace herald
