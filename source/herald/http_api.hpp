// The HTTP API: /send, /stats, /healthz. Routing and answers, without sockets.
#pragma once

#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include "herald/context.hpp"
#include "herald/net.hpp"

namespace herald {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// Answers one HTTP request that is not a WebSocket upgrade. Every failure is an answer too:
// an error status with a JSON body {"error":"..."}.
awaitable<Response> handle_request(Request request, Context& context);

// An error answer with {"error": message}.
Response error_response(http::status status, std::string_view message, unsigned version);

}  // namespace herald
