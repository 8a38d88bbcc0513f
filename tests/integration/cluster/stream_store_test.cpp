// The cluster's stream store against a real redis-server, nothing mocked: numbering, epochs,
// resume, trimming, idempotency, presence, the live payload, and what restarts, a lost script
// cache and a full Redis do to it. Nodes are stores on connections of their own.
#include "herald/cluster/stream_store.hpp"

#include <array>
#include <memory>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>

#include "herald/cluster/live_message.hpp"
#include "herald/cluster/store_error.hpp"
#include "herald/redis/subscriber.hpp"
#include "support/redis_harness.hpp"
#include "support/run.hpp"

using namespace herald;
using namespace herald::cluster;
using namespace herald::test;
using redis::LinkEvent;
using redis::Reply;
using std::chrono::seconds;

namespace {

// A node as far as the store goes: its own link to Redis, and its store, which forgets the
// link when it goes down (as the engine does, from the same event).
struct Node {
    Node(asio::io_context& owner_io, asio::io_context& test_io, redis::RedisSettings redis,
         StoreSettings settings)
        : events(test_io.get_executor()),
          connection(owner_io.get_executor(), std::move(redis)),
          store(connection, std::move(settings)) {
        connection.on_event([this, log = events.handler()](LinkEvent event) {
            if (event == LinkEvent::disconnected) store.forget_link();
            log(event);
        });
        connection.start();
    }

    EventLog events;
    redis::CommandConnection connection;
    StreamStore store;
};

// Nodes on one redis-server, owned as servers own them, plus a subscriber when asked for.
// Members in the order that makes a failed test still wind down.
struct Cluster {
    Cluster(const RedisServer& redis, const std::vector<StoreSettings>& stores,
            bool with_subscriber = false)
        : messages(test_io.get_executor()), subscriber_events(test_io.get_executor()) {
        for (const StoreSettings& settings : stores)
            nodes.push_back(std::make_unique<Node>(
                owner_io, test_io,
                fast_settings(redis.settings(), "herald-test-" + settings.node_id), settings));
        if (with_subscriber) {
            subscriber.emplace(owner_io.get_executor(),
                               fast_settings(redis.settings(), "herald-test-sub"));
            subscriber->on_message(messages.handler());
            subscriber->on_event(subscriber_events.handler());
            subscriber->start();
        }
        owner.emplace(owner_io);
    }

    StreamStore& store(std::size_t node = 0) { return nodes[node]->store; }

    bool stop() {
        for (auto& node : nodes)
            node->connection.stop();
        if (subscriber) subscriber->stop();
        return owner->join();
    }

