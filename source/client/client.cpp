#include "client/client.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/system/system_error.hpp>

namespace herald::client {
namespace {

void throw_if(const error_code& error, const char* what) {
    if (error) throw boost::system::system_error(error, what);
}

awaitable<beast::tcp_stream> open(tcp::endpoint server) {
    beast::tcp_stream stream(co_await asio::this_coro::executor);
    auto [error] = co_await stream.async_connect(server, use_nothrow);
    throw_if(error, "connect");
    stream.socket().set_option(tcp::no_delay(true));
    co_return stream;
}

}  // namespace

awaitable<WebSocketClient> WebSocketClient::connect(tcp::endpoint server, std::string target,
                                                    http::fields headers) {
    Stream ws(co_await open(server));
    if (headers.begin() != headers.end()) {
        ws.set_option(
            websocket::stream_base::decorator([headers](websocket::request_type& request) {
                for (const auto& field : headers)
                    request.set(field.name_string(), field.value());
            }));
    }
    std::string host = server.address().to_string() + ":" + std::to_string(server.port());
    auto [error] = co_await ws.async_handshake(host, target, use_nothrow);
    throw_if(error, "websocket handshake");
    ws.text(true);
    co_return WebSocketClient(std::move(ws));
}

awaitable<WebSocketClient> WebSocketClient::login(tcp::endpoint server, std::string uid,
                                                  Protocol protocol) {
    WebSocketClient client = co_await connect(server);
    boost::json::object login{{"uid", uid}};
    if (protocol == Protocol::json) login["v"] = 1;
    co_await client.send(boost::json::serialize(login));
    if (protocol == Protocol::json) {
        std::string welcome = co_await client.receive();
        auto parsed = boost::json::parse(welcome);
        if (parsed.as_object().at("type") != "welcome")
            throw std::runtime_error("expected a welcome, got " + welcome);
    }
    co_return client;
}

awaitable<void> WebSocketClient::send(std::string text) {
    ws_.text(true);
    auto [error, written] = co_await ws_.async_write(asio::buffer(text), use_nothrow);
    throw_if(error, "websocket write");
}

awaitable<void> WebSocketClient::send_binary(std::string data) {
    ws_.binary(true);
    auto [error, written] = co_await ws_.async_write(asio::buffer(data), use_nothrow);
    ws_.text(true);
    throw_if(error, "websocket write");
}

awaitable<Frame> WebSocketClient::read() {
    buffer_.clear();
    auto [error, size] = co_await ws_.async_read(buffer_, use_nothrow);
    Frame frame;
    frame.error = error;
    if (!error) {
        frame.data = beast::buffers_to_string(buffer_.data());
        frame.binary = ws_.got_binary();
    }
    co_return frame;
}

awaitable<std::string> WebSocketClient::receive() {
    Frame frame = co_await read();
    if (frame.error == websocket::error::closed)
        throw std::runtime_error(
            "closed by the server: " + std::to_string(close_reason().code) + " " +
            std::string(close_reason().reason.data(), close_reason().reason.size()));
    throw_if(frame.error, "websocket read");
    if (frame.binary) throw std::runtime_error("expected a text frame, got a binary one");
    co_return frame.data;
}

awaitable<websocket::close_reason> WebSocketClient::wait_for_close() {
    for (;;) {
        Frame frame = co_await read();
        // A server that fails the connection (1009, say) may drop the socket right after its
        // close frame, and Beast then reports the teardown's error: the close still arrived.
        if (frame.error == websocket::error::closed || (frame.error && close_reason().code != 0))
            co_return close_reason();
        throw_if(frame.error, "websocket read while waiting for a close");
    }
}

awaitable<void> WebSocketClient::close(websocket::close_code code) {
    auto [error] = co_await ws_.async_close(code, use_nothrow);
    throw_if(error, "websocket close");
}

awaitable<HttpClient> HttpClient::connect(tcp::endpoint server) {
    co_return HttpClient(co_await open(server));
}

awaitable<HttpResponse> HttpClient::request(http::verb method, std::string target, std::string body,
                                            http::fields headers) {
    http::request<http::string_body> request{method, target, 11};
    request.set(http::field::host, "127.0.0.1");
    for (const auto& field : headers)
        request.set(field.name_string(), field.value());
    if (!body.empty()) request.set(http::field::content_type, "application/json");
    request.body() = std::move(body);
    request.prepare_payload();
    auto [write_error, written] = co_await http::async_write(stream_, request, use_nothrow);
    throw_if(write_error, "http write");

    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    auto [read_error, read] = co_await http::async_read(stream_, buffer_, parser, use_nothrow);
    throw_if(read_error, "http read");
    auto response = parser.release();
    HttpResponse result;
    result.status = response.result_int();
    result.body = std::move(response.body());
    result.headers = std::move(static_cast<http::fields&>(response));
    co_return result;
}

awaitable<HttpResponse> http_request(tcp::endpoint server, http::verb method, std::string target,
                                     std::string body, http::fields headers) {
    HttpClient client = co_await HttpClient::connect(server);
    co_return co_await client.request(method, std::move(target), std::move(body),
                                      std::move(headers));
}

std::string url_encode(std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string encoded;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            encoded += static_cast<char>(c);
        } else {
            encoded += '%';
            encoded += hex[c >> 4];
            encoded += hex[c & 15];
        }
    }
    return encoded;
}

}  // namespace herald::client
