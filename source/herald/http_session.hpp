// One accepted TCP connection: HTTP/1.1 requests, or a WebSocket once it asks for one.
#pragma once

#include <cstdint>
#include <memory>

#include "herald/context.hpp"
#include "herald/net.hpp"
#include "herald/stop_signal.hpp"

namespace herald {

// Serves HTTP requests on `socket` until the peer is done, a request is malformed, or the
// server stops; hands the connection to a WebSocket session when it asks to upgrade on /ws.
// Runs on the socket's own strand. Never throws for I/O failures.
awaitable<void> serve_connection(tcp::socket socket, std::uint64_t id,
                                 std::shared_ptr<StopSignal> stop, Context& context);

}  // namespace herald
