// One WebSocket connection, from its upgrade request to its close.
#pragma once

#include <cstdint>
#include <memory>

#include <optional>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "herald/admission.hpp"
#include "herald/context.hpp"
#include "herald/net.hpp"
#include "herald/protocol.hpp"
#include "herald/stop_signal.hpp"
#include "herald/tls.hpp"
#include "herald/token.hpp"

namespace herald {

// A connection that asked for a WebSocket (or an event stream: GET /sse) and passed the checks
// of its request. Transport: tcp::socket for ws://, TlsStream for wss://.
template <typename Transport>
struct Upgrade {
    Transport transport;
    boost::beast::http::request<boost::beast::http::string_body> request;
    tcp::endpoint remote;
    Admission::Ticket ticket;  // its place under the connection limits, for its whole life
    // Logged in by an `Authorization: Bearer` token on the upgrade request, in the protocol its
    // URL asked for (/ws?v=1): such a connection sends no login frame.
    std::optional<TokenClaims> authenticated;
    Protocol protocol = Protocol::seed;
    // GET /sse: the connection becomes an event stream (sse_session.hpp), not a WebSocket. It is
    // logged in already: `authenticated` holds the verified token's claims, or in dev mode the
    // uid of its URL (no expiry); `since` is its Last-Event-ID.
    bool event_stream = false;
    std::optional<Since> since = std::nullopt;
};
using PlainUpgrade = Upgrade<tcp::socket>;
using TlsUpgrade = Upgrade<TlsStream>;

// Accepts the upgrade, waits for the login frame (unless the upgrade was authenticated),
// registers the connection with the hub, then runs a reader and a writer until either side
// ends the connection; unregisters it at the end. Runs on the socket's executor. Never throws
// for I/O failures. The upgrade comes on the heap so that it goes once the connection is open:
// a coroutine's parameters live as long as its frame, and a WebSocket may live for days.
awaitable<void> run_websocket_session(std::unique_ptr<PlainUpgrade> upgrade, std::uint64_t id,
                                      std::shared_ptr<StopSignal> stop, Context& context);
awaitable<void> run_websocket_session(std::unique_ptr<TlsUpgrade> upgrade, std::uint64_t id,
                                      std::shared_ptr<StopSignal> stop, Context& context);

}  // namespace herald
