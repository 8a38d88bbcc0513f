// The corked layer under a WebSocket, over Beast's in-memory test stream (no sockets): frames
// written while corked leave in one write and in order, and a close answered while corked is
// neither lost nor stuck behind the writer.
#include "herald/corked_stream.hpp"

#include <string>
#include <tuple>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/test/unit_test.hpp>

#include "support/run.hpp"

using namespace herald;
using herald::test::run;
using namespace boost::asio::experimental::awaitable_operators;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

namespace {

using Server = websocket::stream<CorkedStream<beast::test::stream>, false>;
using Client = websocket::stream<beast::test::stream, false>;

struct Pair {
    explicit Pair(asio::io_context& io_context) : server(io_context), client(io_context) {
        server.next_layer().next_layer().connect(client.next_layer());
    }
    // Writes made by the server into the stream under its corked layer.
    std::size_t server_writes() { return server.next_layer().next_layer().nwrite(); }
    Server server;
    Client client;
};

awaitable<void> accept(Server& server) {
    co_await server.async_accept(asio::use_awaitable);
}

awaitable<void> handshake(Client& client) {
    co_await client.async_handshake("localhost", "/ws", asio::use_awaitable);
}

awaitable<void> open(Pair& pair) {
    co_await (accept(pair.server) && handshake(pair.client));
}

awaitable<std::string> read_text(Client& client) {
    beast::flat_buffer buffer;
    co_await client.async_read(buffer, asio::use_awaitable);
    co_return beast::buffers_to_string(buffer.data());
}

awaitable<error_code> read_until_closed(Server& server) {
    beast::flat_buffer buffer;
    auto [error, size] = co_await server.async_read(buffer, use_nothrow);
    co_return error;
}

awaitable<error_code> close_from_the_client(Client& client) {
    auto [error] = co_await client.async_close(websocket::close_code::normal, use_nothrow);
    co_return error;
}

awaitable<error_code> write_text(Server& server, std::string text) {
    auto [error, size] = co_await server.async_write(asio::buffer(text), use_nothrow);
    co_return error;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(corked_stream)

BOOST_AUTO_TEST_CASE(frames_written_while_corked_leave_in_one_write_and_in_order) {
    asio::io_context io_context;
    Pair pair(io_context);
    run(io_context, [&]() -> awaitable<void> {
        co_await open(pair);
        std::size_t before = pair.server_writes();
        pair.server.next_layer().cork();
        for (int i = 0; i < 10; ++i) {
            error_code error = co_await write_text(pair.server, "m" + std::to_string(i));
            BOOST_TEST(!error);
        }
        BOOST_TEST(pair.server_writes() == before);  // gathered, not written
        BOOST_TEST(pair.server.next_layer().gathered() > 0u);
        error_code flushed = co_await pair.server.next_layer().flush();
        BOOST_TEST(!flushed);
        BOOST_TEST(pair.server_writes() == before + 1);
        BOOST_TEST(pair.server.next_layer().gathered() == 0u);
        for (int i = 0; i < 10; ++i) {
            std::string text = co_await read_text(pair.client);
            BOOST_TEST(text == "m" + std::to_string(i));
        }
    });
}

BOOST_AUTO_TEST_CASE(uncorked_frames_go_straight_through) {
    asio::io_context io_context;
    Pair pair(io_context);
    run(io_context, [&]() -> awaitable<void> {
        co_await open(pair);
        std::size_t before = pair.server_writes();
        error_code first = co_await write_text(pair.server, "one");
        error_code second = co_await write_text(pair.server, "two");
        BOOST_TEST(!first);
        BOOST_TEST(!second);
        BOOST_TEST(pair.server_writes() == before + 2);
        error_code flushed = co_await pair.server.next_layer().flush();  // nothing to flush
        BOOST_TEST(!flushed);
        BOOST_TEST(pair.server_writes() == before + 2);
        std::string one = co_await read_text(pair.client);
        std::string two = co_await read_text(pair.client);
        BOOST_TEST(one == "one");
        BOOST_TEST(two == "two");
    });
}

// The client closes while the server's writer is corked, with a frame gathered and a second
// one on its way: Beast answers the close (gathered too) and tears down while holding its
// write lock, which the second write may wait for. The answer must go out before the TCP
// shutdown (or the client sees an EOF), and without waiting for the writer's flush (which
// could wait for the lock: neither would ever finish).
BOOST_AUTO_TEST_CASE(a_close_answered_while_corked_is_sent_without_waiting_for_the_writer) {
    asio::io_context io_context;
    Pair pair(io_context);
    run(io_context, [&]() -> awaitable<void> {
        co_await open(pair);
        pair.server.next_layer().cork();
        error_code gathered = co_await write_text(pair.server, "before the close");
        BOOST_TEST(!gathered);
        auto [read_end, client_close, late_write] =
            co_await (read_until_closed(pair.server) && close_from_the_client(pair.client) &&
                      write_text(pair.server, "after the close"));
        // The peer's close, answered.
        BOOST_TEST((read_end == websocket::error::closed), read_end.message());
        BOOST_TEST(!client_close, client_close.message());  // the answer came: not an EOF
        // The late frame was either gathered before the close came in, or refused after it.
        std::ignore = late_write;
        error_code flushed = co_await pair.server.next_layer().flush();
        BOOST_TEST(!flushed);  // nothing was left to send
        BOOST_TEST(pair.client.reason().code == websocket::close_code::normal);
    });
}

BOOST_AUTO_TEST_SUITE_END()
