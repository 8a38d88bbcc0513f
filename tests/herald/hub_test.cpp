// The hub's semantics, with real outboxes and no sockets: everything runs on one io_context on
// the test thread.
#include "herald/hub.hpp"

#include <boost/asio/experimental/channel_error.hpp>
#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>

#include "support/run.hpp"

using namespace herald;
using herald::test::run;
using namespace std::chrono_literals;

namespace {

struct HubFixture {
    explicit HubFixture(HubOptions options = {}) : hub(io_context.get_executor(), options) {
        hub.start();
    }

    std::shared_ptr<Connection> connection(std::string uid, OutboxLimits limits = {16, 1 << 20}) {
        return std::make_shared<Connection>(io_context.get_executor(), ++next_id,
                                            Login{std::move(uid), {}, Protocol::seed},
                                            tcp::endpoint{}, limits);
    }

    ~HubFixture() {
        hub.close_all();
        io_context.run_for(1s);  // lets the ticker wind down
    }

    asio::io_context io_context;
    Hub hub;
    std::uint64_t next_id = 0;
};

// A braced list of uids inside a co_await expression trips g++ 12 ("array used as
// initializer"), so the tests build their lists here.
template <typename... Uid>
std::vector<std::string> users(Uid... uid) {
    return {uid...};
}

MessagePtr text(std::string content) {
    return make_message(boost::json::string(content));
}

// The next item of the connection's outbox, as its writer would take it; fails the test if the
// outbox was closed.
awaitable<Outgoing> next(Connection& connection) {
    auto [error, outgoing] = co_await connection.receive();
    BOOST_REQUIRE_MESSAGE(!error, "outbox ended: " << error.message());
    connection.sent(outgoing);
    co_return outgoing;
}

// Receives from the outbox until it ends; returns why it ended.
awaitable<error_code> closed(Connection& connection) {
    for (;;) {
        auto [error, outgoing] = co_await connection.receive();
        if (error) co_return error;
        connection.sent(outgoing);
    }
}

awaitable<std::string> next_text(Connection& connection) {
    Outgoing outgoing = co_await next(connection);
    BOOST_REQUIRE(outgoing.kind == Outgoing::Kind::message);
    co_return outgoing.message->text;
}

}  // namespace

// Assertions never hold a co_await: g++ 12 miscompiles some temporaries of an expression that
// suspends, so every awaited value is named first.

BOOST_AUTO_TEST_SUITE(hub)

BOOST_FIXTURE_TEST_CASE(a_message_reaches_every_connection_of_its_user_and_no_other, HubFixture) {
    run(io_context, [&]() -> awaitable<void> {
        auto phone = connection("alice");
        auto laptop = connection("alice");
        auto other = connection("bob");
        for (auto& each : {phone, laptop, other}) {
            bool joined = co_await hub.join(each);
            BOOST_TEST(joined);
        }

        std::size_t to_alice = co_await hub.publish(users("alice"), text("for alice"));
        std::size_t to_bob = co_await hub.publish(users("bob"), text("for bob"));
        BOOST_TEST(to_alice == 2u);
        BOOST_TEST(to_bob == 1u);

        std::string on_phone = co_await next_text(*phone);
        std::string on_laptop = co_await next_text(*laptop);
        std::string on_other = co_await next_text(*other);
        BOOST_TEST(on_phone == "for alice");
        BOOST_TEST(on_laptop == "for alice");
        BOOST_TEST(on_other == "for bob");  // not alice's message first

        HubStats stats = co_await hub.stats();
        BOOST_TEST(stats.connections == 3u);
        BOOST_TEST(stats.users == 2u);
        BOOST_TEST(stats.messages_published == 2u);
        BOOST_TEST(stats.messages_delivered == 3u);
    });
}

BOOST_FIXTURE_TEST_CASE(one_message_to_many_users_shares_one_payload, HubFixture) {
    run(io_context, [&]() -> awaitable<void> {
        auto a = connection("a");
        auto b = connection("b");
        co_await hub.join(a);
        co_await hub.join(b);
        MessagePtr message = text("shared");
        std::size_t delivered = co_await hub.publish(users("a", "b", "nobody"), message);
        BOOST_TEST(delivered == 2u);
        Outgoing to_a = co_await next(*a);
        Outgoing to_b = co_await next(*b);
        BOOST_TEST(to_a.message.get() == message.get());
        BOOST_TEST(to_b.message.get() == message.get());
        HubStats stats = co_await hub.stats();
        BOOST_TEST(stats.messages_published == 3u);
    });
}

