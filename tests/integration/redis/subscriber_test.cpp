// The subscriber against a real redis-server: confirmations, messages, and resubscription
// after the link was killed, went silent, or the server paused.
#include "herald/redis/subscriber.hpp"

#include <boost/test/unit_test.hpp>

#include "herald/redis/command_connection.hpp"
#include "herald/redis/error.hpp"
#include "support/redis_harness.hpp"
#include "support/run.hpp"
#include "support/tcp_proxy.hpp"

using namespace herald;
using namespace herald::test;
using redis::LinkEvent;
using redis::RedisError;
using redis::Reply;
using redis::Subscriber;
using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

namespace {

// A subscriber to `settings`, owned as a server would own it, with its events and messages
// logged for the test thread. Members in the order that makes a failed test still wind down.
struct Subscribed {
    explicit Subscribed(redis::RedisSettings settings)
        : events(test_io.get_executor()),
          messages(test_io.get_executor()),
          subscriber(owner_io.get_executor(), std::move(settings)) {
        subscriber.on_event(events.handler());
        subscriber.on_message(messages.handler());
        subscriber.start();
        owner.emplace(owner_io);
    }

    bool stop() {
        subscriber.stop();
        return owner->join();
    }

    asio::io_context test_io;
    EventLog events;
    MessageLog messages;
    asio::io_context owner_io;
    Subscriber subscriber;
    std::optional<OwnerThreads> owner;
};

// PUBLISH through an admin connection; how many subscribers received it.
std::int64_t publish(const RedisServer& redis, const std::string& channel,
                     const std::string& payload) {
    auto receivers = redis.command({"PUBLISH", channel, payload});
    BOOST_REQUIRE(receivers.has_value());
    BOOST_REQUIRE(receivers->type == Reply::Type::integer);
    return receivers->integer;
}

awaitable<void> require_event(EventLog& events, LinkEvent event) {
    bool seen = co_await events.wait_for(event, seconds(5));
    BOOST_REQUIRE_MESSAGE(seen, "no " << redis::to_string(event) << " within 5 s");
}

awaitable<void> require_message(MessageLog& messages, std::string channel, std::string payload) {
    auto message = co_await messages.next();
    BOOST_REQUIRE_MESSAGE(message.has_value(), "no message on " << channel);
    BOOST_TEST(message->first == channel);
    BOOST_TEST(message->second == payload);
}

milliseconds since(Clock::time_point start) {
    return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

// The calls= count of a command in INFO commandstats.
long command_calls(const RedisServer& redis, const std::string& command) {
    std::string stats = info_field(redis, "commandstats", "cmdstat_" + command);
    if (stats.empty()) return 0;
    return std::stol(stats.substr(stats.find("calls=") + 6));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(redis_subscriber)

BOOST_AUTO_TEST_CASE(a_confirmed_subscription_receives_every_message_in_order) {
    RedisServer redis;
    Subscribed client(fast_settings(redis.settings(), "herald-test-sub"));
    run(client.test_io, [&]() -> awaitable<void> {
        co_await require_event(client.events, LinkEvent::connected);
        co_await require_event(client.events, LinkEvent::resubscribed);  // nothing to redo
        BOOST_TEST(client.subscriber.connected());
        auto subscribed = co_await client.subscriber.subscribe("news");
        BOOST_REQUIRE(subscribed.has_value());
        // Confirmed means subscribed: a publish right after it reaches us.
        for (int i = 0; i < 100; ++i)
            BOOST_TEST(publish(redis, "news", "m" + std::to_string(i)) == 1);
        BOOST_TEST(publish(redis, "other", "x") == 0);
        for (int i = 0; i < 100; ++i)
            co_await require_message(client.messages, "news", "m" + std::to_string(i));

        auto again = co_await client.subscriber.subscribe("news");  // already: at once
        BOOST_TEST(again.has_value());
        auto pong = co_await client.subscriber.ping();
        BOOST_TEST(pong.has_value());

        auto unsubscribed = co_await client.subscriber.unsubscribe("news");
        BOOST_REQUIRE(unsubscribed.has_value());
        BOOST_TEST(publish(redis, "news", "gone") == 0);
    });
    auto clients = redis.command({"CLIENT", "LIST"});
    BOOST_REQUIRE(clients.has_value());
    BOOST_TEST(clients->text.find("name=herald-test-sub ") != std::string::npos);
    BOOST_TEST(client.stop());
}

BOOST_AUTO_TEST_CASE(a_killed_pubsub_link_is_made_again_and_every_channel_resubscribed) {
    RedisServer redis;
    auto settings = fast_settings(redis.settings(), "herald-test-sub");
    settings.subscribe_batch = 512;
    Subscribed client(settings);
    constexpr int channels = 1100;
    auto name = [](int i) { return "ch:" + std::to_string(i); };
    run(client.test_io, [&]() -> awaitable<void> {
        co_await require_event(client.events, LinkEvent::resubscribed);
        for (int i = 0; i < channels; ++i) {
            auto subscribed = co_await client.subscriber.subscribe(name(i));
            BOOST_REQUIRE(subscribed.has_value());
        }
        long subscribes_before = command_calls(redis, "subscribe");

        auto killed = redis.command({"CLIENT", "KILL", "TYPE", "pubsub"});
        BOOST_REQUIRE(killed.has_value());
        BOOST_TEST(*killed == Reply::number(1));
        co_await require_event(client.events, LinkEvent::disconnected);
        co_await require_event(client.events, LinkEvent::connected);
        co_await require_event(client.events, LinkEvent::resubscribed);

        // Every channel is back, in three SUBSCRIBEs of at most 512 channels.
        BOOST_TEST(command_calls(redis, "subscribe") - subscribes_before == 3);
        std::vector<std::string> numsub{"PUBSUB", "NUMSUB"};
        for (int i = 0; i < channels; ++i)
            numsub.push_back(name(i));
        auto counts = redis.command(numsub);
        BOOST_REQUIRE(counts.has_value());
        BOOST_REQUIRE_EQUAL(counts->elements.size(), 2u * channels);
        int subscribed = 0;
        for (int i = 0; i < channels; ++i)
            subscribed += counts->elements[2 * i + 1] == Reply::number(1);
        BOOST_TEST(subscribed == channels);

        BOOST_TEST(publish(redis, name(0), "first") == 1);
        BOOST_TEST(publish(redis, name(channels - 1), "last") == 1);
        co_await require_message(client.messages, name(0), "first");
        co_await require_message(client.messages, name(channels - 1), "last");
    });
    BOOST_TEST(client.stop());
}

BOOST_AUTO_TEST_CASE(a_silently_dropped_link_is_noticed_by_the_health_check) {
    RedisServer redis;
    TcpProxy proxy(redis.port());
    auto settings = fast_settings(redis.settings(), "herald-test-sub");
    settings.port = proxy.port();
    settings.health_check_interval = milliseconds(200);
    settings.timeout = milliseconds(300);
    Subscribed client(settings);
    run(client.test_io, [&]() -> awaitable<void> {
        co_await require_event(client.events, LinkEvent::resubscribed);
        auto subscribed = co_await client.subscriber.subscribe("news");
        BOOST_REQUIRE(subscribed.has_value());

        // Redis still sends, nothing arrives, and no one says so: only a probe can tell.
        proxy.blackhole(TcpProxy::Direction::to_client);
        auto start = Clock::now();
        co_await require_event(client.events, LinkEvent::disconnected);
        BOOST_TEST(since(start) < milliseconds(1500));  // interval + timeout, and some slack
        BOOST_TEST(!client.subscriber.connected());

        proxy.restore();
        co_await require_event(client.events, LinkEvent::resubscribed);
        BOOST_TEST(proxy.links_accepted() >= 2u);
        BOOST_TEST(publish(redis, "news", "back") == 1);
        co_await require_message(client.messages, "news", "back");
    });
    BOOST_TEST(client.stop());
}

BOOST_AUTO_TEST_CASE(a_subscribe_that_is_not_confirmed_in_time_fails_and_is_redone_later) {
    RedisServer redis;
    Subscribed client(fast_settings(redis.settings(), "herald-test-sub"));
    run(client.test_io, [&]() -> awaitable<void> {
        co_await require_event(client.events, LinkEvent::resubscribed);
        redis.pause();
        auto start = Clock::now();
        auto subscribed = co_await client.subscriber.subscribe("news");
        BOOST_REQUIRE(subscribed.has_error());
        BOOST_TEST(subscribed.error() == make_error_code(RedisError::timeout));
        BOOST_TEST(since(start) >= milliseconds(450));
        BOOST_TEST(since(start) < milliseconds(1500));
        co_await require_event(client.events, LinkEvent::disconnected);

        // Not up: a subscribe fails, at once while no link is being made (not_connected) or
        // with the handshake that the paused server leaves unanswered (timeout); its channel
        // joins the set all the same.
        start = Clock::now();
        auto refused = co_await client.subscriber.subscribe("sports");
        BOOST_REQUIRE(refused.has_error());
        BOOST_TEST((refused.error() == make_error_code(RedisError::not_connected) ||
                    refused.error() == make_error_code(RedisError::timeout)));
        BOOST_TEST(since(start) < milliseconds(1500));

        redis.resume();
        co_await require_event(client.events, LinkEvent::resubscribed);
        BOOST_TEST(publish(redis, "news", "n") == 1);
        BOOST_TEST(publish(redis, "sports", "s") == 1);
        co_await require_message(client.messages, "news", "n");
        co_await require_message(client.messages, "sports", "s");
    });
    BOOST_TEST(client.stop());
}

BOOST_AUTO_TEST_CASE(a_restarted_server_gets_the_whole_set_again) {
    RedisServer redis;
    Subscribed client(fast_settings(redis.settings(), "herald-test-sub"));
    run(client.test_io, [&]() -> awaitable<void> {
        co_await require_event(client.events, LinkEvent::resubscribed);
        const std::vector<std::string> set{"a", "b", "c"};
        for (const auto& channel : set) {
            auto subscribed = co_await client.subscriber.subscribe(channel);
            BOOST_REQUIRE(subscribed.has_value());
        }
        redis.kill();
        co_await require_event(client.events, LinkEvent::disconnected);
        redis.restart();
        co_await require_event(client.events, LinkEvent::resubscribed);
        for (const auto& channel : set) {
            BOOST_TEST(publish(redis, channel, "hi " + channel) == 1);
            co_await require_message(client.messages, channel, "hi " + channel);
        }
    });
    BOOST_TEST(client.stop());
}

BOOST_AUTO_TEST_CASE(a_channel_the_acl_forbids_is_refused_and_leaves_the_set) {
    RedisServer redis;
    auto created = redis.command(
        {"ACL", "SETUSER", "herald", "on", ">pw", "~*", "+@all", "resetchannels", "&allowed:*"});
    BOOST_REQUIRE(created.has_value());
    auto settings = fast_settings(redis.settings(), "herald-test-sub");
    settings.user = "herald";
    settings.password = "pw";
    Subscribed client(settings);
    run(client.test_io, [&]() -> awaitable<void> {
        co_await require_event(client.events, LinkEvent::resubscribed);
        auto forbidden = co_await client.subscriber.subscribe("secret");
        BOOST_REQUIRE(forbidden.has_error());
        BOOST_TEST(forbidden.error() == make_error_code(RedisError::refused));
        // The link is still in step: the next subscribe works.
        auto allowed = co_await client.subscriber.subscribe("allowed:1");
        BOOST_REQUIRE(allowed.has_value());
        BOOST_TEST(publish(redis, "allowed:1", "ok") == 1);
        co_await require_message(client.messages, "allowed:1", "ok");
        BOOST_TEST(client.subscriber.connected());
    });
    BOOST_TEST(client.stop());
}

BOOST_AUTO_TEST_SUITE_END()
