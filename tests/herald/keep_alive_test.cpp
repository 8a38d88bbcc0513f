// Keep-alive as the hub drives it: pings, pong deadlines, first pings spread, rounds in slices.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/channel_error.hpp>
#include <boost/test/unit_test.hpp>

#include "herald/engine_fixture.hpp"

using namespace herald;
using namespace herald::test;
using namespace std::chrono_literals;

namespace {

// Receivers for the keep-alive tests, each a coroutine of its own beside the others.
awaitable<void> first_ping(std::shared_ptr<Connection> connection, Clock::time_point* at,
                           Countdown* pinged) {
    Outgoing ping = co_await next(*connection);
    BOOST_TEST((ping.kind == Outgoing::Kind::ping));
    *at = Clock::now();
    pinged->done();
}

// Answers every ping as a client's pong would, until the outbox ends; reports once `pings` were
// answered, or the connection was closed before (counted). The counters are the test's, so they
// are not touched after that report.
awaitable<void> answer_pings(std::shared_ptr<Connection> connection, int pings,
                             std::size_t* closed_count, Countdown* finished) {
    for (int answered = 0;; ++answered) {
        if (answered == pings) finished->done();
        auto [error, outgoing] = co_await connection->receive();
        if (error) {
            if (answered < pings) {
                ++*closed_count;
                finished->done();
            }
            co_return;
        }
        connection->sent(outgoing);
        connection->touch();
    }
}

// Never answers; counts the connection unless the hub closed it for its silence.
awaitable<void> stay_silent(std::shared_ptr<Connection> connection, std::size_t* kept_count,
                            Countdown* finished) {
    error_code end = co_await closed(*connection);
    if (end != asio::experimental::error::channel_closed ||
        connection->close_reason().reason != close_reasons::pong_timeout.reason)
        ++*kept_count;
    finished->done();
}

}  // namespace

// Assertions never hold a co_await: g++ 12 miscompiles some temporaries of an expression that
// suspends, so every awaited value is named first.

BOOST_AUTO_TEST_SUITE(keep_alive)

BOOST_AUTO_TEST_CASE(keep_alive_pings_and_closes_the_silent) {
    EngineFixture fixture(keep_alive_config(20ms, 40ms, 1s));
    run(fixture.io_context, [&]() -> awaitable<void> {
        auto lively = fixture.connection("lively");
        auto silent = fixture.connection("silent");
        co_await fixture.join(lively);
        co_await fixture.join(silent);

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

        std::size_t delivered =
            (co_await fixture.publish(users("lively"), text("still here"))).delivered;
        BOOST_TEST(delivered == 1u);
        Stats stats = co_await fixture.all_stats();
        BOOST_TEST(stats.connections == 1u);
    });
}

// Connections that joined together (a reconnect storm after a restart) are not all pinged in
// one tick: their first pings fall at random over the second half of the interval.
BOOST_AUTO_TEST_CASE(first_pings_of_connections_that_joined_together_are_spread) {
    constexpr std::size_t count = 1000;
    EngineFixture fixture(keep_alive_config(400ms, 10s, 1s));
    run(fixture.io_context, [&]() -> awaitable<void> {
        std::vector<std::shared_ptr<Connection>> connections = co_await fixture.join_users(count);
        std::vector<Clock::time_point> pinged(count);
        Countdown all_pinged(fixture.io_context, count);
        for (std::size_t i = 0; i < count; ++i)
            asio::co_spawn(fixture.io_context, first_ping(connections[i], &pinged[i], &all_pinged),
                           asio::detached);
        co_await all_pinged.wait();

        auto [first, last] = std::minmax_element(pinged.begin(), pinged.end());
        // All at once would be within one round (100 ms); spread, they cover about 200 ms.
        BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(*last - *first).count() >=
                   150);
    });
}

// With more connections than one tick looks at, a round is cut into slices; closing the silent
// ones in the middle of a round must not make the walk skip or repeat anyone.
BOOST_AUTO_TEST_CASE(a_round_in_slices_pings_everyone_and_closes_only_the_silent) {
    constexpr std::size_t count = 600;
    EngineFixture fixture(keep_alive_config(200ms, 400ms, 1s));
    run(fixture.io_context, [&]() -> awaitable<void> {
        std::vector<std::shared_ptr<Connection>> connections = co_await fixture.join_users(count);
        Countdown all_done(fixture.io_context, count);
        std::size_t wrongly_closed = 0, wrongly_kept = 0;
        for (std::size_t i = 0; i < count; ++i) {
            if (i % 2 == 0)
                asio::co_spawn(fixture.io_context,
                               answer_pings(connections[i], 3, &wrongly_closed, &all_done),
                               asio::detached);
            else
                asio::co_spawn(fixture.io_context,
                               stay_silent(connections[i], &wrongly_kept, &all_done),
                               asio::detached);
        }
        co_await all_done.wait();
        BOOST_TEST(wrongly_closed == 0u);
        BOOST_TEST(wrongly_kept == 0u);
        Stats stats = co_await fixture.all_stats();
        BOOST_TEST(stats.connections == count / 2);
    });
}

BOOST_AUTO_TEST_SUITE_END()
