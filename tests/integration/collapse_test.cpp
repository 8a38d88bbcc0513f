// Progress that collapses, against the real server: a message with a key replaces the one with
// the same key that a connection has not been sent yet and the one history keeps, so a job's
// flood of progress never makes a slow phone a slow consumer, and a page opened later gets the
// last state.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include "support/server_fixture.hpp"

using namespace herald;
using namespace herald::test;
using client::WebSocketClient;
namespace json = boost::json;

namespace {

constexpr int flood = 10'000;
// 2 KiB each: 20 MB in all, more than loopback's socket buffers hold, so a client that does not
// read makes the server queue in its outbox.
constexpr std::size_t pad = 2048;

// A JSON-protocol login (after `seq` of `epoch` when there is one); returns the welcome.
awaitable<json::object> log_in(WebSocketClient& client, std::string uid,
                               std::optional<std::string> epoch = std::nullopt,
                               std::optional<std::uint64_t> seq = std::nullopt) {
    json::object login{{"uid", uid}, {"v", 1}};
    if (seq) {
        json::object since{{"seq", *seq}};
        if (epoch) since["epoch"] = *epoch;
        login["since"] = since;
    }
    std::string text = json::serialize(login);
    co_await client.send(text);
    auto welcome = json::parse(co_await client.receive()).as_object();
    if (welcome.at("type") != "welcome")
        throw std::runtime_error("expected a welcome: " + json::serialize(welcome));
    co_return welcome;
}

Config small_outbox() {
    Config config = test_config();
    config.send_queue = 4;
    // The phone reads only once the whole flood is published, which takes longer than the
    // default 5 s under the sanitizers: its slow-consumer close must wait for it, not be aborted.
    config.close_timeout = std::chrono::seconds(60);
    return config;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(collapse)

BOOST_AUTO_TEST_CASE(a_keyed_flood_to_a_client_that_does_not_read_never_makes_it_slow) {
    TestServer server(small_outbox());
    run([&]() -> awaitable<void> {
        auto phone = co_await WebSocketClient::connect(server.endpoint());
        co_await log_in(phone, "phone");
        std::uint64_t last_seq =
            co_await publish_progress(server.endpoint(), "phone", flood, "job", pad);
        BOOST_TEST(last_seq == static_cast<std::uint64_t>(flood));  // seqs still grow

        // History keeps the latest only.
        auto stats = co_await get_stats(server.endpoint());
        BOOST_TEST(stats.at("history_messages") == 1);
        BOOST_TEST(stats.at("slow_consumer_disconnects") == 0);

        // The phone reads at last: what its socket held, then the latest, in seq order.
        auto read = co_await read_progress_until(phone, flood - 1);
        BOOST_TEST_MESSAGE("the phone read " << read.size() << " of " << flood);
        BOOST_TEST(read.size() < static_cast<std::size_t>(flood));  // some collapsed
        for (std::size_t i = 1; i < read.size(); ++i)
            BOOST_TEST(read[i].at("seq").as_int64() > read[i - 1].at("seq").as_int64());
        BOOST_TEST(read.back().at("seq") == flood);
        BOOST_TEST(read.back().at("key") == "job");

        // A page opened after the job finished gets its last state, not 10,000 steps.
        auto page = co_await WebSocketClient::connect(server.endpoint());
        auto welcome = co_await log_in(page, "phone", std::nullopt, 0);
        BOOST_TEST(welcome.at("recovered") == true);
        BOOST_TEST(welcome.at("seq") == flood);
        auto last = json::parse(co_await page.receive());
        BOOST_TEST(last.at("seq") == flood);
        BOOST_TEST(last.at("data").at("progress") == flood - 1);
    });
}

// The control: the same flood without a key is more than the outbox holds.
BOOST_AUTO_TEST_CASE(the_same_flood_without_a_key_makes_it_a_slow_consumer) {
    TestServer server(small_outbox());
    run([&]() -> awaitable<void> {
        auto phone = co_await WebSocketClient::connect(server.endpoint());
        co_await log_in(phone, "phone");
        co_await publish_progress(server.endpoint(), "phone", flood, std::nullopt, pad);
        auto reason = co_await phone.wait_for_close();
        BOOST_TEST(std::string_view(reason.reason.data(), reason.reason.size()) == "slow consumer");
    });
}

BOOST_AUTO_TEST_CASE(a_replay_over_collapsed_messages_skips_their_seqs_and_is_recovered) {
    TestServer server;
    run([&]() -> awaitable<void> {
        auto first = co_await WebSocketClient::connect(server.endpoint());
        auto welcome = co_await log_in(first, "resumer");
        std::string epoch(welcome.at("epoch").as_string());
        co_await first.close();
        // seq 1 key a, 2 no key, 3 key a, 4 key b, 5 key b: kept are 2, 3 and 5.
        const std::vector<std::optional<std::string>> keys{"a", std::nullopt, "a", "b", "b"};
        for (std::size_t i = 0; i < keys.size(); ++i) {
            json::object body{{"uid", "resumer"}, {"message", static_cast<int>(i + 1)}};
            if (keys[i]) body["key"] = *keys[i];
            co_await post_send(server.endpoint(), body);
        }
        auto back = co_await WebSocketClient::connect(server.endpoint());
        auto resumed = co_await log_in(back, "resumer", epoch, 0);
        BOOST_TEST(resumed.at("recovered") == true);
        BOOST_TEST(resumed.at("seq") == 5);
        const std::vector<int> kept{2, 3, 5};
        for (int seq : kept) {
            auto message = json::parse(co_await back.receive()).as_object();
            BOOST_TEST(message.at("seq") == seq);
            BOOST_TEST(message.at("data") == seq);
            if (seq == 2)
                BOOST_TEST(!message.contains("key"));
            else
                BOOST_TEST(message.at("key") == (seq == 3 ? "a" : "b"));
        }
        // From the middle of a hole: 1 was replaced by 3, so nothing is missing after it.
        auto again = co_await WebSocketClient::connect(server.endpoint());
        auto from_one = co_await log_in(again, "resumer", epoch, 1);
        BOOST_TEST(from_one.at("recovered") == true);
        auto next = json::parse(co_await again.receive());
        BOOST_TEST(next.at("seq") == 2);
    });
}

BOOST_AUTO_TEST_CASE(a_key_is_checked_like_a_uid) {
    TestServer server;
    run([&]() -> awaitable<void> {
        auto empty = co_await client::http_request(server.endpoint(), client::http::verb::get,
                                                   "/send?uid=u&message=m&key=");
        BOOST_TEST(empty.status == 400u);
        BOOST_TEST(json::parse(empty.body).at("error") == "key is empty");
        // Named first: g++ 12 cannot take a braced list inside a co_await expression.
        json::object too_long{{"uid", "u"}, {"message", 1}, {"key", std::string(129, 'k')}};
        auto long_key = co_await post_send(server.endpoint(), too_long, 400);
        BOOST_TEST(long_key.at("error") == "key is longer than 128 bytes");
        auto control = co_await client::http_request(server.endpoint(), client::http::verb::get,
                                                     "/send?uid=u&message=m&key=a%0Ab");
        BOOST_TEST(control.status == 400u);
        auto keyed = co_await client::http_request(server.endpoint(), client::http::verb::get,
                                                   "/send?uid=u&message=m&key=job%207");
        BOOST_TEST(keyed.status == 200u);
    });
}

BOOST_AUTO_TEST_SUITE_END()
