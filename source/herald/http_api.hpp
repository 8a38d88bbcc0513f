// The HTTP API: /send, /presence, /disconnect, /stats, /metrics, /healthz, /readyz. Routing and
// answers, without sockets.
#pragma once

#include <string>
#include <string_view>

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include "herald/context.hpp"
#include "herald/net.hpp"

namespace herald {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;

// An answer of the API: a status, a JSON body, and the odd header that some errors add.
//
// The answers are small and all alike, so they go out as one buffer that render() writes in a
// single pass: Beast's serializer, walking a chain of header, field and body buffers, cost more
// per /send than building the answer did.
class Response {
  public:
    // `version` is the request's HTTP version (10 or 11), which the answer repeats.
    Response(http::status status, std::string json_body, unsigned version);
    // An answer whose body is static bytes (a web page embedded in the binary): not copied, but
    // written after the rendered head. The content type, cache policy and body must outlive the
    // answer: constants.
    static Response static_content(http::status status, std::string_view content_type,
                                   std::string_view cache_control, std::string_view body,
                                   unsigned version);

    http::status result() const { return status_; }
    unsigned result_int() const { return static_cast<unsigned>(status_); }
    const std::string& body() const { return body_; }
    // A body that is not JSON (/metrics' text); `type` must outlive the answer: a constant.
    void content_type(std::string_view type) { content_type_ = type; }
    std::string_view content_type() const { return content_type_; }
    // Adds a header line; `value` must be plain header text (no CR or LF).
    void set(http::field field, std::string_view value);
    void set(std::string_view name, std::string_view value);  // a header Beast has no field for
    // Whether the connection stays open after this answer; says so in the HTTP/1.0 or 1.1 way.
    void keep_alive(bool keep) { keep_alive_ = keep; }
    bool keep_alive() const { return keep_alive_; }

    // The whole message as it goes on the wire: status line, headers, blank line, body. Into
    // `text`, whose old content goes but whose capacity a connection reuses for every answer.
    // A static body is not in `text`: static_body() follows it on the wire.
    void render(std::string& text) const;
    std::string_view static_body() const { return static_body_; }

  private:
    http::status status_;
    unsigned version_;
    bool keep_alive_ = true;
    std::string extra_headers_;  // whole lines, each ending in CRLF
    std::string body_;
    std::string_view content_type_ = "application/json";
    std::string_view cache_control_ = "no-store";
    std::string_view static_body_;
};

// Answers one HTTP request that is not a WebSocket upgrade. Every failure is an answer too:
// an error status with a JSON body {"error":"..."}.
awaitable<Response> handle_request(Request request, Context& context);

// An error answer with {"error": message}.
Response error_response(http::status status, std::string_view message, unsigned version);

}  // namespace herald
