// Delivery guarantees against the real server: offline delivery, and resume after a disconnect
// with no gap and no duplicate while publishers keep going.
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include "support/server_fixture.hpp"

using namespace herald;
using namespace herald::test;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using client::WebSocketClient;
namespace json = boost::json;

namespace {

struct Resumed {
    WebSocketClient client;
    json::object welcome;
};

// A JSON-protocol login that resumes after `seq` of `epoch` (no epoch: everything kept).
awaitable<Resumed> resume(tcp::endpoint server, std::string uid, std::optional<std::string> epoch,
                          std::uint64_t seq) {
    auto client = co_await WebSocketClient::connect(server);
    json::object since{{"seq", seq}};
    if (epoch) since["epoch"] = *epoch;
    std::string login = json::serialize(json::object{{"uid", uid}, {"v", 1}, {"since", since}});
    co_await client.send(login);
    auto welcome = json::parse(co_await client.receive()).as_object();
    // Thrown rather than asserted: this runs on the test's worker threads too, where Boost.Test
    // must not be called.
    if (welcome.at("type") != "welcome")
        throw std::runtime_error("expected a welcome: " + json::serialize(welcome));
    co_return Resumed{std::move(client), std::move(welcome)};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(history)

BOOST_AUTO_TEST_CASE(messages_sent_while_offline_arrive_at_the_next_login) {
    TestServer server;
    run([&]() -> awaitable<void> {
        // A job finished before its page opened.
        for (int progress : {50, 100}) {
            json::object body{{"uid", "job-owner"},
                              {"message", json::object{{"progress", progress}}}};
            auto answer = co_await post_send(server.endpoint(), body);
            BOOST_TEST(answer.at("delivered") == 0);
        }
        auto page = co_await resume(server.endpoint(), "job-owner", std::nullopt, 0);
        BOOST_TEST(page.welcome.at("recovered") == true);
        BOOST_TEST(page.welcome.at("seq") == 2);
        for (int seq : {1, 2}) {
            auto message = json::parse(co_await page.client.receive());
            BOOST_TEST(message.at("seq") == seq);
            BOOST_TEST(message.at("data").at("progress") == seq * 50);
        }
        // A seed-protocol client is unchanged: no history, raw text.
        auto stats = co_await get_stats(server.endpoint());
        BOOST_TEST(stats.at("history_messages") == 2);
        BOOST_TEST(stats.at("history_streams") == 1);
    });
}

BOOST_AUTO_TEST_CASE(what_history_no_longer_holds_gives_recovered_false) {
    Config config = test_config();
    config.history_size = 5;
    TestServer server(config);
    run([&]() -> awaitable<void> {
        auto first = co_await resume(server.endpoint(), "u", std::nullopt, 0);
        std::string epoch(first.welcome.at("epoch").as_string());
        co_await first.client.close();
        for (int i = 0; i < 10; ++i) {
            json::object body{{"uid", "u"}, {"message", i}};
            co_await post_send(server.endpoint(), body);
        }
        auto back = co_await resume(server.endpoint(), "u", epoch, 0);
        BOOST_TEST(back.welcome.at("recovered") == false);
        BOOST_TEST(back.welcome.at("seq") == 10);
        for (int seq = 6; seq <= 10; ++seq) {  // the five still kept are sent all the same
            auto message = json::parse(co_await back.client.receive());
            BOOST_TEST(message.at("seq") == seq);
        }
        std::optional<std::string> another_epoch = "from-another-life";
        auto stranger = co_await resume(server.endpoint(), "u", another_epoch, 3);
        BOOST_TEST(stranger.welcome.at("recovered") == false);
    });
}

BOOST_AUTO_TEST_CASE(history_stays_under_its_byte_budget_under_a_flood_of_users) {
    Config config = test_config();
    config.history_max_bytes = 64 * 1024;
    TestServer server(config);
    run([&]() -> awaitable<void> {
        auto publisher = co_await client::HttpClient::connect(server.endpoint());
        for (int batch = 0; batch < 20; ++batch) {
            json::array uids;
            for (int i = 0; i < 500; ++i)
                uids.emplace_back("flood-" + std::to_string(batch * 500 + i));
            std::string body =
                json::serialize(json::object{{"uids", uids}, {"message", std::string(200, 'f')}});
            auto answer = co_await publisher.post("/send", body);
            BOOST_REQUIRE_EQUAL(answer.status, 200u);
        }
        auto stats = co_await get_stats(server.endpoint());
        BOOST_TEST_MESSAGE("after 10,000 users: " << json::serialize(stats));
        BOOST_TEST(stats.at("history_bytes").as_int64() <= 64 * 1024);
        BOOST_TEST(stats.at("history_streams").as_int64() < 1000);
    });
}

BOOST_AUTO_TEST_CASE(resume_is_gapless_and_duplicate_free_while_publishing_goes_on) {
    Config config = test_config();
    config.history_size = 1000;
    TestServer server(config);
    constexpr int threads = 3, rounds = 8, per_round = 25;  // three users a thread
    run_on_threads(threads, [&](int t, std::vector<std::string>& failures) -> awaitable<void> {
        // Per user: a publisher that never stops, and a client that drops its connection
        // every round (clean close or reset) and resumes from the last seq it saw. Only one
        // publisher writes to a user, so its n-th message is seq n, and data says n.
        auto user = [&, t](int u) -> awaitable<void> {
            std::string uid = thread_uid(t, u);
            bool publishing = true;
            std::int64_t published = 0;
            auto publish = [&]() -> awaitable<void> {
                auto publisher = co_await client::HttpClient::connect(server.endpoint());
                while (publishing) {
                    std::string body =
                        json::serialize(json::object{{"uid", uid}, {"message", published + 1}});
                    auto answer = co_await publisher.post("/send", body);
                    if (answer.status != 200u) failures.push_back(uid + ": publish " + answer.body);
                    ++published;
                }
            };
            auto read = [&]() -> awaitable<void> {
                std::optional<std::string> epoch;
                std::int64_t last = 0;
                for (int round = 0; round <= rounds; ++round) {
                    auto resumed = co_await resume(server.endpoint(), uid, epoch,
                                                   static_cast<std::uint64_t>(last));
                    if (epoch && resumed.welcome.at("recovered") != true)
                        failures.push_back(uid + ": not recovered");
                    epoch = std::string(resumed.welcome.at("epoch").as_string());
                    // The last round drains everything the publisher sent.
                    bool draining = round == rounds;
                    if (draining) publishing = false;
                    for (int i = 0; draining ? last < published : i < per_round; ++i) {
                        auto message = json::parse(co_await resumed.client.receive());
                        std::int64_t seq = message.at("seq").as_int64();
                        if (seq != last + 1 || message.at("data") != seq)
                            failures.push_back(uid + ": after " + std::to_string(last) + " got " +
                                               json::serialize(message));
                        last = seq;
                    }
                    if (round % 2 == 0) {
                        co_await resumed.client.close();
                    } else {
                        auto& socket =
                            client::beast::get_lowest_layer(resumed.client.stream()).socket();
                        socket.set_option(asio::socket_base::linger(true, 0));
                        socket.close();
                    }
                }
            };
            co_await (publish() && read());
        };
        co_await (user(0) && user(1) && user(2));
    });
    run([&]() -> awaitable<void> {
        auto stats = co_await get_stats(server.endpoint());
        BOOST_TEST_MESSAGE("resume test: " << json::serialize(stats));
        co_await wait_for_stat(server.endpoint(), "connections", 0);
    });
}

BOOST_AUTO_TEST_SUITE_END()
