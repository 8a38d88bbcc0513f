// One WebSocket connection, from its upgrade request to its close.
#pragma once

#include <cstdint>
#include <memory>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "herald/context.hpp"
#include "herald/net.hpp"
#include "herald/stop_signal.hpp"

namespace herald {

// Accepts the upgrade, waits for the login frame, registers the connection with the hub, then
// runs a reader and a writer until either side ends the connection; unregisters it at the end.
// Runs on the stream's strand. Never throws for I/O failures.
awaitable<void> run_websocket_session(
    tcp::socket socket, boost::beast::http::request<boost::beast::http::string_body> upgrade,
    std::uint64_t id, tcp::endpoint remote, std::shared_ptr<StopSignal> stop, Context& context);

}  // namespace herald