BOOST_FIXTURE_TEST_CASE(unknown_users_and_departed_connections_get_nothing, HubFixture) {
    run(io_context, [&]() -> awaitable<void> {
        std::size_t to_nobody = co_await hub.publish(users("nobody"), text("x"));
        BOOST_TEST(to_nobody == 0u);
        auto gone = connection("carol");
        co_await hub.join(gone);
        hub.leave(gone);
        std::size_t to_carol = co_await hub.publish(users("carol"), text("x"));
        BOOST_TEST(to_carol == 0u);
        HubStats stats = co_await hub.stats();
        BOOST_TEST(stats.connections == 0u);
        BOOST_TEST(stats.users == 0u);
    });
}

BOOST_FIXTURE_TEST_CASE(a_full_outbox_closes_its_connection_as_a_slow_consumer, HubFixture) {
    run(io_context, [&]() -> awaitable<void> {
        auto slow = connection("slow", {2, 1 << 20});
        auto fast = connection("fast");
        co_await hub.join(slow);
        co_await hub.join(fast);
        std::vector<std::size_t> delivered;
        for (const char* each : {"1", "2", "3"})
            delivered.push_back(co_await hub.publish(users("slow", "fast"), text(each)));
        BOOST_TEST(delivered == (std::vector<std::size_t>{2, 2, 1}),
                   boost::test_tools::per_element());

        HubStats stats = co_await hub.stats();
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

BOOST_FIXTURE_TEST_CASE(the_byte_limit_counts_too, HubFixture) {
    run(io_context, [&]() -> awaitable<void> {
        auto small = connection("small", {100, 10});
        co_await hub.join(small);
        std::size_t fits = co_await hub.publish(users("small"), text("12345678"));
        std::size_t overflows = co_await hub.publish(users("small"), text("123"));
        BOOST_TEST(fits == 1u);
        BOOST_TEST(overflows == 0u);
        HubStats stats = co_await hub.stats();
        BOOST_TEST(stats.slow_consumer_disconnects == 1u);
    });
}

BOOST_FIXTURE_TEST_CASE(sent_messages_free_their_budget, HubFixture) {
    run(io_context, [&]() -> awaitable<void> {
        auto reader = connection("reader", {1, 10});
        co_await hub.join(reader);
        for (int i = 0; i < 5; ++i) {
            std::size_t delivered = co_await hub.publish(users("reader"), text("0123456789"));
            BOOST_TEST(delivered == 1u);
            co_await next(*reader);
        }
        HubStats stats = co_await hub.stats();
        BOOST_TEST(stats.slow_consumer_disconnects == 0u);
    });
}

BOOST_FIXTURE_TEST_CASE(close_all_flushes_then_closes_and_refuses_new_joins, HubFixture) {
    run(io_context, [&]() -> awaitable<void> {
        auto member = connection("member");
        co_await hub.join(member);
        co_await hub.publish(users("member"), text("last words"));
        hub.close_all();
        bool late_joined = co_await hub.join(connection("late"));
        BOOST_TEST(!late_joined);
        std::string flushed = co_await next_text(*member);
        Outgoing last = co_await next(*member);
        BOOST_TEST(flushed == "last words");
        BOOST_TEST((last.kind == Outgoing::Kind::close));
        BOOST_TEST(member->close_reason().code == 1001);
        HubStats stats = co_await hub.stats();
        BOOST_TEST(stats.connections == 0u);
    });
}

BOOST_AUTO_TEST_CASE(keep_alive_pings_and_closes_the_silent) {
    HubFixture fixture(HubOptions{20ms, 40ms, 1s});
    run(fixture.io_context, [&]() -> awaitable<void> {
        auto lively = fixture.connection("lively");
        auto silent = fixture.connection("silent");
        co_await fixture.hub.join(lively);
        co_await fixture.hub.join(silent);

        // The lively one answers every ping, as a client's pong would.
        for (int pings = 0; pings < 5; ++pings) {
            Outgoing ping = co_await next(*lively);
            BOOST_TEST((ping.kind == Outgoing::Kind::ping));
            lively->touch();
        }
        // The silent one never did, so the hub closed it once the pong timeout had passed.
        error_code end = co_await closed(*silent);
        BOOST_TEST((end == asio::experimental::error::channel_closed));
        BOOST_TEST(silent->close_reason().reason == close_reasons::pong_timeout.reason);

        std::size_t delivered = co_await fixture.hub.publish(users("lively"), text("still here"));
        BOOST_TEST(delivered == 1u);
        HubStats stats = co_await fixture.hub.stats();
        BOOST_TEST(stats.connections == 1u);
    });
}

BOOST_AUTO_TEST_SUITE_END()
