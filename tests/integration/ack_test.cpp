// Delivery receipts against the real server: JSON-protocol clients acknowledge with
// {"type":"ack","seq":N}, a publisher may wait for one (wait=ack), /presence says the last seq
// acknowledged, and the waiting publishers are bounded.
#include <optional>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include "support/server_fixture.hpp"

using namespace herald;
using namespace herald::test;
using namespace asio::experimental::awaitable_operators;
using client::WebSocketClient;
namespace json = boost::json;
namespace http = client::http;

namespace {

awaitable<json::object> get_json(tcp::endpoint server, std::string target,
                                 unsigned expected_status = 200) {
    auto answer = co_await client::http_request(server, http::verb::get, std::move(target));
    BOOST_REQUIRE_EQUAL(answer.status, expected_status);
    co_return json::parse(answer.body).as_object();
}

// Polls /presence until the user's acknowledged seq is `seq` (an ack is recorded a step after
// the frame is read, with no event a client could await); fails after a bounded number.
awaitable<void> wait_for_acked(tcp::endpoint server, std::string uid, std::int64_t seq) {
    asio::steady_timer pause(co_await asio::this_coro::executor);
    std::int64_t seen = -1;
    for (int attempt = 0; attempt < 500 && seen != seq; ++attempt) {
        auto presence = co_await get_json(server, "/presence?uid=" + uid);
        seen = presence.at("acked_seq").as_int64();
        if (seen == seq) break;
        pause.expires_after(std::chrono::milliseconds(10));
        co_await pause.async_wait(asio::use_awaitable);
    }
    BOOST_TEST(seen == seq);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(acks)

BOOST_AUTO_TEST_CASE(a_publisher_waiting_for_an_ack_is_answered_when_the_client_acks) {
    TestServer server;
    run([&]() -> awaitable<void> {
        const tcp::endpoint at = server.endpoint();
        auto before = co_await get_json(at, "/presence?uid=acker");
        BOOST_TEST(before.at("acked_seq") == 0);
        // The client connects while the publisher waits: it gets the message as a replay (or
        // live) and acknowledges it.
        std::optional<WebSocketClient> client;  // opened by receive_and_ack
        auto publishing =
            get_json(at, "/send?uid=acker&message=order%2017&wait=ack&timeout_ms=20000");
        auto receiving = receive_and_ack(at, "acker", 1, client);
        auto [answer, acked_seq] = co_await (std::move(publishing) && std::move(receiving));
        BOOST_TEST(answer.at("acked") == true);
        BOOST_TEST(answer.at("seq") == 1);
        BOOST_TEST(acked_seq == 1u);
        auto presence = co_await get_json(at, "/presence?uid=acker");
        BOOST_TEST(presence.at("acked_seq") == 1);
        BOOST_TEST(presence.at("connections") == 1);
        auto stats = co_await get_stats(at);
        BOOST_TEST(stats.at("ack_waiters") == 0);
    });
}

BOOST_AUTO_TEST_CASE(without_an_ack_the_answer_comes_at_the_timeout_and_the_message_is_kept) {
    TestServer server;
    run([&]() -> awaitable<void> {
        const tcp::endpoint at = server.endpoint();
        auto answer = co_await get_json(at, "/send?uid=away&message=m&wait=ack&timeout_ms=100");
        BOOST_TEST(answer.at("acked") == false);
        BOOST_TEST(answer.at("seq") == 1);
        auto stats = co_await get_stats(at);
        BOOST_TEST(stats.at("history_messages") == 1);  // stored, for the replay
        BOOST_TEST(stats.at("ack_waiters") == 0);
    });
}

BOOST_AUTO_TEST_CASE(timeout_ms_is_clamped_to_max_ack_wait) {
    Config config = test_config();
    config.max_ack_wait = std::chrono::milliseconds(100);
    TestServer server(config);
    run([&]() -> awaitable<void> {
        // An hour asked for, 100 ms given: the test's own bound would fail it otherwise.
        auto answer = co_await get_json(server.endpoint(),
                                        "/send?uid=away&message=m&wait=ack&timeout_ms=3600000");
        BOOST_TEST(answer.at("acked") == false);
    });
}

BOOST_AUTO_TEST_CASE(a_list_says_which_users_acknowledged) {
    TestServer server;
    run([&]() -> awaitable<void> {
        const tcp::endpoint at = server.endpoint();
        auto answer = co_await post_send(
            at,
            json::parse(R"({"uids":["here","away"],"message":"m","wait":"ack","timeout_ms":300})"));
        // Nobody acknowledged in time.
        BOOST_TEST(answer.at("acked") == false);
        BOOST_TEST(answer.at("acked_uids") == json::array());
        // "here" acknowledges the next one; "away" never connects.
        std::optional<WebSocketClient> client;  // opened by receive_and_ack
        auto publishing = post_send(
            at, json::parse(
                    R"({"uids":["here","away"],"message":"n","wait":"ack","timeout_ms":1000})"));
        auto receiving = receive_and_ack(at, "here", 2, client);
        auto [second, acked_seq] = co_await (std::move(publishing) && std::move(receiving));
        BOOST_TEST(acked_seq == 2u);
        BOOST_TEST(second.at("acked") == false);
        BOOST_TEST(second.at("acked_uids") == json::parse(R"(["here"])"));
        BOOST_TEST(second.at("seqs") == json::parse(R"({"here":2,"away":2})"));
    });
}

BOOST_AUTO_TEST_CASE(an_ack_moves_only_up_and_never_past_what_was_published) {
    TestServer server;
    run([&]() -> awaitable<void> {
        const tcp::endpoint at = server.endpoint();
        std::optional<WebSocketClient> client;  // opened by receive_and_ack
        for (int i = 0; i < 3; ++i)
            co_await post_send(at, json::parse(R"({"uid":"u","message":"m"})"));
        std::uint64_t acked = co_await receive_and_ack(at, "u", 3, client);
        BOOST_TEST(acked == 3u);
        co_await wait_for_acked(at, "u", 3);
        co_await client->send(R"({"type":"ack","seq":99})");  // beyond the stream: ignored
        co_await client->send(R"({"type":"ack","seq":1})");   // cumulative: nothing new
        co_await client->send(R"({"type":"ack"})");           // unreadable: ignored
        // Then a fourth message and its ack: read after those, so once the acknowledged seq is
        // 4 they were all handled (an ack of 99 taken would have left it at 99).
        co_await post_send(at, json::parse(R"({"uid":"u","message":"m"})"));
        auto fourth = json::parse(co_await client->receive());
        BOOST_TEST(fourth.at("seq") == 4);
        co_await client->send(R"({"type":"ack","seq":4})");
        co_await wait_for_acked(at, "u", 4);
        auto presence = co_await get_json(at, "/presence?uid=u");
        BOOST_TEST(presence.at("connections") == 1);  // not closed for the bad ones
    });
}

BOOST_AUTO_TEST_CASE(over_max_ack_waiters_a_publish_is_refused_before_it_is_stored) {
    Config config = test_config();
    config.max_ack_waiters = 1;
    TestServer server(config);
    run([&]() -> awaitable<void> {
        const tcp::endpoint at = server.endpoint();
        auto waiting = get_json(at, "/send?uid=first&message=m&wait=ack&timeout_ms=1000");
        auto refused = [&]() -> awaitable<json::object> {
            co_await wait_for_stat(at, "ack_waiters", 1);
            auto answer = co_await client::http_request(
                at, http::verb::get, "/send?uid=second&message=m&wait=ack&timeout_ms=2000");
            BOOST_TEST(answer.status == 503u);
            BOOST_TEST(answer.headers[http::field::retry_after] == "1");
            co_return json::parse(answer.body).as_object();
        };
        auto [first, second] = co_await (std::move(waiting) && refused());
        BOOST_TEST(first.at("acked") == false);
        BOOST_TEST(second.at("error") == "too many publishers wait for an ack");
        // Nothing was stored for the refused one: the next message is its user's first.
        auto next = co_await get_json(at, "/send?uid=second&message=m");
        BOOST_TEST(next.at("seq") == 1);
    });
}

BOOST_AUTO_TEST_CASE(bad_wait_parameters_are_400) {
    TestServer server;
    run([&]() -> awaitable<void> {
        const tcp::endpoint at = server.endpoint();
        auto bad_wait = co_await get_json(at, "/send?uid=u&message=m&wait=read", 400);
        BOOST_TEST(bad_wait.at("error") == "wait must be \"ack\"");
        auto bad_timeout =
            co_await get_json(at, "/send?uid=u&message=m&wait=ack&timeout_ms=5s", 400);
        BOOST_TEST(bad_timeout.at("error") == "timeout_ms must be a whole number of milliseconds");
        auto lone_timeout = co_await get_json(at, "/send?uid=u&message=m&timeout_ms=5", 400);
        BOOST_TEST(lone_timeout.at("error") == "timeout_ms needs wait=ack");
        auto body = co_await post_send(
            at, json::parse(R"({"uid":"u","message":"m","wait":"ack","timeout_ms":-1})"), 400);
        BOOST_TEST(body.at("error") == "timeout_ms must be a whole number of milliseconds");
        auto stats = co_await get_stats(at);
        BOOST_TEST(stats.at("messages_published") == 0);
    });
}

BOOST_AUTO_TEST_SUITE_END()
