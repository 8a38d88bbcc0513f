// The WebSocket side against the real server: logins, delivery, disconnects, limits, shutdown.
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
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
using client::WebSocketClient;
using namespace asio::experimental::awaitable_operators;
namespace json = boost::json;
namespace websocket = client::websocket;

namespace {

std::string login_frame(std::string_view uid) {
    return json::serialize(json::object{{"uid", uid}});
}

}  // namespace

BOOST_AUTO_TEST_SUITE(websocket_sessions)

BOOST_AUTO_TEST_CASE(seed_flow_delivers_hello_world_as_a_text_frame) {
    TestServer server;
    run([&]() -> awaitable<void> {
        auto browser = co_await WebSocketClient::connect(server.endpoint(), "/ws");
        co_await browser.send(R"({"uid":"123"})");
        // curl "http://localhost:8181/send?uid=123&message=Hello%20World", once it is delivered.
        co_await send_until_delivered(server.endpoint(), "123", "Hello World");
        auto frame = co_await browser.read();
        BOOST_REQUIRE(!frame.error);
        BOOST_TEST(!frame.binary);
        BOOST_TEST(frame.data == "Hello World");
    });
}

BOOST_AUTO_TEST_CASE(json_protocol_welcomes_and_wraps_messages) {
    TestServer server;
    run([&]() -> awaitable<void> {
        auto app = co_await WebSocketClient::connect(server.endpoint());
        co_await app.send(R"({"uid":"42","v":1})");
        auto welcome = co_await app.receive();
        auto greeting = json::parse(welcome).as_object();
        BOOST_TEST(greeting.at("type") == "welcome");
        BOOST_TEST(greeting.at("uid") == "42");
        BOOST_TEST(greeting.at("seq") == 0);
        BOOST_TEST(!greeting.at("epoch").as_string().empty());

        auto answer = co_await post_send(server.endpoint(),
                                         json::parse(R"({"uid":"42","message":{"progress":30}})"));
        BOOST_TEST(answer.at("delivered").as_int64() == 1);
        auto envelope = co_await app.receive();
        BOOST_TEST(without_time(envelope) ==
                   json::parse(R"({"type":"message","seq":1,"data":{"progress":30}})"));
        co_await post_send(server.endpoint(), json::parse(R"({"uid":"42","message":"plain"})"));
        auto plain = co_await app.receive();
        BOOST_TEST(without_time(plain) ==
                   json::parse(R"({"type":"message","seq":2,"data":"plain"})"));
    });
}

BOOST_AUTO_TEST_CASE(every_connection_of_a_user_receives_each_message) {
    TestServer server;
    run([&]() -> awaitable<void> {
        // The seed-protocol tab first: it has no welcome, so it is known to be registered once a
        // message reaches it. The JSON-protocol tabs are registered when their welcome arrives.
        auto seed_tab = co_await WebSocketClient::connect(server.endpoint());
        co_await seed_tab.send(login_frame("7"));
        co_await send_until_delivered(server.endpoint(), "7", "ready");
        auto seed_ready = co_await seed_tab.receive();
        BOOST_TEST(seed_ready == "ready");
        std::vector<WebSocketClient> tabs;
        for (int i = 0; i < 3; ++i)
            tabs.push_back(co_await WebSocketClient::login(server.endpoint(), "7", Protocol::json));

        auto answer = co_await post_send(server.endpoint(),
                                         json::parse(R"({"uid":"7","message":"to all tabs"})"));
        BOOST_TEST(answer.at("delivered").as_int64() == 4);
        for (auto& tab : tabs) {
            auto to_all = co_await tab.receive();
            BOOST_TEST(json::parse(to_all).at("data") == "to all tabs");
        }
        auto seed_to_all = co_await seed_tab.receive();
        BOOST_TEST(seed_to_all == "to all tabs");

        auto stats = co_await get_stats(server.endpoint());
        BOOST_TEST(stats.at("connections").as_int64() == 4);
        BOOST_TEST(stats.at("users").as_int64() == 1);
    });
}

