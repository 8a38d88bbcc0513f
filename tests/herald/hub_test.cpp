// The hub's semantics with a single node's engine above it: fan-out to a user's connections,
// slow consumers, closes and shutdown.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/channel_error.hpp>
#include <boost/test/unit_test.hpp>

#include "herald/engine_fixture.hpp"

using namespace herald;
using namespace herald::test;
using namespace std::chrono_literals;

// Assertions never hold a co_await: g++ 12 miscompiles some temporaries of an expression that
// suspends, so every awaited value is named first.

BOOST_AUTO_TEST_SUITE(hub)

BOOST_FIXTURE_TEST_CASE(a_message_reaches_every_connection_of_its_user_and_no_other,
                        EngineFixture) {
    run(io_context, [&]() -> awaitable<void> {
        auto phone = connection("alice");
        auto laptop = connection("alice");
        auto other = connection("bob");
        for (auto& each : {phone, laptop, other}) {
            bool joined = (co_await join(each)).joined;
            BOOST_TEST(joined);
        }

        std::size_t to_alice = (co_await publish(users("alice"), text("for alice"))).delivered;
        std::size_t to_bob = (co_await publish(users("bob"), text("for bob"))).delivered;
        BOOST_TEST(to_alice == 2u);
        BOOST_TEST(to_bob == 1u);

        std::string on_phone = co_await next_text(*phone);
        std::string on_laptop = co_await next_text(*laptop);
        std::string on_other = co_await next_text(*other);
        BOOST_TEST(on_phone == "for alice");
        BOOST_TEST(on_laptop == "for alice");
        BOOST_TEST(on_other == "for bob");  // not alice's message first

        Stats stats = co_await all_stats();
        BOOST_TEST(stats.connections == 3u);
        BOOST_TEST(stats.users == 2u);
        BOOST_TEST(stats.messages_published == 2u);
        BOOST_TEST(stats.messages_delivered == 3u);
    });
}

BOOST_FIXTURE_TEST_CASE(one_message_to_many_users_shares_one_payload, EngineFixture) {
    run(io_context, [&]() -> awaitable<void> {
        auto a = connection("a");
        auto b = connection("b");
        co_await join(a);
        co_await join(b);
        MessageBodyPtr message = text("shared");
        std::size_t delivered = (co_await publish(users("a", "b", "nobody"), message)).delivered;
        BOOST_TEST(delivered == 2u);
        Outgoing to_a = co_await next(*a);
        Outgoing to_b = co_await next(*b);
        BOOST_TEST(to_a.message->body.get() == message.get());
        BOOST_TEST(to_b.message->body.get() == message.get());
        Stats stats = co_await all_stats();
        BOOST_TEST(stats.messages_published == 3u);
    });
}

BOOST_FIXTURE_TEST_CASE(unknown_users_and_departed_connections_get_nothing, EngineFixture) {
    run(io_context, [&]() -> awaitable<void> {
        std::size_t to_nobody = (co_await publish(users("nobody"), text("x"))).delivered;
        BOOST_TEST(to_nobody == 0u);
        auto gone = connection("carol");
        co_await join(gone);
        leave(gone);
        std::size_t to_carol = (co_await publish(users("carol"), text("x"))).delivered;
        BOOST_TEST(to_carol == 0u);
        Stats stats = co_await all_stats();
        BOOST_TEST(stats.connections == 0u);
        BOOST_TEST(stats.users == 0u);
    });
}

BOOST_FIXTURE_TEST_CASE(a_full_outbox_closes_its_connection_as_a_slow_consumer, EngineFixture) {
    run(io_context, [&]() -> awaitable<void> {
        auto slow = connection("slow", {2, 1 << 20});
        auto fast = connection("fast");
        co_await join(slow);
        co_await join(fast);
        std::vector<std::size_t> delivered;
        for (const char* each : {"1", "2", "3"})
            delivered.push_back((co_await publish(users("slow", "fast"), text(each))).delivered);
        BOOST_TEST(delivered == (std::vector<std::size_t>{2, 2, 1}),
                   boost::test_tools::per_element());

        Stats stats = co_await all_stats();
        BOOST_TEST(stats.slow_consumer_disconnects == 1u);
        BOOST_TEST(stats.connections == 1u);
        // Its queue is dropped at once and it learns why; the other connection lost nothing.
        error_code end = co_await closed(*slow);
        BOOST_TEST((end == asio::experimental::error::channel_closed));
        BOOST_TEST(slow->close_reason().reason == close_reasons::slow_consumer.reason);
        for (const char* expected : {"1", "2", "3"}) {
            std::string received = co_await next_text(*fast);
            BOOST_TEST(received == expected);
        }
    });
}

