// One event stream (GET /sse): Server-Sent Events, for networks that let no WebSocket through.
#pragma once

#include <cstdint>
#include <memory>

#include "herald/context.hpp"
#include "herald/net.hpp"
#include "herald/websocket_session.hpp"

namespace herald {

// A second transport on the same hub and engine, not a second delivery path: the stream is a
// Connection in the JSON protocol, registered through Engine::join as a WebSocket's login is
// (resuming from its Last-Event-ID as a login's `since`), unregistered through Hub::leave, and
// bounded and ended by the same outbox limits, keep-alive, token expiry and closes.
//
// On the wire (text/event-stream, one unnamed event per JSON-protocol frame):
//
//     data: {"type":"welcome",...}              the welcome first; `id: <epoch>:<seq>` before it
//                                               on a first login, so that a stream cut before any
//                                               message resumes from there
//     id: <epoch>:<seq>                         each message, with the id the browser's
//     data: {"type":"message","seq":...}        EventSource sends back as Last-Event-ID
//     : ping                                    a comment at each keep-alive ping
//     data: {"type":"close","code":...,"reason":...}
//                                               when the server ends the stream (the close table)
//
// after which the connection ends: it is never reused. `request` passed the checks of
// http_session.cpp (origin, login, Last-Event-ID, a place under the connection limits). Runs on
// the socket's executor. Never throws for I/O failures.
awaitable<void> run_event_stream(std::unique_ptr<PlainUpgrade> request, std::uint64_t id,
                                 Context& context);
awaitable<void> run_event_stream(std::unique_ptr<TlsUpgrade> request, std::uint64_t id,
                                 Context& context);

}  // namespace herald