BOOST_AUTO_TEST_CASE(one_thread_runs_connections_without_strands) {
    // With --threads 1 the connections run on the io_context itself, not on strands of their
    // own: the same flows must hold.
    Config config = test_config();
    config.threads = 1;
    TestServer server(config);
    run([&]() -> awaitable<void> {
        auto seed_tab = co_await WebSocketClient::connect(server.endpoint());
        co_await seed_tab.send(login_frame("1"));
        co_await send_until_delivered(server.endpoint(), "1", "ready");
        auto ready = co_await seed_tab.receive();
        BOOST_TEST(ready == "ready");
        auto app = co_await WebSocketClient::login(server.endpoint(), "1", Protocol::json);

        auto answer =
            co_await post_send(server.endpoint(), json::parse(R"({"uid":"1","message":"both"})"));
        BOOST_TEST(answer.at("delivered").as_int64() == 2);
        auto to_seed_tab = co_await seed_tab.receive();
        auto to_app = co_await app.receive();
        BOOST_TEST(to_seed_tab == "both");
        BOOST_TEST(json::parse(to_app).at("data") == "both");

        co_await app.close();
        co_await wait_for_stat(server.endpoint(), "connections", 1);
        answer =
            co_await post_send(server.endpoint(), json::parse(R"({"uid":"1","message":"one"})"));
        BOOST_TEST(answer.at("delivered").as_int64() == 1);
        auto after_close = co_await seed_tab.receive();
        BOOST_TEST(after_close == "one");
    });
}

BOOST_AUTO_TEST_CASE(disconnects_of_every_kind_leave_the_hub) {
    TestServer server;
    run([&]() -> awaitable<void> {
        auto closing = co_await WebSocketClient::login(server.endpoint(), "a", Protocol::json);
        auto resetting = co_await WebSocketClient::login(server.endpoint(), "b", Protocol::json);
        auto vanishing = co_await WebSocketClient::login(server.endpoint(), "c", Protocol::json);
        co_await wait_for_stat(server.endpoint(), "connections", 3);

        co_await closing.close();  // a close handshake
        auto& reset_socket = client::beast::get_lowest_layer(resetting.stream()).socket();
        reset_socket.set_option(asio::socket_base::linger(true, 0));
        reset_socket.close();  // a TCP reset
        client::beast::get_lowest_layer(vanishing.stream())
            .socket()
            .shutdown(tcp::socket::shutdown_both);
        co_await wait_for_stat(server.endpoint(), "connections", 0);
        co_await wait_for_stat(server.endpoint(), "users", 0);
        auto answer = co_await post_send(server.endpoint(),
                                         json::parse(R"({"uids":["a","b","c"],"message":"x"})"));
        BOOST_TEST(answer.at("delivered").as_int64() == 0);
    });
}

BOOST_AUTO_TEST_CASE(bad_logins_are_closed_with_1008_and_a_reason) {
    TestServer server;
    run([&]() -> awaitable<void> {
        struct Case {
            std::string frame;
            std::string_view reason;
        };
        const Case cases[] = {
            {"{not json", "login is not valid JSON"},
            {R"({"user":"1"})", "uid is missing"},
            {R"({"uid":""})", "uid is empty"},
            {R"({"uid":42})", "uid must be a string"},
            {login_frame(std::string(129, 'x')), "uid is longer than 128 bytes"},
            {R"({"uid":"a\u0007"})", "uid has control characters"},
        };
        for (const auto& each : cases) {
            auto client = co_await WebSocketClient::connect(server.endpoint());
            co_await client.send(each.frame);
            auto reason = co_await client.wait_for_close();
            BOOST_TEST(reason.code == 1008);
            BOOST_TEST(std::string_view(reason.reason.data(), reason.reason.size()) == each.reason);
        }
        auto binary = co_await WebSocketClient::connect(server.endpoint());
        co_await binary.send_binary(login_frame("1"));
        auto reason = co_await binary.wait_for_close();
        BOOST_TEST(reason.code == 1008);
        BOOST_TEST(std::string_view(reason.reason.data(), reason.reason.size()) ==
                   "login must be a text frame");

        // Everyone else is still served.
        auto good = co_await WebSocketClient::login(server.endpoint(), "good", Protocol::json);
        co_await post_send(server.endpoint(), json::parse(R"({"uid":"good","message":"fine"})"));
        auto fine = co_await good.receive();
        BOOST_TEST(json::parse(fine).at("data") == "fine");
        auto stats = co_await get_stats(server.endpoint());
        BOOST_TEST(stats.at("connections").as_int64() == 1);
    });
}

