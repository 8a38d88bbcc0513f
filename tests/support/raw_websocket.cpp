#include "support/raw_websocket.hpp"

#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

namespace herald::test {

unsigned RawServerFrame::close_code() const {
    if (payload.size() < 2) return 0;
    return static_cast<unsigned char>(payload[0]) << 8 | static_cast<unsigned char>(payload[1]);
}

std::string_view RawServerFrame::close_reason() const {
    return payload.size() < 2 ? std::string_view() : std::string_view(payload).substr(2);
}

awaitable<tcp::socket> raw_websocket(tcp::endpoint server) {
    tcp::socket socket(co_await asio::this_coro::executor);
    co_await socket.async_connect(server, asio::use_awaitable);
    std::string handshake =
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    co_await asio::async_write(socket, asio::buffer(handshake), asio::use_awaitable);
    std::string response;
    co_await asio::async_read_until(socket, asio::dynamic_buffer(response), "\r\n\r\n",
                                    asio::use_awaitable);
    BOOST_REQUIRE(response.starts_with("HTTP/1.1 101"));
    // The server sends nothing before the login, so nothing past the head was read.
    co_return socket;
}

std::string client_frame(unsigned opcode, std::string_view payload, bool fin) {
    BOOST_REQUIRE(payload.size() < 126);
    std::string frame{static_cast<char>((fin ? 0x80 : 0) | opcode),
                      static_cast<char>(0x80 | payload.size()),
                      0,
                      0,
                      0,
                      0};
    frame += payload;
    return frame;
}

awaitable<std::optional<RawServerFrame>> read_raw_frame(tcp::socket& socket) {
    unsigned char head[2];
    auto [error, n] = co_await asio::async_read(socket, asio::buffer(head), use_nothrow);
    if (error) co_return std::nullopt;
    BOOST_REQUIRE((head[1] & 0x80) == 0);  // server frames are not masked
    std::size_t length = head[1] & 0x7f;
    BOOST_REQUIRE(length < 126);
    RawServerFrame frame{head[0] & 0x0fu, std::string(length, '\0')};
    auto [payload_error, read] =
        co_await asio::async_read(socket, asio::buffer(frame.payload), use_nothrow);
    if (payload_error) co_return std::nullopt;
    co_return frame;
}

awaitable<RawServerFrame> read_until_close(tcp::socket& socket) {
    for (;;) {
        std::optional<RawServerFrame> frame = co_await read_raw_frame(socket);
        BOOST_REQUIRE_MESSAGE(frame.has_value(), "the connection ended without a close frame");
        if (frame->opcode == 0x8) co_return *frame;
    }
}

}  // namespace herald::test