    asio::io_context test_io;
    MessageLog messages;
    EventLog subscriber_events;
    asio::io_context owner_io;
    std::vector<std::unique_ptr<Node>> nodes;
    std::optional<redis::Subscriber> subscriber;
    std::optional<OwnerThreads> owner;  // last: it joins the threads before the rest goes
};

StoreSettings node_settings(std::string node, std::size_t history_size = 10,
                            milliseconds history_ttl = seconds(60)) {
    return {.history_size = history_size,
            .history_ttl = history_ttl,
            .idempotency_ttl = seconds(60),
            .presence_ttl = seconds(60),
            .node_id = std::move(node)};
}

awaitable<void> require_prepared(Node& node) {
    bool up = co_await node.events.wait_for(LinkEvent::connected, seconds(5));
    BOOST_REQUIRE_MESSAGE(up, "the node's link did not come up within 5 s");
    auto prepared = co_await node.store.prepare();
    BOOST_REQUIRE_MESSAGE(prepared.has_value(), prepared.error().message());
}

awaitable<void> require_all_prepared(Cluster& cluster) {
    for (auto& node : cluster.nodes)
        co_await require_prepared(*node);
}

MessageBodyPtr body_of(std::string_view json) {
    return make_message(boost::json::parse(json));
}

awaitable<boost::system::result<PublishOutcome>> publish_to(
    StreamStore& store, std::string uid, std::string_view json,
    std::optional<std::string> idempotency_key = std::nullopt) {
    std::vector<std::string> uids{std::move(uid)};
    MessageBodyPtr body = body_of(json);
    auto outcomes = co_await store.publish(std::move(uids), body, idempotency_key);
    if (!outcomes) co_return outcomes.error();
    BOOST_REQUIRE_EQUAL(outcomes->size(), 1u);
    co_return outcomes->front();
}

// Likewise, and fails the test unless it succeeded.
awaitable<PublishOutcome> publish_ok(StreamStore& store, std::string uid, std::string_view json,
                                     std::optional<std::string> idempotency_key = std::nullopt) {
    auto outcome = co_await publish_to(store, std::move(uid), json, std::move(idempotency_key));
    BOOST_REQUIRE_MESSAGE(outcome.has_value(), outcome.error().message());
    co_return std::move(*outcome);
}

awaitable<StreamRead> read_ok(StreamStore& store, std::string uid,
                              std::optional<Since> since = std::nullopt, int presence_delta = 0) {
    auto read = co_await store.read(std::move(uid), std::move(since), presence_delta);
    BOOST_REQUIRE_MESSAGE(read.has_value(), read.error().message());
    co_return std::move(*read);
}

awaitable<std::size_t> presence_ok(StreamStore& store, std::string uid) {
    auto count = co_await store.presence(std::move(uid));
    BOOST_REQUIRE_MESSAGE(count.has_value(), count.error().message());
    co_return *count;
}

awaitable<void> set_presence_ok(StreamStore& store, std::string uid, std::size_t count) {
    std::vector<std::pair<std::string, std::size_t>> counts;
    counts.emplace_back(std::move(uid), count);
    auto set = co_await store.set_presence(std::move(counts));
    BOOST_REQUIRE_MESSAGE(set.has_value(), set.error().message());
}

awaitable<Heartbeat> heartbeat_ok(StreamStore& store) {
    auto heartbeat = co_await store.heartbeat();
    BOOST_REQUIRE_MESSAGE(heartbeat.has_value(), heartbeat.error().message());
    co_return *heartbeat;
}

std::vector<std::uint64_t> seqs_of(const StreamRead& read) {
    std::vector<std::uint64_t> seqs;
    for (const StoredMessage& message : read.messages)
        seqs.push_back(message.seq);
    return seqs;
}

using Seqs = std::vector<std::uint64_t>;

// A command through the test's own admin connection, which must get a reply.
Reply admin(const RedisServer& redis, std::vector<std::string> arguments) {
    auto reply = redis.command(std::move(arguments));
    BOOST_REQUIRE_MESSAGE(reply.has_value(), reply.error().message());
    return std::move(*reply);
}

std::int64_t integer_of(const RedisServer& redis, std::vector<std::string> arguments) {
    Reply reply = admin(redis, std::move(arguments));
    BOOST_REQUIRE_MESSAGE(reply.type == Reply::Type::integer, reply);
    return reply.integer;
}

// Redis's clock, which the scripts use for message times and expiries.
std::int64_t redis_now_ms(const RedisServer& redis) {
    Reply time = admin(redis, {"TIME"});
    BOOST_REQUIRE_EQUAL(time.elements.size(), 2u);
    return std::stoll(time.elements[0].text) * 1000 + std::stoll(time.elements[1].text) / 1000;
}

// Waits (a bounded poll, without holding up the test's io_context) for the time to pass.
awaitable<void> pause_for(milliseconds duration) {
    asio::steady_timer timer(co_await asio::this_coro::executor, duration);
    co_await timer.async_wait(use_nothrow);
}

// Waits until Redis's clock has passed `time_ms`: then what was stamped before has aged.
awaitable<void> wait_for_redis_time(const RedisServer& redis, std::int64_t time_ms) {
    for (int attempt = 0; attempt < 250; ++attempt) {
        if (redis_now_ms(redis) > time_ms) co_return;
        co_await pause_for(milliseconds(20));
    }
    BOOST_FAIL("Redis's clock did not reach the time within 5 s");
}

// The time of a user's newest kept message, as Redis stamped it.
std::int64_t newest_time_ms(const RedisServer& redis, const std::string& uid) {
    Reply newest = admin(redis, {"XREVRANGE", user_keys(uid).stream, "+", "-", "COUNT", "1"});
    BOOST_REQUIRE_EQUAL(newest.elements.size(), 1u);
    const Reply& fields = newest.elements[0].elements[1];
    BOOST_REQUIRE_GE(fields.elements.size(), 2u);
    BOOST_REQUIRE_EQUAL(fields.elements[0].text, "t");
    return std::stoll(fields.elements[1].text);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_stream_store)

BOOST_AUTO_TEST_CASE(messages_are_numbered_per_user_from_one_under_an_epoch_that_stays) {
    RedisServer redis;
    Cluster cluster(redis, {node_settings("a"), node_settings("b")});
    run(cluster.test_io, [&]() -> awaitable<void> {
        co_await require_all_prepared(cluster);
        auto& a = cluster.store(0);
        auto& b = cluster.store(1);
        PublishOutcome first = co_await publish_ok(a, "u1", R"("one")");
        PublishOutcome second = co_await publish_ok(b, "u1", R"({"n":2})");
        PublishOutcome third = co_await publish_ok(a, "u1", R"("three")");
        PublishOutcome other = co_await publish_ok(b, "u2", R"("other")");
        BOOST_TEST(first.seq == 1u);
        BOOST_TEST(second.seq == 2u);
        BOOST_TEST(third.seq == 3u);
        BOOST_TEST(other.seq == 1u);
        BOOST_TEST(first.epoch.size() == 16u);
        BOOST_TEST(second.epoch == first.epoch);
        BOOST_TEST(third.epoch == first.epoch);
        BOOST_TEST(other.epoch != first.epoch);
        BOOST_TEST(first.delivered == 0u);
        BOOST_TEST(!first.duplicate);

        // Either node reads the same position; a read without since says nothing of recovery.
        StreamRead at_a = co_await read_ok(a, "u1");
        StreamRead at_b = co_await read_ok(b, "u1");
        BOOST_TEST(at_a.position.epoch == first.epoch);
        BOOST_TEST(at_a.position.seq == 3u);
        BOOST_TEST(!at_a.position.recovered.has_value());
        BOOST_TEST(at_a.messages.empty());
        BOOST_TEST(at_b.position.epoch == first.epoch);
        BOOST_TEST(at_b.position.seq == 3u);

        // A read makes the stream of a user nobody published to, and the next publish keeps
        // its epoch: what a client was told in its welcome stays true.
        StreamRead fresh = co_await read_ok(b, "u3");
        BOOST_TEST(fresh.position.seq == 0u);
        BOOST_TEST(fresh.position.epoch.size() == 16u);
        PublishOutcome to_fresh = co_await publish_ok(a, "u3", "[1]");
        BOOST_TEST(to_fresh.epoch == fresh.position.epoch);
        BOOST_TEST(to_fresh.seq == 1u);

        // Several users in one call: each numbered in its own stream, in the order given.
        std::vector<std::string> uids{"u2", "u1", "u4"};
        MessageBodyPtr all = body_of(R"("all")");
        auto many = co_await a.publish(std::move(uids), all, std::nullopt);
        BOOST_REQUIRE(many.has_value());
        BOOST_REQUIRE_EQUAL(many->size(), 3u);
        BOOST_TEST((*many)[0].seq == 2u);
        BOOST_TEST((*many)[0].epoch == other.epoch);
        BOOST_TEST((*many)[1].seq == 4u);
        BOOST_TEST((*many)[1].epoch == first.epoch);
        BOOST_TEST((*many)[2].seq == 1u);
    });
    BOOST_TEST(cluster.stop());
}

BOOST_AUTO_TEST_CASE(a_resume_gets_exactly_the_missed_messages_and_whether_they_are_all) {
    RedisServer redis;
    Cluster cluster(redis, {node_settings("a"), node_settings("b")});
    run(cluster.test_io, [&]() -> awaitable<void> {
        co_await require_all_prepared(cluster);
        auto& a = cluster.store(0);
        auto& b = cluster.store(1);
        std::string epoch;
        const std::array<std::string_view, 5> bodies{R"("m1")", R"({"m":2})", R"("m3")", "[4]",
                                                     R"("m5")"};
        for (std::string_view json : bodies) {
            PublishOutcome outcome = co_await publish_ok(a, "u", json);
            epoch = outcome.epoch;
        }

        const Since at_2{epoch, 2};
        StreamRead missed = co_await read_ok(b, "u", at_2);
        BOOST_TEST(missed.position.epoch == epoch);
        BOOST_TEST(missed.position.seq == 5u);
        BOOST_TEST((missed.position.recovered == std::optional<bool>(true)));
        BOOST_TEST(seqs_of(missed) == (Seqs{3, 4, 5}));
        BOOST_REQUIRE_EQUAL(missed.messages.size(), 3u);
        BOOST_TEST(missed.messages[0].body->text == "m3");
        BOOST_TEST(missed.messages[0].body->data_json == R"("m3")");
        BOOST_TEST(missed.messages[1].body->text == "[4]");
        BOOST_TEST(missed.messages[2].time_ms >= missed.messages[0].time_ms);
        BOOST_TEST(missed.messages[0].time_ms > 1'600'000'000'000);

        const Since at_5{epoch, 5};
        StreamRead nothing_missed = co_await read_ok(a, "u", at_5);
        BOOST_TEST((nothing_missed.position.recovered == std::optional<bool>(true)));
        BOOST_TEST(nothing_missed.messages.empty());

        // A seq without an epoch: what follows it, but it cannot prove its stream.
        const Since any_2{std::nullopt, 2};
        StreamRead without_epoch = co_await read_ok(a, "u", any_2);
        BOOST_TEST((without_epoch.position.recovered == std::optional<bool>(false)));
        BOOST_TEST(seqs_of(without_epoch) == (Seqs{3, 4, 5}));

        const Since any_0{std::nullopt, 0};
        StreamRead everything = co_await read_ok(a, "u", any_0);
        BOOST_TEST((everything.position.recovered == std::optional<bool>(true)));
        BOOST_TEST(seqs_of(everything) == (Seqs{1, 2, 3, 4, 5}));

        // Another epoch: everything kept is new to the client, and it has lost track.
        const Since other_2{"0000000000000000", 2};
        StreamRead other_epoch = co_await read_ok(b, "u", other_2);
        BOOST_TEST((other_epoch.position.recovered == std::optional<bool>(false)));
        BOOST_TEST(seqs_of(other_epoch) == (Seqs{1, 2, 3, 4, 5}));
        BOOST_TEST(other_epoch.messages[0].body->text == "m1");

        // Beyond the stream (a client's mistake): nothing, and not recovered; no Redis error
        // either, even for the largest seq there is.
        const Since at_9{epoch, 9};
        StreamRead beyond = co_await read_ok(a, "u", at_9);
        BOOST_TEST((beyond.position.recovered == std::optional<bool>(false)));
        BOOST_TEST(beyond.messages.empty());
        const Since at_max{epoch, 18446744073709551615u};
        StreamRead largest = co_await read_ok(a, "u", at_max);
        BOOST_TEST((largest.position.recovered == std::optional<bool>(false)));
        BOOST_TEST(largest.messages.empty());
    });
    BOOST_TEST(cluster.stop());
}

BOOST_AUTO_TEST_CASE(history_keeps_the_last_history_size_messages) {
    RedisServer redis;
    Cluster cluster(redis, {node_settings("a", 3)});
    run(cluster.test_io, [&]() -> awaitable<void> {
        co_await require_all_prepared(cluster);
        auto& store = cluster.store();
        std::string epoch;
        for (int i = 1; i <= 5; ++i) {
            PublishOutcome outcome = co_await publish_ok(store, "u", std::to_string(i));
            epoch = outcome.epoch;
        }
        BOOST_TEST(integer_of(redis, {"XLEN", user_keys("u").stream}) == 3);

        const Since at_0{epoch, 0};
        StreamRead evicted = co_await read_ok(store, "u", at_0);
        BOOST_TEST((evicted.position.recovered == std::optional<bool>(false)));  // 1, 2 went
        BOOST_TEST(seqs_of(evicted) == (Seqs{3, 4, 5}));
        const Since at_2{epoch, 2};
        StreamRead covered = co_await read_ok(store, "u", at_2);
        BOOST_TEST((covered.position.recovered == std::optional<bool>(true)));
        BOOST_TEST(seqs_of(covered) == (Seqs{3, 4, 5}));
        BOOST_TEST(covered.messages[2].body->text == "5");
    });
    BOOST_TEST(cluster.stop());
}

BOOST_AUTO_TEST_CASE(history_size_zero_still_numbers_every_message_and_keeps_none) {
    RedisServer redis;
    Cluster cluster(redis, {node_settings("a", 0)});
    run(cluster.test_io, [&]() -> awaitable<void> {
        co_await require_all_prepared(cluster);
        auto& store = cluster.store();
        std::string epoch;
        for (std::uint64_t seq = 1; seq <= 3; ++seq) {
            PublishOutcome outcome = co_await publish_ok(store, "u", R"("x")");
            BOOST_TEST(outcome.seq == seq);
            if (seq > 1) BOOST_TEST(outcome.epoch == epoch);
            epoch = outcome.epoch;
        }
        BOOST_TEST(integer_of(redis, {"EXISTS", user_keys("u").stream}) == 0);
        const Since at_1{epoch, 1};
        StreamRead behind = co_await read_ok(store, "u", at_1);
        BOOST_TEST(behind.position.seq == 3u);
        BOOST_TEST((behind.position.recovered == std::optional<bool>(false)));
        BOOST_TEST(behind.messages.empty());
        const Since at_3{epoch, 3};
        StreamRead current = co_await read_ok(store, "u", at_3);
        BOOST_TEST((current.position.recovered == std::optional<bool>(true)));
    });
    BOOST_TEST(cluster.stop());
}

BOOST_AUTO_TEST_CASE(messages_older_than_the_ttl_are_trimmed_by_publishes_and_never_read) {
    RedisServer redis;
    constexpr auto ttl = milliseconds(500);
    Cluster cluster(redis, {node_settings("a", 10, ttl)});
    const UserKeys keys = user_keys("u");
    run(cluster.test_io, [&]() -> awaitable<void> {
        co_await require_all_prepared(cluster);
        auto& store = cluster.store();
        co_await publish_ok(store, "u", "1");
        PublishOutcome second = co_await publish_ok(store, "u", "2");
        std::string epoch = second.epoch;
        // Both keys go a TTL after the last publish...
        // (The meta's first: read later, the stream's can only be smaller.)
        auto meta_ttl = integer_of(redis, {"PTTL", keys.meta});
        auto stream_ttl = integer_of(redis, {"PTTL", keys.stream});
        BOOST_TEST((stream_ttl > 0 && stream_ttl <= ttl.count()));
        BOOST_TEST((meta_ttl >= stream_ttl && meta_ttl <= ttl.count()));
        // ...but kept here, so that only trimming can take the messages away.
        admin(redis, {"PERSIST", keys.stream});
        admin(redis, {"PERSIST", keys.meta});
        co_await wait_for_redis_time(redis, newest_time_ms(redis, "u") + ttl.count());

        // The next publish trims what has aged.
        PublishOutcome published = co_await publish_ok(store, "u", "3");
        BOOST_TEST(published.seq == 3u);
        BOOST_TEST(integer_of(redis, {"XLEN", keys.stream}) == 1);
        const Since at_0{epoch, 0};
        StreamRead since_start = co_await read_ok(store, "u", at_0);
        BOOST_TEST(seqs_of(since_start) == (Seqs{3}));
        BOOST_TEST((since_start.position.recovered == std::optional<bool>(false)));
        const Since at_2{epoch, 2};
        StreamRead since_two = co_await read_ok(store, "u", at_2);
        BOOST_TEST(seqs_of(since_two) == (Seqs{3}));
        BOOST_TEST((since_two.position.recovered == std::optional<bool>(true)));

        // A message that aged without a publish after it is not read either.
        admin(redis, {"PERSIST", keys.stream});
        admin(redis, {"PERSIST", keys.meta});
        co_await wait_for_redis_time(redis, newest_time_ms(redis, "u") + ttl.count());
        StreamRead aged = co_await read_ok(store, "u", at_2);
        BOOST_TEST(aged.messages.empty());
        BOOST_TEST((aged.position.recovered == std::optional<bool>(false)));  // 3 is lost
        BOOST_TEST(aged.position.epoch == epoch);
        const Since at_3{epoch, 3};
        StreamRead current = co_await read_ok(store, "u", at_3);
        BOOST_TEST((current.position.recovered == std::optional<bool>(true)));
        BOOST_TEST(integer_of(redis, {"XLEN", keys.stream}) == 0);
    });
    BOOST_TEST(cluster.stop());
}

BOOST_AUTO_TEST_CASE(a_stream_unused_for_the_ttl_goes_with_its_epoch_unless_a_node_holds_it) {
    RedisServer redis;
    constexpr auto ttl = milliseconds(300);
    Cluster cluster(redis, {node_settings("a", 10, ttl), node_settings("b", 10, seconds(60))});
    run(cluster.test_io, [&]() -> awaitable<void> {
        co_await require_all_prepared(cluster);
        auto& a = cluster.store(0);
        auto& b = cluster.store(1);
        PublishOutcome before = co_await publish_ok(a, "u", "1");
        // Nobody uses it: Redis expires it (bounded poll), and the next publish starts anew.
        bool gone = false;
        for (int attempt = 0; attempt < 250 && !gone; ++attempt) {
            gone = integer_of(redis, {"EXISTS", user_keys("u").meta}) == 0;
            if (!gone) co_await pause_for(milliseconds(20));
        }
        BOOST_REQUIRE_MESSAGE(gone, "the meta did not expire within 5 s");
        PublishOutcome after = co_await publish_ok(a, "u", "2");
        BOOST_TEST(after.epoch != before.epoch);
        BOOST_TEST(after.seq == 1u);

        // A node with connections of the user keeps its meta for at least its own TTL, even
        // when another node's TTL is shorter; a count of 0 holds nothing.
        const std::string meta = user_keys("u").meta;
        admin(redis, {"PEXPIRE", meta, "1000"});
        co_await set_presence_ok(b, "u", 1);
        BOOST_TEST(integer_of(redis, {"PTTL", meta}) > 30'000);
        co_await publish_ok(a, "u", "3");  // a shorter TTL does not cut it down
        BOOST_TEST(integer_of(redis, {"PTTL", meta}) > 30'000);
        admin(redis, {"PEXPIRE", meta, "1000"});
        co_await set_presence_ok(b, "u", 0);
        BOOST_TEST(integer_of(redis, {"PTTL", meta}) <= 1000);
    });
    BOOST_TEST(cluster.stop());
}

BOOST_AUTO_TEST_CASE(a_meta_of_another_run_of_redis_gets_a_new_epoch_as_after_a_failover) {
    RedisServer redis;
    Cluster cluster(redis, {node_settings("a")});
    const UserKeys keys = user_keys("u");
    run(cluster.test_io, [&]() -> awaitable<void> {
        co_await require_all_prepared(cluster);
        auto& store = cluster.store();
        co_await publish_ok(store, "u", "1");
        PublishOutcome before = co_await publish_ok(store, "u", "2");
        // What a replica promoted after lagging holds: the meta as another run wrote it.
        admin(redis, {"HSET", keys.meta, "run", "0123456789012345678901234567890123456789"});
        PublishOutcome after = co_await publish_ok(store, "u", "3");
        BOOST_TEST(after.epoch != before.epoch);
        BOOST_TEST(after.seq == 1u);
        BOOST_TEST(integer_of(redis, {"XLEN", keys.stream}) == 1);  // the old epoch's went
        const Since before_2{before.epoch, 2};
        StreamRead resumed = co_await read_ok(store, "u", before_2);
        BOOST_TEST((resumed.position.recovered == std::optional<bool>(false)));
        BOOST_TEST(seqs_of(resumed) == (Seqs{1}));
        BOOST_TEST(resumed.messages[0].body->text == "3");
    });
    BOOST_TEST(cluster.stop());
}

BOOST_AUTO_TEST_CASE(a_retry_with_the_same_idempotency_key_publishes_once_and_answers_the_same) {
    RedisServer redis;
    Cluster cluster(redis, {node_settings("a"), node_settings("b")}, true);
    run(cluster.test_io, [&]() -> awaitable<void> {
        co_await require_all_prepared(cluster);
        bool subscriber_up =
            co_await cluster.subscriber_events.wait_for(LinkEvent::resubscribed, seconds(5));
        BOOST_REQUIRE(subscriber_up);
        auto subscribed = co_await cluster.subscriber->subscribe(channel_of("u1"));
        BOOST_REQUIRE(subscribed.has_value());
        auto& a = cluster.store(0);
        auto& b = cluster.store(1);
        co_await set_presence_ok(b, "u1", 2);

        PublishOutcome first = co_await publish_ok(a, "u1", R"("once")", "job-1");
        co_await set_presence_ok(b, "u1", 5);  // the retry still answers what was delivered
        PublishOutcome retry = co_await publish_ok(b, "u1", R"("once")", "job-1");
        BOOST_TEST(first.seq == 1u);
        BOOST_TEST(first.delivered == 2u);
        BOOST_TEST(!first.duplicate);
        BOOST_TEST(retry.epoch == first.epoch);
        BOOST_TEST(retry.seq == 1u);
        BOOST_TEST(retry.delivered == 2u);
        BOOST_TEST(retry.duplicate);
        BOOST_TEST(integer_of(redis, {"XLEN", user_keys("u1").stream}) == 1);

        PublishOutcome another = co_await publish_ok(a, "u1", R"("twice")", "job-2");
        BOOST_TEST(another.seq == 2u);
        BOOST_TEST(!another.duplicate);

        // Per user: a key used for u1 is new for u2, and a call for both answers each.
        std::vector<std::string> both{"u1", "u2"};
        MessageBodyPtr three = body_of("[3]");
        std::optional<std::string> job_3 = "job-3", job_1 = "job-1";
        auto together = co_await a.publish(both, three, job_3);
        BOOST_REQUIRE(together.has_value());
        auto together_again = co_await b.publish(both, three, job_3);
        BOOST_REQUIRE(together_again.has_value());
        BOOST_REQUIRE_EQUAL(together->size(), 2u);
        BOOST_REQUIRE_EQUAL(together_again->size(), 2u);
        BOOST_TEST((*together)[0].seq == 3u);
        BOOST_TEST((*together)[1].seq == 1u);
        for (std::size_t i = 0; i < 2; ++i) {
            BOOST_TEST((*together_again)[i].seq == (*together)[i].seq);
            BOOST_TEST((*together_again)[i].epoch == (*together)[i].epoch);
            BOOST_TEST((*together_again)[i].duplicate);
        }
        std::vector<std::string> u2_only{"u2"};
        auto u2_again = co_await a.publish(u2_only, three, job_1);
        BOOST_REQUIRE(u2_again.has_value());
        BOOST_TEST(u2_again->front().seq == 2u);  // job-1 was u1's
        BOOST_TEST(!u2_again->front().duplicate);

        // What reached the channel: each first attempt once, no retry.
        Seqs live;
        for (int i = 0; i < 3; ++i) {
            auto message = co_await cluster.messages.next();
            BOOST_REQUIRE(message.has_value());
            auto decoded = decode_live_message(message->first, message->second);
            BOOST_REQUIRE(decoded.has_value());
            live.push_back(decoded->seq);
        }
        BOOST_TEST(live == (Seqs{1, 2, 3}));
        auto more = co_await cluster.messages.next(milliseconds(200));
        BOOST_TEST(!more.has_value());
    });
    BOOST_TEST(cluster.stop());
}

BOOST_AUTO_TEST_CASE(an_idempotency_key_is_forgotten_after_its_ttl) {
    RedisServer redis;
    StoreSettings settings = node_settings("a");
    settings.idempotency_ttl = milliseconds(500);
    Cluster cluster(redis, {settings});
    run(cluster.test_io, [&]() -> awaitable<void> {
        co_await require_all_prepared(cluster);
        auto& store = cluster.store();
        PublishOutcome first = co_await publish_ok(store, "u", "1", "k");
        const std::string seen = idempotency_key("u", "k");
        auto seen_ttl = integer_of(redis, {"PTTL", seen});
        BOOST_TEST((seen_ttl > 0 && seen_ttl <= 500));
        bool gone = false;
        for (int attempt = 0; attempt < 250 && !gone; ++attempt) {
            gone = integer_of(redis, {"EXISTS", seen}) == 0;
            if (!gone) co_await pause_for(milliseconds(20));
        }
        BOOST_REQUIRE_MESSAGE(gone, "the idempotency key did not expire within 5 s");
        PublishOutcome later = co_await publish_ok(store, "u", "1", "k");
        BOOST_TEST(first.seq == 1u);
        BOOST_TEST(later.seq == 2u);
        BOOST_TEST(!later.duplicate);
    });
    BOOST_TEST(cluster.stop());
}

BOOST_AUTO_TEST_CASE(presence_counts_the_connections_of_every_live_node) {
    RedisServer redis;
    StoreSettings dying = node_settings("b");
    dying.presence_ttl = milliseconds(1000);
    Cluster cluster(redis, {node_settings("a"), dying});
    run(cluster.test_io, [&]() -> awaitable<void> {
        co_await require_all_prepared(cluster);
        auto& a = cluster.store(0);
        auto& b = cluster.store(1);
        const std::string presence = user_keys("u").presence;
        co_await set_presence_ok(a, "u", 2);
        co_await set_presence_ok(b, "u", 3);
        std::size_t counted = co_await presence_ok(a, "u");
        BOOST_TEST(counted == 5u);
        counted = co_await presence_ok(b, "u");
        BOOST_TEST(counted == 5u);
        PublishOutcome published = co_await publish_ok(a, "u", "1");
        BOOST_TEST(published.delivered == 5u);

        // A join and a leave adjust the reading node's count in the same step.
        co_await read_ok(a, "u", std::nullopt, +1);
        counted = co_await presence_ok(b, "u");
        BOOST_TEST(counted == 6u);
        const Since any_0{std::nullopt, 0};
        co_await read_ok(a, "u", any_0, -1);
        counted = co_await presence_ok(b, "u");
        BOOST_TEST(counted == 5u);
        co_await set_presence_ok(a, "u", 0);
        counted = co_await presence_ok(b, "u");
        BOOST_TEST(counted == 3u);
        BOOST_TEST(integer_of(redis, {"HEXISTS", presence, "a"}) == 0);
        co_await read_ok(a, "u", std::nullopt, -1);  // never below nothing
        BOOST_TEST(integer_of(redis, {"HEXISTS", presence, "a"}) == 0);
        counted = co_await presence_ok(a, "u");
        BOOST_TEST(counted == 3u);
        co_await read_ok(a, "u", std::nullopt, +1);
        counted = co_await presence_ok(a, "u");
        BOOST_TEST(counted == 4u);

        // b stops refreshing (as a node that died): its count stops counting, and goes.
        std::size_t live = 4;
        for (int attempt = 0; attempt < 250 && live != 1; ++attempt) {
            live = co_await presence_ok(a, "u");
            if (live != 1) co_await pause_for(milliseconds(20));
        }
        BOOST_TEST(live == 1u);
        BOOST_TEST(integer_of(redis, {"HEXISTS", presence, "b"}) == 0);
        published = co_await publish_ok(a, "u", "2");
        BOOST_TEST(published.delivered == 1u);
        counted = co_await presence_ok(a, "nobody");
        BOOST_TEST(counted == 0u);
    });
    BOOST_TEST(cluster.stop());
}

BOOST_AUTO_TEST_CASE(a_published_message_reaches_the_users_channel_and_decodes_as_stored) {
    RedisServer redis;
    Cluster cluster(redis, {node_settings("a")}, true);
    const std::string uid = "a}:b {c} é✓";
    run(cluster.test_io, [&]() -> awaitable<void> {
        co_await require_all_prepared(cluster);
        bool subscriber_up =
            co_await cluster.subscriber_events.wait_for(LinkEvent::resubscribed, seconds(5));
        BOOST_REQUIRE(subscriber_up);
        auto subscribed = co_await cluster.subscriber->subscribe(StreamStore::channel_of(uid));
        BOOST_REQUIRE(subscribed.has_value());
        auto& store = cluster.store();
        PublishOutcome text = co_await publish_ok(store, uid, R"("Hello \"World\"\n é")");
        PublishOutcome json = co_await publish_ok(store, uid, R"({"a":[1,"x\n"],"b":null})");
        const Since text_0{text.epoch, 0};
        StreamRead stored = co_await read_ok(store, uid, text_0);
        BOOST_REQUIRE_EQUAL(stored.messages.size(), 2u);

        const PublishOutcome* outcomes[] = {&text, &json};
        for (std::size_t i = 0; i < 2; ++i) {
            auto message = co_await cluster.messages.next();
            BOOST_REQUIRE(message.has_value());
            BOOST_TEST((StreamStore::uid_of_channel(message->first) == std::optional(uid)));
            auto decoded = decode_live_message(message->first, message->second);
            BOOST_REQUIRE_MESSAGE(decoded.has_value(), decoded.error());
            BOOST_TEST(decoded->uid == uid);
            BOOST_TEST(decoded->epoch == outcomes[i]->epoch);
            BOOST_TEST(decoded->seq == outcomes[i]->seq);
            BOOST_TEST(decoded->time_ms == stored.messages[i].time_ms);
            BOOST_TEST(decoded->body->text == stored.messages[i].body->text);
            BOOST_TEST(decoded->body->data_json == stored.messages[i].body->data_json);
        }
        BOOST_TEST(stored.messages[0].body->text == "Hello \"World\"\n é");
        BOOST_TEST(stored.messages[1].body->text == R"({"a":[1,"x\n"],"b":null})");
    });
    BOOST_TEST(cluster.stop());
}

BOOST_AUTO_TEST_CASE(read_after_gives_each_user_what_follows_its_seq_in_one_call) {
    RedisServer redis;
    Cluster cluster(redis, {node_settings("a", 4)});
    run(cluster.test_io, [&]() -> awaitable<void> {
        co_await require_all_prepared(cluster);
        auto& store = cluster.store();
        std::string u1_epoch;
        for (int i = 1; i <= 6; ++i) {
            PublishOutcome outcome = co_await publish_ok(store, "u1", std::to_string(i));
            u1_epoch = outcome.epoch;
        }
        std::string u2_epoch;
        for (int i = 1; i <= 2; ++i) {
            PublishOutcome outcome = co_await publish_ok(store, "u2", std::to_string(i));
            u2_epoch = outcome.epoch;
        }

        std::vector<std::pair<std::string, Since>> users{
            {"u1", Since{u1_epoch, 4}}, {"u2", Since{u2_epoch, 0}},  {"u3", Since{}},
            {"u1", Since{u1_epoch, 1}}, {"u1", Since{u1_epoch, 99}}, {"u1", Since{"gone", 4}}};
        auto reads = co_await store.read_after(std::move(users));
        BOOST_REQUIRE(reads.has_value());
        BOOST_REQUIRE_EQUAL(reads->size(), 6u);
        BOOST_TEST(seqs_of((*reads)[0]) == (Seqs{5, 6}));
        BOOST_TEST(((*reads)[0].position.recovered == std::optional<bool>(true)));
        BOOST_TEST((*reads)[0].position.seq == 6u);
        BOOST_TEST(seqs_of((*reads)[1]) == (Seqs{1, 2}));
        BOOST_TEST((*reads)[1].position.epoch == u2_epoch);
        BOOST_TEST(((*reads)[1].position.recovered == std::optional<bool>(true)));
        BOOST_TEST((*reads)[2].messages.empty());  // a new stream, made by the read
        BOOST_TEST((*reads)[2].position.seq == 0u);
        BOOST_TEST(((*reads)[2].position.recovered == std::optional<bool>(true)));
        BOOST_TEST(integer_of(redis, {"EXISTS", user_keys("u3").meta}) == 1);
        BOOST_TEST(seqs_of((*reads)[3]) == (Seqs{3, 4, 5, 6}));  // 2 was evicted
        BOOST_TEST(((*reads)[3].position.recovered == std::optional<bool>(false)));
        BOOST_TEST((*reads)[4].messages.empty());
        BOOST_TEST(((*reads)[4].position.recovered == std::optional<bool>(false)));
        // A seq of an epoch the stream no longer has says nothing of it: all that is kept.
        BOOST_TEST(seqs_of((*reads)[5]) == (Seqs{3, 4, 5, 6}));
        BOOST_TEST(((*reads)[5].position.recovered == std::optional<bool>(false)));
    });
    BOOST_TEST(cluster.stop());
}

BOOST_AUTO_TEST_CASE(heartbeats_count_the_live_nodes_and_say_when_one_was_taken_for_dead) {
    RedisServer redis;
    StoreSettings quick = node_settings("a");
    quick.node_ttl = milliseconds(500);
    quick.presence_ttl = milliseconds(1000);
    StoreSettings slow = node_settings("b");
    slow.node_ttl = milliseconds(500);
    Cluster cluster(redis, {quick, slow});
    run(cluster.test_io, [&]() -> awaitable<void> {
        co_await require_all_prepared(cluster);
        auto& a = cluster.store(0);
        auto& b = cluster.store(1);
        Heartbeat beat = co_await heartbeat_ok(b);
        BOOST_TEST(beat.alive == 1u);
        BOOST_TEST(beat.revived);  // a node new to the list writes its counts
        beat = co_await heartbeat_ok(a);
        BOOST_TEST(beat.alive == 2u);
        beat = co_await heartbeat_ok(a);
        BOOST_TEST(beat.alive == 2u);
        BOOST_TEST(!beat.revived);
        // b falls silent: a's heartbeats stop counting it once it has been silent for node_ttl.
        std::size_t alive = 2;
        for (int attempt = 0; attempt < 250 && alive != 1; ++attempt) {
            alive = (co_await heartbeat_ok(a)).alive;
            if (alive != 1) co_await pause_for(milliseconds(20));
        }
        BOOST_TEST(alive == 1u);
        // b comes back, and is told that it was taken for dead.
        beat = co_await heartbeat_ok(b);
        BOOST_TEST(beat.alive == 2u);
        BOOST_TEST(beat.revived);
        beat = co_await heartbeat_ok(b);
        BOOST_TEST(!beat.revived);
        // Silent for twice a's presence_ttl, b's counts have all expired: a drops it from the list.
        bool dropped = false;
        for (int attempt = 0; attempt < 250 && !dropped; ++attempt) {
            co_await heartbeat_ok(a);
            dropped = admin(redis, {"ZSCORE", std::string(nodes_key), "b"}).is_nil();
            if (!dropped) co_await pause_for(milliseconds(20));
        }
        BOOST_TEST(dropped);
        // Redis lost its data: every node is new to it.
        admin(redis, {"FLUSHALL"});
        beat = co_await heartbeat_ok(a);
        BOOST_TEST(beat.alive == 1u);
        BOOST_TEST(beat.revived);
    });
    BOOST_TEST(cluster.stop());
}

// A node that stops heartbeating stops counting as soon as the counting node's heartbeat has seen
// it silent, though its counts have not expired; back, it counts again.
BOOST_AUTO_TEST_CASE(a_silent_node_stops_counting_before_its_counts_expire) {
    RedisServer redis;
    StoreSettings a_settings = node_settings("a");
    a_settings.node_ttl = milliseconds(300);
    StoreSettings b_settings = node_settings("b");
    b_settings.node_ttl = milliseconds(300);
    Cluster cluster(redis, {a_settings, b_settings});
    run(cluster.test_io, [&]() -> awaitable<void> {
        co_await require_all_prepared(cluster);
        auto& a = cluster.store(0);
        auto& b = cluster.store(1);
        co_await heartbeat_ok(a);
        co_await heartbeat_ok(b);
        co_await set_presence_ok(a, "u", 1);
        co_await set_presence_ok(b, "u", 2);
        co_await heartbeat_ok(a);
        std::size_t counted = co_await presence_ok(a, "u");
        BOOST_TEST(counted == 3u);

        std::size_t alive = 2;
        for (int attempt = 0; attempt < 250 && alive != 1; ++attempt) {
            alive = (co_await heartbeat_ok(a)).alive;
            if (alive != 1) co_await pause_for(milliseconds(20));
        }
        BOOST_REQUIRE(alive == 1u);
        counted = co_await presence_ok(a, "u");
        BOOST_TEST(counted == 1u);
        PublishOutcome published = co_await publish_ok(a, "u", "1");
        BOOST_TEST(published.delivered == 1u);
        // Not counted, but kept: b may only have been taken for dead.
        BOOST_TEST(integer_of(redis, {"HEXISTS", user_keys("u").presence, "b"}) == 1);
        // A node that has not heartbeated since still counts b (its list is its last look).
        counted = co_await presence_ok(b, "u");
        BOOST_TEST(counted == 3u);

        co_await heartbeat_ok(b);
        co_await heartbeat_ok(a);
        counted = co_await presence_ok(a, "u");
        BOOST_TEST(counted == 3u);
        published = co_await publish_ok(a, "u", "2");
        BOOST_TEST(published.delivered == 3u);
    });
    BOOST_TEST(cluster.stop());
}

BOOST_AUTO_TEST_CASE(nothing_is_served_before_prepare_nor_by_a_prepare_the_link_outran) {
    RedisServer redis;
    Cluster cluster(redis, {node_settings("a")});
    run(cluster.test_io, [&]() -> awaitable<void> {
        auto& node = *cluster.nodes[0];
        auto& store = node.store;
        bool up = co_await node.events.wait_for(LinkEvent::connected, seconds(5));
        BOOST_REQUIRE(up);
        const error_code not_prepared = make_error_code(StoreError::not_prepared);
        auto refused = co_await publish_to(store, "u", "1");
        BOOST_TEST(refused.error() == not_prepared);
        auto read = co_await store.read("u", std::nullopt, 1);
        BOOST_TEST(read.error() == not_prepared);
        std::vector<std::pair<std::string, Since>> users{{"u", Since{}}};
        auto after = co_await store.read_after(users);
        BOOST_TEST(after.error() == not_prepared);
        std::vector<std::pair<std::string, std::size_t>> counts{{"u", 1}};
        auto set = co_await store.set_presence(counts);
        BOOST_TEST(set.error() == not_prepared);
        auto presence = co_await store.presence("u");
        BOOST_TEST(presence.error() == not_prepared);
        auto heartbeat = co_await store.heartbeat();
        BOOST_TEST(heartbeat.error() == not_prepared);
        BOOST_TEST(integer_of(redis, {"DBSIZE"}) == 0);

        // A prepare under way when the link is forgotten does not count.
        auto executor = co_await asio::this_coro::executor;
        asio::experimental::channel<void(error_code, boost::system::result<void>)> done(executor,
                                                                                        1);
        asio::co_spawn(executor, store.prepare(),
                       [&done](std::exception_ptr, boost::system::result<void> prepared) {
                           done.try_send(error_code(), prepared);
                       });
        co_await asio::post(executor, asio::use_awaitable);  // the prepare is on its way
        store.forget_link();
        auto [error, outran] = co_await done.async_receive(use_nothrow);
        BOOST_REQUIRE(!error);
        BOOST_TEST(outran.error() == not_prepared);
        auto still = co_await publish_to(store, "u", "1");
        BOOST_TEST(still.error() == not_prepared);

        auto prepared = co_await store.prepare();
        BOOST_REQUIRE(prepared.has_value());
        PublishOutcome published = co_await publish_ok(store, "u", "1");
        BOOST_TEST(published.seq == 1u);
    });
    BOOST_TEST(cluster.stop());
}

BOOST_AUTO_TEST_CASE(a_restart_without_persistence_gives_a_new_epoch_numbered_from_one) {
    RedisServer redis;
    Cluster cluster(redis, {node_settings("a")});
    run(cluster.test_io, [&]() -> awaitable<void> {
        auto& node = *cluster.nodes[0];
        co_await require_prepared(node);
        PublishOutcome before;
        for (int i = 1; i <= 3; ++i)
            before = co_await publish_ok(node.store, "u", std::to_string(i));

        redis.kill();
        bool down = co_await node.events.wait_for(LinkEvent::disconnected, seconds(5));
        BOOST_REQUIRE(down);
        redis.restart();
        bool up = co_await node.events.wait_for(LinkEvent::connected, seconds(5));
        BOOST_REQUIRE(up);
        // The link is up, but which Redis is behind it is not known yet.
        auto early = co_await publish_to(node.store, "u", "4");
        BOOST_TEST(early.error() == make_error_code(StoreError::not_prepared));
        auto prepared = co_await node.store.prepare();
        BOOST_REQUIRE(prepared.has_value());

        const Since before_3{before.epoch, 3};
        StreamRead resumed = co_await read_ok(node.store, "u", before_3);
        BOOST_TEST(resumed.position.epoch != before.epoch);
        BOOST_TEST(resumed.position.seq == 0u);
        BOOST_TEST((resumed.position.recovered == std::optional<bool>(false)));
        BOOST_TEST(resumed.messages.empty());
        PublishOutcome after = co_await publish_ok(node.store, "u", "4");
        BOOST_TEST(after.epoch == resumed.position.epoch);
        BOOST_TEST(after.seq == 1u);
    });
    BOOST_TEST(cluster.stop());
}

BOOST_AUTO_TEST_CASE(a_restart_with_its_data_keeps_the_keys_but_gives_every_stream_a_new_epoch) {
    // fsync always: with the default (every second), Redis may hold back its AOF writes while
    // an fsync is slow and still answer, so a kill can lose the last publishes. That loss is
    // why the epochs change; here the data must survive for sure, to show they change anyway.
    RedisServer redis({.append_only = true, .extra_args = {"--appendfsync", "always"}});
    Cluster cluster(redis, {node_settings("a")});
    const UserKeys keys = user_keys("u");
    run(cluster.test_io, [&]() -> awaitable<void> {
        auto& node = *cluster.nodes[0];
        co_await require_prepared(node);
        PublishOutcome before;
        for (int i = 1; i <= 3; ++i)
            before = co_await publish_ok(node.store, "u", std::to_string(i));

        redis.kill();
        bool down = co_await node.events.wait_for(LinkEvent::disconnected, seconds(5));
        BOOST_REQUIRE(down);
        redis.restart();
        // Redis kept everything...
        BOOST_TEST(admin(redis, {"HGET", keys.meta, "epoch"}) == Reply::string(before.epoch));
        BOOST_TEST(integer_of(redis, {"XLEN", keys.stream}) == 3);
        co_await require_prepared(node);

        // ...but it is another run, which may have lost the last second of writes (AOF's
        // default fsync): the stream starts a new epoch rather than risk a seq given twice.
        const Since before_3{before.epoch, 3};
        StreamRead resumed = co_await read_ok(node.store, "u", before_3);
        BOOST_TEST(resumed.position.epoch != before.epoch);
        BOOST_TEST(resumed.position.seq == 0u);
        BOOST_TEST((resumed.position.recovered == std::optional<bool>(false)));
        BOOST_TEST(resumed.messages.empty());
        BOOST_TEST(integer_of(redis, {"EXISTS", keys.stream}) == 0);
        PublishOutcome published = co_await publish_ok(node.store, "u", "4");
        BOOST_TEST(published.seq == 1u);
    });
    BOOST_TEST(cluster.stop());
}

BOOST_AUTO_TEST_CASE(a_lost_script_cache_is_loaded_again_and_each_call_made_once) {
    RedisServer redis;
    Cluster cluster(redis, {node_settings("a")});
    run(cluster.test_io, [&]() -> awaitable<void> {
        co_await require_all_prepared(cluster);
        auto& store = cluster.store();
        PublishOutcome first = co_await publish_ok(store, "u", "1");
        admin(redis, {"SCRIPT", "FLUSH"});
        std::vector<std::string> uids{"u", "v"};
        MessageBodyPtr two = body_of("2");
        auto both = co_await store.publish(std::move(uids), two, std::nullopt);
        BOOST_REQUIRE_MESSAGE(both.has_value(), both.error().message());
        BOOST_TEST((*both)[0].seq == 2u);  // the refused call did nothing; made once again
        BOOST_TEST((*both)[0].epoch == first.epoch);
        BOOST_TEST((*both)[1].seq == 1u);

        // Every other script too.
        admin(redis, {"SCRIPT", "FLUSH"});
        const Since first_0{first.epoch, 0};
        StreamRead read = co_await read_ok(store, "u", first_0);
        BOOST_TEST(seqs_of(read) == (Seqs{1, 2}));
        admin(redis, {"SCRIPT", "FLUSH"});
        co_await set_presence_ok(store, "u", 2);
        admin(redis, {"SCRIPT", "FLUSH"});
        std::size_t counted = co_await presence_ok(store, "u");
        BOOST_TEST(counted == 2u);
        admin(redis, {"SCRIPT", "FLUSH"});
        std::size_t nodes = (co_await heartbeat_ok(store)).alive;
        BOOST_TEST(nodes == 1u);
        admin(redis, {"SCRIPT", "FLUSH"});
        std::vector<std::pair<std::string, Since>> users{{"u", Since{first.epoch, 1}}};
        auto after = co_await store.read_after(std::move(users));
        BOOST_REQUIRE(after.has_value());
        BOOST_TEST(seqs_of(after->front()) == (Seqs{2}));
    });
    BOOST_TEST(cluster.stop());
}

BOOST_AUTO_TEST_CASE(a_full_redis_refuses_publishes_as_errors_and_nothing_is_half_done) {
    RedisServer redis;
    Cluster cluster(redis, {node_settings("a")});
    const UserKeys keys = user_keys("u");
    run(cluster.test_io, [&]() -> awaitable<void> {
        co_await require_all_prepared(cluster);
        auto& store = cluster.store();
        PublishOutcome first = co_await publish_ok(store, "u", R"("before")");

        admin(redis, {"CONFIG", "SET", "maxmemory-policy", "noeviction"});
        admin(redis, {"CONFIG", "SET", "maxmemory", "1mb"});
        // Filled until Redis refuses a write (at once if it is already past 1 MB).
        bool full = false;
        const std::string block(64 * 1024, 'x');
        for (int i = 0; i < 64 && !full; ++i)
            full = admin(redis, {"SET", "fill:" + std::to_string(i), block}).is_error();
        BOOST_REQUIRE_MESSAGE(full, "redis never ran out of memory");

        auto refused = co_await publish_to(store, "u", R"("during")");
        BOOST_REQUIRE(refused.has_error());
        BOOST_TEST(refused.error() == make_error_code(StoreError::redis_refused));
        std::vector<std::string> uids{"u", "v"};
        MessageBodyPtr one = body_of("1");
        std::optional<std::string> key = "key";
        auto refused_many = co_await store.publish(std::move(uids), one, key);
        BOOST_TEST(refused_many.error() == make_error_code(StoreError::redis_refused));
        // Nothing of the refused publishes is left behind: no seq taken, no idempotency key.
        BOOST_TEST(admin(redis, {"HGET", keys.meta, "seq"}) == Reply::string("1"));
        BOOST_TEST(integer_of(redis, {"EXISTS", idempotency_key("u", "key")}) == 0);
        BOOST_TEST(integer_of(redis, {"EXISTS", user_keys("v").meta}) == 0);

        admin(redis, {"CONFIG", "SET", "maxmemory", "0"});
        PublishOutcome after = co_await publish_ok(store, "u", R"("after")");
        BOOST_TEST(after.epoch == first.epoch);
        BOOST_TEST(after.seq == 2u);  // no gap
    });
    BOOST_TEST(cluster.stop());
}

BOOST_AUTO_TEST_SUITE_END()