BOOST_AUTO_TEST_CASE(an_oversized_frame_is_closed_with_1009) {
    Config config = test_config();
    config.max_message_size = 1024;
    TestServer server(config);
    run([&]() -> awaitable<void> {
        auto at_login = co_await WebSocketClient::connect(server.endpoint());
        co_await at_login.send(login_frame(std::string(100, 'x')) + std::string(2000, ' '));
        auto at_login_close = co_await at_login.wait_for_close();
        BOOST_TEST(at_login_close.code == 1009);

        auto later = co_await WebSocketClient::login(server.endpoint(), "big", Protocol::json);
        co_await later.send(std::string(1000, 'y'));  // under the limit: read and ignored
        co_await later.send(std::string(1025, 'y'));
        auto later_close = co_await later.wait_for_close();
        BOOST_TEST(later_close.code == 1009);
        co_await wait_for_stat(server.endpoint(), "connections", 0);
    });
}

BOOST_AUTO_TEST_CASE(no_login_within_the_timeout_is_closed_with_1008) {
    Config config = test_config();
    config.login_timeout = 200ms;
    TestServer server(config);
    run([&]() -> awaitable<void> {
        auto idle = co_await WebSocketClient::connect(server.endpoint());
        auto reason = co_await idle.wait_for_close();
        BOOST_TEST(reason.code == 1008);
        BOOST_TEST(std::string_view(reason.reason.data(), reason.reason.size()) == "login timeout");
    });
}

BOOST_AUTO_TEST_CASE(a_slow_consumer_is_closed_while_others_receive_everything) {
    Config config = test_config();
    config.send_queue = 8;
    config.send_queue_bytes = 256 * 1024;
    TestServer server(config);
    run([&]() -> awaitable<void> {
        auto slow = co_await WebSocketClient::login(server.endpoint(), "slow", Protocol::json);
        auto fast = co_await WebSocketClient::login(server.endpoint(), "fast", Protocol::json);
        auto publisher = co_await client::HttpClient::connect(server.endpoint());
        std::string body = json::serialize(json::object{{"uids", json::array{"slow", "fast"}},
                                                        {"message", std::string(60 * 1024, 'm')}});
        // `slow` never reads, so its socket buffers fill up, then its outbox, and the hub closes
        // it.
        int published = 0;
        for (bool slow_closed = false; !slow_closed; ++published) {
            BOOST_REQUIRE_LT(published, 5000);
            auto answer = co_await publisher.post("/send", body);
            BOOST_REQUIRE_EQUAL(answer.status, 200u);
            slow_closed = json::parse(answer.body).at("delivered").as_int64() == 1;
            auto copy = co_await fast.receive();
            BOOST_TEST(json::parse(copy).at("data").as_string().size() == 60u * 1024);
        }
        auto stats = co_await get_stats(server.endpoint());
        BOOST_TEST(stats.at("slow_consumer_disconnects").as_int64() == 1);
        BOOST_TEST(stats.at("connections").as_int64() == 1);

        // Once it reads again it finds what was already on its way, then the reason.
        auto reason = co_await slow.wait_for_close();
        BOOST_TEST(reason.code == 1008);
        BOOST_TEST(std::string_view(reason.reason.data(), reason.reason.size()) == "slow consumer");
        BOOST_TEST_MESSAGE("slow consumer closed after " << published << " messages of 60 KiB");
    });
}

BOOST_AUTO_TEST_CASE(pings_keep_a_connection_and_silence_closes_it) {
    Config config = test_config();
    config.ping_interval = 100ms;
    config.pong_timeout = 100ms;
    config.close_timeout = 200ms;
    TestServer server(config);
    run([&]() -> awaitable<void> {
        auto answering =
            co_await WebSocketClient::login(server.endpoint(), "answering", Protocol::json);
        int pings = 0;
        answering.stream().control_callback([&pings](websocket::frame_type kind, auto) {
            if (kind == websocket::frame_type::ping) ++pings;
        });

        // Beast answers pings by itself while it reads, so this one keeps reading until the
        // message that the other side publishes once the silent client is gone.
        auto keep_answering = [&]() -> awaitable<void> {
            for (;;) {
                auto message = json::parse(co_await answering.receive());
                if (message.at("type") == "message") {
                    BOOST_TEST(message.at("data") == "alive");
                    co_return;
                }
            }
        };
        // The raw client logs in and never answers.
        auto stay_silent = [&]() -> awaitable<void> {
            auto silent = co_await raw_websocket(server.endpoint());
            co_await asio::async_write(silent,
                                       asio::buffer(client_text_frame(login_frame("silent"))),
                                       asio::use_awaitable);
            std::vector<unsigned> opcodes;
            std::optional<RawServerFrame> close;
            while (auto frame = co_await read_raw_frame(silent)) {
                opcodes.push_back(frame->opcode);
                if (frame->opcode == 0x8) close = frame;
            }
            BOOST_REQUIRE(close.has_value());
            BOOST_TEST(opcodes.front() == 0x9u);  // pinged first
            BOOST_TEST(close->close_code() == 1008u);
            BOOST_TEST(close->close_reason() == "pong timeout");
            co_await post_send(server.endpoint(),
                               json::parse(R"({"uid":"answering","message":"alive"})"));
        };
        co_await (keep_answering() && stay_silent());

        BOOST_TEST(pings >= 2);  // pinged all along, and still registered
        co_await wait_for_stat(server.endpoint(), "connections", 1);
    });
}

