// Several Herald nodes on one real Redis behave as one: a publish on any node reaches the user's
// connections on every node, a client resumes on another node with no gap and no duplicate, and
// a retry with the same Idempotency-Key publishes once.
#include <array>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include "herald/cluster/keys.hpp"
#include "support/cluster.hpp"
#include "support/event_stream.hpp"

using namespace herald;
using namespace herald::test;
using client::WebSocketClient;
namespace json = boost::json;
namespace http = client::http;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

namespace {

std::vector<std::uint64_t> seqs_of(const StreamReader& reader) {
    std::vector<std::uint64_t> seqs;
    for (const auto& message : reader.messages())
        seqs.push_back(message.seq);
    return seqs;
}

// A node's presence count of a user, "count:expiry_ms" in the user's presence hash (the one
// node here): the expiry, by Redis's clock.
std::int64_t presence_expiry(const RedisServer& redis, const std::string& uid) {
    auto fields = redis.command({"HGETALL", herald::cluster::user_keys(uid).presence});
    BOOST_REQUIRE(fields.has_value());
    BOOST_REQUIRE_EQUAL(fields->elements.size(), 2u);
    const std::string& value = fields->elements[1].text;
    BOOST_REQUIRE_EQUAL(value.substr(0, 2), "1:");
    return std::stoll(value.substr(2));
}

std::int64_t redis_now_ms(const RedisServer& redis) {
    auto time = redis.command({"TIME"});
    BOOST_REQUIRE(time.has_value());
    BOOST_REQUIRE_EQUAL(time->elements.size(), 2u);
    return std::stoll(time->elements[0].text) * 1000 + std::stoll(time->elements[1].text) / 1000;
}

std::vector<std::uint64_t> one_to(std::uint64_t last) {
    std::vector<std::uint64_t> seqs;
    for (std::uint64_t seq = 1; seq <= last; ++seq)
        seqs.push_back(seq);
    return seqs;
}

awaitable<std::uint64_t> publish_seq(tcp::endpoint node, std::string uid, json::value message) {
    auto answer = co_await publish(node, std::move(uid), std::move(message));
    BOOST_REQUIRE_EQUAL(answer.status, 200u);
    co_return json::parse(answer.body).at("seq").to_number<std::uint64_t>();
}

awaitable<void> wait_for_nodes(tcp::endpoint node, std::int64_t expected) {
    asio::steady_timer pause(co_await asio::this_coro::executor);
    std::int64_t seen = 0;
    for (int attempt = 0; attempt < 500; ++attempt) {
        auto stats = co_await get_stats(node);
        seen = stats.at("nodes").to_number<std::int64_t>();
        if (seen == expected) co_return;
        pause.expires_after(20ms);
        co_await pause.async_wait(asio::use_awaitable);
    }
    BOOST_FAIL("/stats nodes stayed at " << seen << ", expected " << expected);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster)

BOOST_AUTO_TEST_CASE(a_message_published_on_one_node_reaches_the_users_connections_on_the_others) {
    TestCluster cluster({.nodes = 3});
    run([&]() -> awaitable<void> {
        for (std::size_t i = 0; i < cluster.size(); ++i)
            co_await wait_until_serving(cluster.node(i));
        // The JSON protocol: the welcome comes once the node's subscription is confirmed.
        StreamReader on_b("u"), on_c("u");
        bool joined_b = co_await on_b.join(cluster.node(1));
        bool joined_c = co_await on_c.join(cluster.node(2));
        BOOST_REQUIRE(joined_b && joined_c);
        json::value order = json::parse(R"({"order":17})");
        auto answer = co_await publish(cluster.node(0), "u", order);
        BOOST_TEST(answer.status == 200u);
        BOOST_TEST(json::parse(answer.body) == json::parse(R"({"delivered":2,"seq":1})"));
        bool got_b = co_await on_b.read(1);
        bool got_c = co_await on_c.read(1);
        BOOST_REQUIRE(got_b && got_c);
        BOOST_TEST(on_b.messages().front().data == json::parse(R"({"order":17})"));
        BOOST_TEST(on_c.messages().front().seq == 1u);

        // The seed's demo across nodes: a seed-mode login on B, a GET /send on A.
        auto browser = co_await WebSocketClient::connect(cluster.node(1));
        co_await browser.send(R"({"uid":"123"})");
        co_await send_until_delivered(cluster.node(0), "123", "probe");
        auto probe = co_await browser.receive();
        BOOST_TEST(probe == "probe");
        auto hello = co_await client::http_request(cluster.node(0), http::verb::get,
                                                   "/send?uid=123&message=Hello%20World");
        BOOST_TEST(delivered_of(hello.body) == 1);
        auto received = co_await browser.receive();
        BOOST_TEST(received == "Hello World");

        auto presence =
            co_await client::http_request(cluster.node(2), http::verb::get, "/presence?uid=u");
        BOOST_TEST(json::parse(presence.body) ==
                   json::parse(R"({"uid":"u","connections":2,"acked_seq":0})"));
        co_await wait_for_nodes(cluster.node(0), 3);
        auto stats = co_await get_stats(cluster.node(0));
        BOOST_TEST(stats.at("node") == "node0");
    });
}

// Logins beyond --redis-max-joins wait for a slot (here: one) and are then served: each slot is
// given back, and none is lost to a login that finished.
BOOST_AUTO_TEST_CASE(logins_beyond_the_join_limit_wait_their_turn_and_are_all_served) {
    TestCluster cluster({.nodes = 2, .adjust = [](Config& config) { config.redis_max_joins = 1; }});
    run([&]() -> awaitable<void> {
        co_await wait_until_serving(cluster.node(0));
        co_await wait_until_serving(cluster.node(1));
        StreamReader a("queued a"), b("queued b"), c("queued c"), d("queued d");
        auto [joined_a, joined_b, joined_c, joined_d] =
            co_await (a.join(cluster.node(0)) && b.join(cluster.node(0)) &&
                      c.join(cluster.node(0)) && d.join(cluster.node(0)));
        BOOST_REQUIRE(joined_a && joined_b && joined_c && joined_d);
        // A std::array, not a braced list: g++ 12 cannot keep one in a coroutine's frame.
        const std::array<StreamReader*, 4> readers{&a, &b, &c, &d};
        for (StreamReader* reader : readers) {
            auto answer = co_await publish(cluster.node(1), reader->uid(), "for you");
            BOOST_TEST(answer.status == 200u);
            bool got = co_await reader->read(1);
            BOOST_TEST(got);
        }
        StreamReader late("queued late");  // after them: the slot came back every time
        bool joined_late = co_await late.join(cluster.node(0));
        BOOST_TEST(joined_late);
    });
}

BOOST_AUTO_TEST_CASE(a_client_resumes_on_another_node_with_no_gap_and_no_duplicate) {
    TestCluster cluster({.nodes = 2});
    run([&]() -> awaitable<void> {
        co_await wait_until_serving(cluster.node(0));
        co_await wait_until_serving(cluster.node(1));
        StreamReader reader("r");
        bool joined = co_await reader.join(cluster.node(0));
        BOOST_REQUIRE(joined);
        for (int i = 0; i < 5; ++i)
            co_await publish_seq(cluster.node(1), "r", json::value(i));
        bool first = co_await reader.read(5);
        BOOST_REQUIRE(first);
        co_await reader.leave();
        for (int i = 5; i < 8; ++i)
            co_await publish_seq(cluster.node(0), "r", json::value(i));  // missed
        bool back = co_await reader.join(cluster.node(1));
        BOOST_REQUIRE(back);
        BOOST_TEST((reader.recoveries().back() == std::optional<bool>(true)));
        bool replayed = co_await reader.read(3);
        BOOST_REQUIRE(replayed);
        co_await publish_seq(cluster.node(0), "r", json::value(8));  // live again
        bool live = co_await reader.read(1);
        BOOST_REQUIRE(live);
        BOOST_TEST(seqs_of(reader) == one_to(9), boost::test_tools::per_element());
    });
}

// A burst published on both nodes while the client hops between them: every message answered
// 200 reaches it once and in order (it never needed to be told recovered:false here).
BOOST_AUTO_TEST_CASE(a_client_that_hops_between_nodes_during_a_burst_gets_every_message_once) {
    TestCluster cluster({.nodes = 2});
    run([&]() -> awaitable<void> {
        co_await wait_until_serving(cluster.node(0));
        co_await wait_until_serving(cluster.node(1));
        constexpr std::uint64_t total = 300;
        StreamReader reader("hopper");
        bool joined = co_await reader.join(cluster.node(0));
        BOOST_REQUIRE(joined);
        bool published_all = false;
        asio::co_spawn(
            co_await asio::this_coro::executor,
            [](TestCluster& cluster, bool& done) -> awaitable<void> {
                for (std::uint64_t i = 1; i <= total; ++i)
                    co_await publish_seq(cluster.node(i % 2), "hopper", json::value(i));
                done = true;
            }(cluster, published_all),
            asio::detached);
        for (int hop = 1; reader.last_seq() < total; ++hop) {
            bool some =
                co_await reader.read(std::min<std::uint64_t>(40, total - reader.last_seq()));
            BOOST_REQUIRE_MESSAGE(some, "stuck at " << reader.last_seq());
            if (reader.last_seq() >= total) break;
            co_await reader.leave();
            bool back = co_await reader.join(cluster.node(hop % 2));
            BOOST_REQUIRE(back);
            BOOST_TEST((reader.recoveries().back() == std::optional<bool>(true)));
        }
        asio::steady_timer pause(co_await asio::this_coro::executor);
        for (int attempt = 0; attempt < 500 && !published_all; ++attempt) {
            pause.expires_after(10ms);  // the last answer may still be on its way
            co_await pause.async_wait(asio::use_awaitable);
        }
        BOOST_TEST(published_all);
        BOOST_TEST(seqs_of(reader) == one_to(total), boost::test_tools::per_element());
    });
}

BOOST_AUTO_TEST_CASE(a_retry_with_the_same_idempotency_key_on_another_node_publishes_once) {
    TestCluster cluster({.nodes = 2});
    run([&]() -> awaitable<void> {
        co_await wait_until_serving(cluster.node(0));
        co_await wait_until_serving(cluster.node(1));
        StreamReader reader("idem");
        bool joined = co_await reader.join(cluster.node(0));
        BOOST_REQUIRE(joined);
        auto first = co_await publish(cluster.node(0), "idem", "shipped", "order-9");
        auto retry = co_await publish(cluster.node(1), "idem", "another body", "order-9");
        BOOST_TEST(first.status == 200u);
        BOOST_TEST(retry.status == 200u);
        BOOST_TEST(json::parse(retry.body) == json::parse(first.body));
        co_await publish_seq(cluster.node(1), "idem", "next");
        bool got = co_await reader.read(2);
        BOOST_REQUIRE(got);
        BOOST_TEST(reader.messages()[0].data == "shipped");
        BOOST_TEST(reader.messages()[1].data == "next");  // no second "shipped" in between
    });
}

// A node does not write its users' presence counts at every heartbeat, only now and then (each
// user every 20 probe intervals), but a count's own expiry (60 intervals) never ends it while
// its connection stays.
BOOST_AUTO_TEST_CASE(a_connected_users_count_is_refreshed_before_it_expires) {
    TestCluster cluster({.nodes = 1, .adjust = [](Config& config) {
                             config.redis_probe_interval = 100ms;  // counts last 6 s
                         }});
    run([&]() -> awaitable<void> {
        co_await wait_until_serving(cluster.node(0));
        auto browser = co_await WebSocketClient::connect(cluster.node(0));
        co_await browser.send(R"({"uid":"lasting"})");
        co_await send_until_delivered(cluster.node(0), "lasting", "probe");
        auto probe = co_await browser.receive();
        BOOST_REQUIRE_EQUAL(probe, "probe");

        // Past the expiry of the count the join wrote, and of those the node wrote at its start.
        std::int64_t past = presence_expiry(cluster.redis(), "lasting") + 1000;
        asio::steady_timer pause(co_await asio::this_coro::executor);
        for (int attempt = 0; attempt < 300 && redis_now_ms(cluster.redis()) <= past; ++attempt) {
            pause.expires_after(50ms);
            co_await pause.async_wait(asio::use_awaitable);
        }
        std::int64_t now = redis_now_ms(cluster.redis());
        BOOST_REQUIRE_GT(now, past);
        BOOST_TEST(presence_expiry(cluster.redis(), "lasting") > now);
        auto presence = co_await client::http_request(cluster.node(0), http::verb::get,
                                                      "/presence?uid=lasting");
        BOOST_TEST(json::parse(presence.body).at("connections") == 1);
    });
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cluster_push_features)

BOOST_AUTO_TEST_CASE(disconnect_on_one_node_closes_the_users_connections_on_every_node) {
    TestCluster cluster({.nodes = 3});
    run([&]() -> awaitable<void> {
        for (std::size_t i = 0; i < cluster.size(); ++i)
            co_await wait_until_serving(cluster.node(i));
        StreamReader on_a("banned"), on_b("banned"), on_c("banned"), other("kept");
        bool joined = co_await on_a.join(cluster.node(0));
        joined = co_await on_b.join(cluster.node(1)) && joined;
        joined = co_await on_c.join(cluster.node(2)) && joined;
        joined = co_await other.join(cluster.node(2)) && joined;
        BOOST_REQUIRE(joined);

        // Asked of node A: the answer is the user's presence across the cluster at the time.
        auto answer = co_await client::http_request(cluster.node(0), http::verb::post,
                                                    "/disconnect", R"({"uid":"banned"})");
        BOOST_TEST(answer.status == 200u);
        BOOST_TEST(json::parse(answer.body) == json::parse(R"({"disconnected":3})"));
        // A named array, not a braced list: g++ 12 cannot keep one in a coroutine's frame.
        const std::array<StreamReader*, 3> banned{&on_a, &on_b, &on_c};
        for (StreamReader* reader : banned) {
            bool closed = co_await reader->read_until_closed();
            BOOST_REQUIRE(closed);
            BOOST_TEST((reader->closes() == std::vector<std::string>{"1008 disconnected"}),
                       boost::test_tools::per_element());
        }
        // Another user on the same node is not touched.
        co_await publish_seq(cluster.node(1), "kept", json::value("still here"));
        bool got = co_await other.read(1);
        BOOST_TEST(got);

        // With reconnect: 1012, and a client that comes back resumes with no gap.
        StreamReader relogin("relogin");
        bool relogin_joined = co_await relogin.join(cluster.node(1));
        BOOST_REQUIRE(relogin_joined);
        co_await publish_seq(cluster.node(0), "relogin", json::value(1));
        bool first = co_await relogin.read(1);
        BOOST_REQUIRE(first);
        auto again = co_await client::http_request(cluster.node(2), http::verb::post, "/disconnect",
                                                   R"({"uid":"relogin","reconnect":true})");
        BOOST_TEST(json::parse(again.body) == json::parse(R"({"disconnected":1})"));
        bool reconnected = co_await relogin.read_until_closed();
        BOOST_REQUIRE(reconnected);
        BOOST_TEST((relogin.closes() == std::vector<std::string>{"1012 reconnect"}),
                   boost::test_tools::per_element());
        bool back = co_await relogin.join(cluster.node(2));
        BOOST_REQUIRE(back);
        BOOST_TEST((relogin.recoveries().back() == std::optional<bool>(true)));
    });
}

// Progress that collapses, across nodes: a job floods a phone on another node that does not
// read, with one key; the phone's node queues the latest only, and the stream in Redis keeps the
// latest only, which a page opened later on a third node gets, recovered.
BOOST_AUTO_TEST_CASE(a_keyed_flood_never_makes_a_slow_consumer_and_redis_keeps_the_latest) {
    TestCluster cluster({.nodes = 3, .adjust = [](Config& config) { config.send_queue = 4; }});
    run([&]() -> awaitable<void> {
        for (std::size_t i = 0; i < cluster.size(); ++i)
            co_await wait_until_serving(cluster.node(i));
        auto phone = co_await WebSocketClient::connect(cluster.node(0));
        co_await phone.send(R"({"uid":"phone","v":1})");
        auto welcome = json::parse(co_await phone.receive());
        BOOST_REQUIRE(welcome.at("type") == "welcome");
        constexpr int flood = 10'000;
        std::uint64_t last_seq =
            co_await publish_progress(cluster.node(1), "phone", flood, "job", 2048);
        BOOST_TEST(last_seq == static_cast<std::uint64_t>(flood));
        auto read = co_await read_progress_until(phone, flood - 1);
        BOOST_TEST_MESSAGE("the phone read " << read.size() << " of " << flood);
        BOOST_TEST(read.size() < static_cast<std::size_t>(flood));
        for (std::size_t i = 1; i < read.size(); ++i)
            BOOST_TEST(read[i].at("seq").as_int64() > read[i - 1].at("seq").as_int64());
        BOOST_TEST(read.back().at("key") == "job");

        // A page opened later asks for everything kept.
        auto page = co_await WebSocketClient::connect(cluster.node(2));
        co_await page.send(R"({"uid":"phone","v":1,"since":{"seq":0}})");
        auto page_welcome = json::parse(co_await page.receive());
        BOOST_TEST(page_welcome.at("recovered") == true);
        BOOST_TEST(page_welcome.at("seq") == flood);
        auto kept = json::parse(co_await page.receive());
        BOOST_TEST(kept.at("seq") == flood);
        BOOST_TEST(kept.at("data").at("progress") == flood - 1);
        auto stats = co_await get_stats(cluster.node(0));
        BOOST_TEST(stats.at("slow_consumer_disconnects") == 0);
    });
}

// A resume on another node over the holes that collapsing leaves is still a recovery: the
// stream knows that what is missing was replaced, not lost.
BOOST_AUTO_TEST_CASE(a_resume_on_another_node_over_collapsed_messages_is_recovered) {
    TestCluster cluster({.nodes = 2});
    run([&]() -> awaitable<void> {
        co_await wait_until_serving(cluster.node(0));
        co_await wait_until_serving(cluster.node(1));
        StreamReader reader("resumer");
        bool joined = co_await reader.join(cluster.node(0));
        BOOST_REQUIRE(joined);
        co_await reader.leave();
        // seq 1 key a, 2 no key, 3 key a, 4 key b, 5 key b: kept are 2, 3 and 5.
        const std::vector<std::string> keys{"a", "", "a", "b", "b"};
        for (std::size_t i = 0; i < keys.size(); ++i) {
            json::object body{{"uid", "resumer"}, {"message", static_cast<int>(i + 1)}};
            if (!keys[i].empty()) body["key"] = keys[i];
            co_await post_send(cluster.node(1), body);
        }
        bool back = co_await reader.join(cluster.node(1));
        BOOST_REQUIRE(back);
        BOOST_TEST((reader.recoveries().back() == std::optional<bool>(true)));
        bool got = co_await reader.read(3);
        BOOST_REQUIRE(got);
        BOOST_TEST(seqs_of(reader) == (std::vector<std::uint64_t>{2, 3, 5}),
                   boost::test_tools::per_element());
    });
}

// Delivery receipts across nodes: the publisher waits on one node, the client acknowledges on
// another; a user who comes online later, on yet another node, may acknowledge the replay.
BOOST_AUTO_TEST_CASE(a_publisher_on_one_node_is_answered_by_an_ack_on_another) {
    TestCluster cluster({.nodes = 3});
    run([&]() -> awaitable<void> {
        for (std::size_t i = 0; i < cluster.size(); ++i)
            co_await wait_until_serving(cluster.node(i));
        std::optional<WebSocketClient> client;
        auto publishing =
            client::http_request(cluster.node(1), http::verb::get,
                                 "/send?uid=acker&message=m&wait=ack&timeout_ms=20000");
        auto receiving = receive_and_ack(cluster.node(0), "acker", 1, client);
        auto [answer, acked_seq] = co_await (std::move(publishing) && std::move(receiving));
        BOOST_TEST(answer.status == 200u);
        auto answered = json::parse(answer.body);
        BOOST_TEST(answered.at("acked") == true);
        BOOST_TEST(answered.at("seq") == 1);
        BOOST_TEST(acked_seq == 1u);
        auto presence =
            co_await client::http_request(cluster.node(2), http::verb::get, "/presence?uid=acker");
        BOOST_TEST(json::parse(presence.body).at("acked_seq") == 1);

        // Nobody acknowledges: acked false at the timeout, still stored.
        auto unanswered = co_await client::http_request(
            cluster.node(2), http::verb::get, "/send?uid=acker&message=n&wait=ack&timeout_ms=200");
        BOOST_TEST(json::parse(unanswered.body).at("acked") == false);
        BOOST_TEST(json::parse(unanswered.body).at("seq") == 2);
    });
}

// A batch on one node, in one round trip to Redis: every entry reaches its users on the other
// nodes in order, and a retry of the batch with its Idempotency-Key on a third node publishes
// nothing again.
BOOST_AUTO_TEST_CASE(a_batch_on_one_node_reaches_every_node_and_retries_safely_on_another) {
    TestCluster cluster({.nodes = 3});
    run([&]() -> awaitable<void> {
        for (std::size_t i = 0; i < cluster.size(); ++i)
            co_await wait_until_serving(cluster.node(i));
        StreamReader reader("a");
        bool joined = co_await reader.join(cluster.node(0));
        BOOST_REQUIRE(joined);
        const std::string batch = R"({"messages":[{"uid":"a","message":1},)"
                                  R"({"uids":["a","b"],"message":2,"key":"k"},)"
                                  R"({"uid":"a","message":3}]})";
        http::fields headers;
        headers.set("Idempotency-Key", "batch-1");
        auto answer = co_await client::http_request(cluster.node(1), http::verb::post, "/send",
                                                    batch, headers);
        BOOST_TEST(answer.status == 200u);
        auto results = json::parse(answer.body).at("results");
        BOOST_TEST(results.at(0).at("seq") == 1);
        BOOST_TEST(results.at(1).at("seqs") == json::parse(R"({"a":2,"b":1})"));
        BOOST_TEST(results.at(2).at("seq") == 3);
        bool got = co_await reader.read(3);
        BOOST_REQUIRE(got);
        BOOST_TEST(seqs_of(reader) == one_to(3), boost::test_tools::per_element());
        BOOST_TEST(reader.messages().back().data == 3);

        auto retry = co_await client::http_request(cluster.node(2), http::verb::post, "/send",
                                                   batch, headers);
        BOOST_TEST(retry.status == 200u);
        auto retried = json::parse(retry.body).at("results");
        BOOST_TEST(retried.at(0).at("seq") == 1);
        BOOST_TEST(retried.at(2).at("seq") == 3);
        auto next = co_await publish_seq(cluster.node(0), "a", json::value("after"));
        BOOST_TEST(next == 4u);  // the retry took no seq
    });
}

BOOST_AUTO_TEST_CASE(a_message_published_on_another_node_reaches_an_event_stream) {
    TestCluster cluster({.nodes = 2});
    run([&]() -> awaitable<void> {
        co_await wait_until_serving(cluster.node(0));
        co_await wait_until_serving(cluster.node(1));
        auto stream = co_await EventStreamClient::open(cluster.node(1), "/sse?v=1&uid=streamed");
        BOOST_REQUIRE_EQUAL(stream.status(), 200u);
        auto welcome = co_await stream.next();
        BOOST_REQUIRE(welcome.has_value());
        std::string epoch(welcome->json().at("epoch").as_string());
        auto seq = co_await publish_seq(cluster.node(0), "streamed", json::parse(R"({"n":1})"));
        auto message = co_await stream.next();
        BOOST_REQUIRE(message.has_value());
        BOOST_TEST(message->json().at("data") == json::parse(R"({"n":1})"));
        BOOST_TEST((message->id == epoch + ":" + std::to_string(seq)));
        // And /disconnect on the other node ends it with its close event.
        auto answer = co_await client::http_request(cluster.node(0), http::verb::post,
                                                    "/disconnect", R"({"uid":"streamed"})");
        BOOST_TEST(json::parse(answer.body) == json::parse(R"({"disconnected":1})"));
        auto rest = co_await stream.rest();
        BOOST_REQUIRE(!rest.empty());
        BOOST_TEST(rest.back().json() ==
                   json::parse(R"({"type":"close","code":1008,"reason":"disconnected"})"));
    });
}

BOOST_AUTO_TEST_SUITE_END()
