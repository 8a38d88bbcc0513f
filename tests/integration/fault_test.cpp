// Faults and abuse: each test checks that the server answers as stated, keeps serving the
// others, and ends with its counters back where they started.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include "support/raw_websocket.hpp"
#include "support/server_fixture.hpp"

using namespace herald;
using namespace herald::test;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using client::WebSocketClient;
namespace json = boost::json;

namespace {

// A client logged in and served, proving the server still works for everyone else.
awaitable<void> check_still_serving(tcp::endpoint server) {
    auto witness = co_await WebSocketClient::login(server, "witness", Protocol::json);
    co_await post_send(server, json::parse(R"({"uid":"witness","message":"still here"})"));
    auto message = co_await witness.receive();
    BOOST_TEST(json::parse(message).at("data") == "still here");
    co_await witness.close();
}

// Everything the server sends until it closes the connection; "" if it sent nothing.
awaitable<std::string> read_to_end(tcp::socket& socket) {
    std::string received;
    for (;;) {
        char chunk[4096];
        auto [error, n] = co_await socket.async_read_some(asio::buffer(chunk), use_nothrow);
        received.append(chunk, n);
        if (error) co_return received;
    }
}

awaitable<std::string> raw_http(tcp::endpoint server, std::string request) {
    tcp::socket socket(co_await asio::this_coro::executor);
    co_await socket.async_connect(server, asio::use_awaitable);
    co_await asio::async_write(socket, asio::buffer(request), asio::use_awaitable);
    co_return co_await read_to_end(socket);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(faults)

BOOST_AUTO_TEST_CASE(websocket_protocol_errors_are_closed_with_their_codes) {
    Config config = test_config();
    config.max_message_size = 4096;
    TestServer server(config);
    run([&]() -> awaitable<void> {
        struct Case {
            const char* what;
            std::string frame;
            unsigned code;
        };
        // A frame header that announces 2^62 bytes: refused from the header, nothing allocated.
        std::string huge{'\x82', '\xff', '\x40', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        const Case cases[] = {
            {"unmasked client frame", std::string("\x81\x05hello", 7), 1002},
            {"reserved opcode", client_frame(0x3, "x"), 1002},
            {"fragmented control frame", client_frame(0x9, "ping", false), 1002},
            {"invalid UTF-8 in a text frame", client_frame(0x1, "\xff\xfe\xfd"), 1007},
            {"huge announced length", huge, 1009},
        };
        for (const auto& each : cases) {
            for (bool logged_in : {false, true}) {
                BOOST_TEST_CONTEXT(each.what
                                   << (logged_in ? " after the login" : " as the login")) {
                    auto socket = co_await raw_websocket(server.endpoint());
                    if (logged_in) {
                        co_await asio::async_write(
                            socket, asio::buffer(client_text_frame(R"({"uid":"raw"})")),
                            asio::use_awaitable);
                    }
                    co_await asio::async_write(socket, asio::buffer(each.frame),
                                               asio::use_awaitable);
                    RawServerFrame close = co_await read_until_close(socket);
                    BOOST_TEST(close.close_code() == each.code);
                }
            }
        }
        co_await wait_for_stat(server.endpoint(), "connections", 0);
        co_await check_still_serving(server.endpoint());
    });
}

BOOST_AUTO_TEST_CASE(a_client_that_resets_while_the_server_writes_is_cleaned_up) {
    TestServer server;
    run([&]() -> awaitable<void> {
        auto victim = co_await WebSocketClient::login(server.endpoint(), "victim", Protocol::json);
        auto publisher = co_await client::HttpClient::connect(server.endpoint());
        std::string body = json::serialize(
            json::object{{"uid", "victim"}, {"message", std::string(60 * 1024, 'z')}});
        // Enough that the server is still writing when the reset comes: the client reads nothing.
        for (int i = 0; i < 40; ++i) {
            auto answer = co_await publisher.post("/send", body);
            BOOST_REQUIRE_EQUAL(answer.status, 200u);
        }
        auto& socket = client::beast::get_lowest_layer(victim.stream()).socket();
        socket.set_option(asio::socket_base::linger(true, 0));
        socket.close();
        co_await wait_for_stat(server.endpoint(), "connections", 0);
        // Publishing to the departed user is no error, and reaches nobody.
        auto after = co_await publisher.post("/send", body);
        BOOST_TEST(delivered_of(after.body) == 0);
        co_await check_still_serving(server.endpoint());
    });
}

BOOST_AUTO_TEST_CASE(malformed_http_requests_get_400_and_the_server_goes_on) {
    Config config = test_config();
    config.http_timeout = 1s;  // the request cut short is dropped at this deadline
    TestServer server(config);
    run([&]() -> awaitable<void> {
        const std::string requests[] = {
            "GET /healthz HTTP/9\r\n\r\n",
            "GET\r\n\r\n",
            "POST /send HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
            "POST /send HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n",
            "POST /send HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "POST /send HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc",
        };
        int answered = 0;
        for (const auto& request : requests) {
            BOOST_TEST_CONTEXT("request " << json::serialize(json::string(request))) {
                std::string answer = co_await raw_http(server.endpoint(), request);
                // A request cut short is dropped at its deadline or its end; one the parser can
                // tell is wrong is answered.
                if (!answer.empty()) {
                    ++answered;
                    BOOST_TEST(answer.starts_with("HTTP/1.1 400"));
                    BOOST_TEST(answer.find(R"({"error":"malformed HTTP request"})") !=
                               std::string::npos);
                }
            }
        }
        BOOST_TEST_MESSAGE(answered << " of " << std::size(requests)
                                    << " malformed requests answered with 400");
        BOOST_TEST(answered >= 5);  // all but the body cut short, which can only be dropped
        co_await check_still_serving(server.endpoint());
    });
}

BOOST_AUTO_TEST_CASE(a_request_head_sent_one_byte_at_a_time_is_dropped_at_its_deadline) {
    Config config = test_config();
    config.http_timeout = 300ms;
    TestServer server(config);
    run([&]() -> awaitable<void> {
        tcp::socket socket(co_await asio::this_coro::executor);
        co_await socket.async_connect(server.endpoint(), asio::use_awaitable);
        std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
        // The slow client's pace is the scenario, not a synchronisation: a byte every 50 ms,
        // until the server hangs up, which the other branch awaits.
        auto trickle = [&]() -> awaitable<void> {
            asio::steady_timer pace(co_await asio::this_coro::executor);
            for (std::size_t i = 0;; ++i) {
                auto [error, n] = co_await asio::async_write(
                    socket, asio::buffer(&head[i % head.size()], 1), use_nothrow);
                if (error) co_return;
                pace.expires_after(50ms);
                co_await pace.async_wait(use_nothrow);
            }
        };
        auto started = std::chrono::steady_clock::now();
        auto ended = co_await (read_to_end(socket) || trickle());
        auto elapsed = std::chrono::steady_clock::now() - started;
        BOOST_TEST_MESSAGE("dropped after " << elapsed / 1ms << " ms");
        if (ended.index() == 0)
            BOOST_TEST(std::get<0>(ended).empty());  // dropped without an answer
        BOOST_TEST((elapsed >= 300ms));
        BOOST_TEST((elapsed < 3s));
        co_await check_still_serving(server.endpoint());
    });
}

// Each request has its own deadline: a keep-alive client that keeps asking in time is served
// long past the first one (the server's one timer re-arms when the deadline has moved on).
BOOST_AUTO_TEST_CASE(a_keep_alive_client_asking_in_time_outlives_many_deadlines) {
    Config config = test_config();
    config.http_timeout = 1s;
    TestServer server(config);
    run([&]() -> awaitable<void> {
        auto client = co_await client::HttpClient::connect(server.endpoint());
        asio::steady_timer pace(co_await asio::this_coro::executor);
        // The client's pace is the scenario, not a synchronisation: a request every 200 ms for
        // 2.4 s, more than two deadlines, each request well within its own (sanitizers are slow).
        for (int i = 0; i < 12; ++i) {
            auto answer = co_await client.get("/healthz");
            BOOST_TEST(answer.status == 200u);
            pace.expires_after(200ms);
            co_await pace.async_wait(use_nothrow);
        }
    });
}

BOOST_AUTO_TEST_CASE(churn_with_concurrent_publishing_leaves_nothing_behind) {
    TestServer server;
    run([&]() -> awaitable<void> {
        constexpr int workers = 8, cycles = 250;
        bool churning = true;
        auto churn = [&](int worker) -> awaitable<void> {
            for (int cycle = 0; cycle < cycles; ++cycle) {
                std::string uid =
                    "churn" + std::to_string(worker) + "-" + std::to_string(cycle % 10);
                auto client =
                    co_await WebSocketClient::login(server.endpoint(), uid, Protocol::json);
                if (cycle % 2 == 0) {
                    co_await client.close();
                } else {
                    auto& socket = client::beast::get_lowest_layer(client.stream()).socket();
                    socket.set_option(asio::socket_base::linger(true, 0));
                    socket.close();
                }
            }
        };
        auto publish = [&]() -> awaitable<void> {
            auto publisher = co_await client::HttpClient::connect(server.endpoint());
            std::string body = json::serialize(json::object{
                {"uids", json::array{"churn0-1", "churn1-2", "churn2-3", "churn3-4", "churn4-5"}},
                {"message", "tick"}});
            while (churning) {
                auto answer = co_await publisher.post("/send", body);
                BOOST_REQUIRE_EQUAL(answer.status, 200u);
            }
        };
        auto all_churn = [&]() -> awaitable<void> {
            co_await (churn(0) && churn(1) && churn(2) && churn(3) && churn(4) && churn(5) &&
                      churn(6) && churn(7));
            churning = false;
        };
        co_await (all_churn() && publish());
        co_await wait_for_stat(server.endpoint(), "connections", 0);
        co_await wait_for_stat(server.endpoint(), "users", 0);
        auto stats = co_await get_stats(server.endpoint());
        BOOST_TEST_MESSAGE(workers * cycles << " connections churned; " << json::serialize(stats));
        co_await check_still_serving(server.endpoint());
    });
}

BOOST_AUTO_TEST_SUITE_END()