BOOST_AUTO_TEST_CASE(shutdown_flushes_and_closes_every_websocket_with_1001) {
    TestServer server;
    run([&]() -> awaitable<void> {
        auto seed = co_await WebSocketClient::connect(server.endpoint());
        co_await seed.send(login_frame("s"));
        co_await send_until_delivered(server.endpoint(), "s", "probe");
        auto app = co_await WebSocketClient::login(server.endpoint(), "j", Protocol::json);
        auto anonymous = co_await WebSocketClient::connect(server.endpoint());  // never logs in
        co_await post_send(server.endpoint(),
                           json::parse(R"({"uids":["s","j"],"message":"last words"})"));
        co_await wait_for_stat(server.endpoint(), "messages_delivered", 3);

        server.server().stop();

        auto probe = co_await seed.receive();
        BOOST_TEST(probe == "probe");
        auto last_words = co_await seed.receive();
        BOOST_TEST(last_words == "last words");  // queued before the stop: not lost
        auto seed_close = co_await seed.wait_for_close();
        BOOST_TEST(seed_close.code == 1001);
        auto app_last_words = co_await app.receive();
        BOOST_TEST(json::parse(app_last_words).at("data") == "last words");
        auto app_close = co_await app.wait_for_close();
        BOOST_TEST(app_close.code == 1001);
        auto anonymous_close = co_await anonymous.wait_for_close();
        BOOST_TEST(anonymous_close.code == 1001);
    });
    auto started = std::chrono::steady_clock::now();
    server.stop();  // returns once every server thread has finished
    BOOST_TEST_MESSAGE("server threads finished "
                       << (std::chrono::steady_clock::now() - started) / 1ms
                       << " ms after the clients saw their close");
}

BOOST_AUTO_TEST_CASE(many_clients_on_several_threads_receive_all_their_messages_in_order) {
    TestServer server;
    constexpr int threads = 4, users_per_thread = 25, messages_per_user = 40;
    run_on_threads(threads, [&](int t, std::vector<std::string>& failures) -> awaitable<void> {
        std::vector<WebSocketClient> clients;
        for (int u = 0; u < users_per_thread; ++u) {
            std::string uid = thread_uid(t, u);
            clients.push_back(
                co_await WebSocketClient::login(server.endpoint(), uid, Protocol::json));
        }
        auto publisher = co_await client::HttpClient::connect(server.endpoint());
        for (int m = 0; m < messages_per_user; ++m) {
            for (int u = 0; u < users_per_thread; ++u) {
                json::object body{{"uid", thread_uid(t, u)}, {"message", m}};
                auto answer = co_await publisher.post("/send", json::serialize(body));
                if (delivered_of(answer.body) != 1)
                    failures.push_back("publish answered " + answer.body);
            }
        }
        for (int u = 0; u < users_per_thread; ++u)
            for (int m = 0; m < messages_per_user; ++m) {
                auto message = json::parse(co_await clients[u].receive());
                if (message.at("data") != m) {
                    std::string failure = "user ";
                    failure += std::to_string(u);
                    failure += " expected ";
                    failure += std::to_string(m);
                    failure += ", got ";
                    failure += json::serialize(message);
                    failures.push_back(failure);
                }
            }
    });
    run([&]() -> awaitable<void> {
        auto stats = co_await get_stats(server.endpoint());
        BOOST_TEST(stats.at("messages_delivered").as_int64() ==
                   threads * users_per_thread * messages_per_user);
    });
}

BOOST_AUTO_TEST_SUITE_END()