BOOST_FIXTURE_TEST_CASE(the_byte_limit_counts_too, EngineFixture) {
    run(io_context, [&]() -> awaitable<void> {
        auto small = connection("small", {100, 10});
        co_await join(small);
        std::size_t fits = (co_await publish(users("small"), text("12345678"))).delivered;
        std::size_t overflows = (co_await publish(users("small"), text("123"))).delivered;
        BOOST_TEST(fits == 1u);
        BOOST_TEST(overflows == 0u);
        Stats stats = co_await all_stats();
        BOOST_TEST(stats.slow_consumer_disconnects == 1u);
    });
}

BOOST_FIXTURE_TEST_CASE(sent_messages_free_their_budget, EngineFixture) {
    run(io_context, [&]() -> awaitable<void> {
        auto reader = connection("reader", {1, 10});
        co_await join(reader);
        for (int i = 0; i < 5; ++i) {
            std::size_t delivered =
                (co_await publish(users("reader"), text("0123456789"))).delivered;
            BOOST_TEST(delivered == 1u);
            co_await next(*reader);
        }
        Stats stats = co_await all_stats();
        BOOST_TEST(stats.slow_consumer_disconnects == 0u);
    });
}

BOOST_FIXTURE_TEST_CASE(close_all_flushes_then_closes_and_refuses_new_joins, EngineFixture) {
    run(io_context, [&]() -> awaitable<void> {
        auto member = connection("member");
        co_await join(member);
        co_await publish(users("member"), text("last words"));
        hub.close_all();
        bool late_joined = (co_await join(connection("late"))).joined;
        BOOST_TEST(!late_joined);
        std::string flushed = co_await next_text(*member);
        Outgoing last = co_await next(*member);
        BOOST_TEST(flushed == "last words");
        BOOST_TEST((last.kind == Outgoing::Kind::close));
        BOOST_TEST(member->close_reason().code == 1001);
        Stats stats = co_await all_stats();
        BOOST_TEST(stats.connections == 0u);
    });
}

BOOST_FIXTURE_TEST_CASE(pings_never_crowd_out_messages, EngineFixture) {
    run(io_context, [&]() -> awaitable<void> {
        auto stuck = connection("stuck", OutboxLimits{2, 1 << 20});
        co_await join(stuck);
        // Ping after ping while the writer is stuck in a write: one waits, the others are
        // not queued.
        for (int i = 0; i < 4; ++i)
            stuck->enqueue_ping();
        Published first = co_await publish(users("stuck"), text("one"));
        Published second = co_await publish(users("stuck"), text("two"));
        BOOST_TEST(first.delivered == 1u);
        BOOST_TEST(second.delivered == 1u);
        Stats stats = co_await all_stats();
        BOOST_TEST(stats.slow_consumer_disconnects == 0u);
        Outgoing ping = co_await next(*stuck);
        BOOST_TEST((ping.kind == Outgoing::Kind::ping));
        std::string one = co_await next_text(*stuck);
        std::string two = co_await next_text(*stuck);
        BOOST_TEST(one == "one");
        BOOST_TEST(two == "two");
        stuck->enqueue_ping();  // the last one was sent: the next may go
        Outgoing again = co_await next(*stuck);
        BOOST_TEST((again.kind == Outgoing::Kind::ping));
    });
}

BOOST_FIXTURE_TEST_CASE(a_close_for_its_own_side_unregisters_the_connection, EngineFixture) {
    run(io_context, [&]() -> awaitable<void> {
        auto flooding = connection("flooding");
        co_await join(flooding);
        co_await publish(users("flooding"), text("before"));
        hub.close(flooding, close_reasons::inbound_rate, true);
        Published after = co_await publish(users("flooding"), text("after"));
        BOOST_TEST(after.delivered == 0u);  // not queued behind the close, and not counted
        Stats stats = co_await all_stats();
        BOOST_TEST(stats.connections == 0u);
        std::string before = co_await next_text(*flooding);
        BOOST_TEST(before == "before");
        auto [error, last] = co_await flooding->receive();
        BOOST_TEST(!error);
        BOOST_TEST((last.kind == Outgoing::Kind::close));
        BOOST_TEST(flooding->close_reason().reason == close_reasons::inbound_rate.reason);
    });
}

BOOST_AUTO_TEST_SUITE_END()
