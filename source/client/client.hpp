// A coroutine WebSocket and HTTP client for Herald, shared by the tests and the tools.
// Failures to connect or to send throw boost::system::system_error; what a test wants to look
// at (a close, a status) comes back as a value.
#pragma once

#include <string>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "herald/net.hpp"
#include "herald/protocol.hpp"

namespace herald::client {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

struct Frame {
    error_code error;  // websocket::error::closed once the server has closed; see close_reason()
    std::string data;
    bool binary = false;
};

class WebSocketClient {
  public:
    using Stream = websocket::stream<beast::tcp_stream>;

    explicit WebSocketClient(Stream stream) : ws_(std::move(stream)) {}

    // Opens a TCP connection and completes the WebSocket handshake for `target`, with `headers`
    // added to the upgrade request (Authorization, Origin).
    static awaitable<WebSocketClient> connect(tcp::endpoint server, std::string target = "/ws",
                                              http::fields headers = {});

    // connect(), then the login frame. In the JSON protocol it also waits for the welcome, so a
    // message published after it returns is delivered.
    static awaitable<WebSocketClient> login(tcp::endpoint server, std::string uid,
                                            Protocol protocol = Protocol::seed);

    awaitable<void> send(std::string text);
    awaitable<void> send_binary(std::string data);

    // The next message, or the error that ended the connection.
    awaitable<Frame> read();
    // The next text message; throws if anything else arrives.
    awaitable<std::string> receive();
    // Reads until the server closes, ignoring messages, and returns its close frame. Throws if
    // the connection ends any other way.
    awaitable<websocket::close_reason> wait_for_close();
    // Closes from this side and waits for the server's answer.
    awaitable<void> close(websocket::close_code code = websocket::close_code::normal);

    websocket::close_reason close_reason() const { return ws_.reason(); }
    Stream& stream() { return ws_; }

  private:
    Stream ws_;
    beast::flat_buffer buffer_;
};

struct HttpResponse {
    unsigned status = 0;
    std::string body;
    http::fields headers;
};

// One keep-alive HTTP/1.1 connection, for many requests in turn.
class HttpClient {
  public:
    explicit HttpClient(beast::tcp_stream stream) : stream_(std::move(stream)) {}

    static awaitable<HttpClient> connect(tcp::endpoint server);

    awaitable<HttpResponse> request(http::verb method, std::string target, std::string body = {},
                                    http::fields headers = {});
    awaitable<HttpResponse> get(std::string target) {
        return request(http::verb::get, std::move(target));
    }
    awaitable<HttpResponse> post(std::string target, std::string body) {
        return request(http::verb::post, std::move(target), std::move(body));
    }

  private:
    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
};

// One request on a connection of its own.
awaitable<HttpResponse> http_request(tcp::endpoint server, http::verb method, std::string target,
                                     std::string body = {}, http::fields headers = {});

// Percent-encodes `text` for a query string.
std::string url_encode(std::string_view text);

}  // namespace herald::client
