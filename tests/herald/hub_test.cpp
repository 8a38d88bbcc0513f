// The hub's semantics, with real outboxes and no sockets: everything runs on one io_context on
// the test thread.
#include "herald/hub.hpp"

#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/channel_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>

#include "support/run.hpp"

using namespace herald;
using herald::test::run;
using herald::test::thread_uid;
using namespace std::chrono_literals;

namespace {

// No teardown runs on the hub: run() stops the io_context once the test's coroutine is done
// (the hub's ticker would keep it busy for ever), so the hub and what it still has queued are
// destroyed without running. Shutdown has a test of its own (close_all_flushes_...).
struct HubFixture {
    explicit HubFixture(HubOptions options = {}) : hub(io_context.get_executor(), options) {
        hub.start();
    }

    std::shared_ptr<Connection> connection(std::string uid, OutboxLimits limits = {16, 1 << 20}) {
        return std::make_shared<Connection>(io_context.get_executor(), ++next_id,
                                            Login{std::move(uid), {}, Protocol::seed},
                                            tcp::endpoint{}, limits);
    }

    // `count` connections, each of a user of its own, all joined.
    awaitable<std::vector<std::shared_ptr<Connection>>> join_users(std::size_t count) {
        std::vector<std::shared_ptr<Connection>> joined;
        for (std::size_t i = 0; i < count; ++i) {
            joined.push_back(connection(thread_uid(0, static_cast<int>(i))));
            co_await hub.join(joined.back());
        }
        co_return joined;
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

MessageBodyPtr text(std::string content) {
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

// An event the test awaits: set once `count` parts of the test have called done().
class Countdown {
  public:
    Countdown(asio::io_context& io_context, std::size_t count) : event_(io_context), left_(count) {
        event_.expires_at(asio::steady_timer::time_point::max());
    }
    void done() {
        if (--left_ == 0) event_.cancel();
    }
    awaitable<void> wait() {
        if (left_ != 0) co_await event_.async_wait(use_nothrow);
    }

  private:
    asio::steady_timer event_;
    std::size_t left_;
};

awaitable<std::string> next_text(Connection& connection) {
    Outgoing outgoing = co_await next(connection);
    BOOST_REQUIRE(outgoing.kind == Outgoing::Kind::message);
    co_return outgoing.message->body->text;
}

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

BOOST_AUTO_TEST_SUITE(hub)

BOOST_FIXTURE_TEST_CASE(a_message_reaches_every_connection_of_its_user_and_no_other, HubFixture) {
    run(io_context, [&]() -> awaitable<void> {
        auto phone = connection("alice");
        auto laptop = connection("alice");
        auto other = connection("bob");
        for (auto& each : {phone, laptop, other}) {
            bool joined = (co_await hub.join(each)).joined;
            BOOST_TEST(joined);
        }

        std::size_t to_alice = (co_await hub.publish(users("alice"), text("for alice"))).delivered;
        std::size_t to_bob = (co_await hub.publish(users("bob"), text("for bob"))).delivered;
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
        MessageBodyPtr message = text("shared");
        std::size_t delivered =
            (co_await hub.publish(users("a", "b", "nobody"), message)).delivered;
        BOOST_TEST(delivered == 2u);
        Outgoing to_a = co_await next(*a);
        Outgoing to_b = co_await next(*b);
        BOOST_TEST(to_a.message->body.get() == message.get());
        BOOST_TEST(to_b.message->body.get() == message.get());
        HubStats stats = co_await hub.stats();
        BOOST_TEST(stats.messages_published == 3u);
    });
}

BOOST_FIXTURE_TEST_CASE(unknown_users_and_departed_connections_get_nothing, HubFixture) {
    run(io_context, [&]() -> awaitable<void> {
        std::size_t to_nobody = (co_await hub.publish(users("nobody"), text("x"))).delivered;
        BOOST_TEST(to_nobody == 0u);
        auto gone = connection("carol");
        co_await hub.join(gone);
        hub.leave(gone);
        std::size_t to_carol = (co_await hub.publish(users("carol"), text("x"))).delivered;
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
            delivered.push_back(
                (co_await hub.publish(users("slow", "fast"), text(each))).delivered);
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
        std::size_t fits = (co_await hub.publish(users("small"), text("12345678"))).delivered;
        std::size_t overflows = (co_await hub.publish(users("small"), text("123"))).delivered;
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
            std::size_t delivered =
                (co_await hub.publish(users("reader"), text("0123456789"))).delivered;
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
        bool late_joined = (co_await hub.join(connection("late"))).joined;
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

        std::size_t delivered =
            (co_await fixture.hub.publish(users("lively"), text("still here"))).delivered;
        BOOST_TEST(delivered == 1u);
        HubStats stats = co_await fixture.hub.stats();
        BOOST_TEST(stats.connections == 1u);
    });
}

// Connections that joined together (a reconnect storm after a restart) are not all pinged in
// one tick: their first pings fall at random over the second half of the interval.
BOOST_AUTO_TEST_CASE(first_pings_of_connections_that_joined_together_are_spread) {
    constexpr std::size_t count = 1000;
    HubFixture fixture(HubOptions{400ms, 10s, 1s});
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
    HubFixture fixture(HubOptions{200ms, 400ms, 1s});
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
        HubStats stats = co_await fixture.hub.stats();
        BOOST_TEST(stats.connections == count / 2);
    });
}

BOOST_FIXTURE_TEST_CASE(pings_never_crowd_out_messages, HubFixture) {
    run(io_context, [&]() -> awaitable<void> {
        auto stuck = connection("stuck", OutboxLimits{2, 1 << 20});
        co_await hub.join(stuck);
        // Ping after ping while the writer is stuck in a write: one waits, the others are
        // not queued.
        for (int i = 0; i < 4; ++i)
            stuck->enqueue_ping();
        PublishResult first = co_await hub.publish(users("stuck"), text("one"));
        PublishResult second = co_await hub.publish(users("stuck"), text("two"));
        BOOST_TEST(first.delivered == 1u);
        BOOST_TEST(second.delivered == 1u);
        HubStats stats = co_await hub.stats();
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

BOOST_FIXTURE_TEST_CASE(a_close_for_its_own_side_unregisters_the_connection, HubFixture) {
    run(io_context, [&]() -> awaitable<void> {
        auto flooding = connection("flooding");
        co_await hub.join(flooding);
        co_await hub.publish(users("flooding"), text("before"));
        hub.close(flooding, close_reasons::inbound_rate, true);
        PublishResult after = co_await hub.publish(users("flooding"), text("after"));
        BOOST_TEST(after.delivered == 0u);  // not queued behind the close, and not counted
        HubStats stats = co_await hub.stats();
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

// History and resume: numbering, offline delivery, gapless resume, eviction. Since values are
// named before they are awaited on: g++ 12 mishandles a braced temporary in a co_await.
BOOST_AUTO_TEST_SUITE(history)

namespace {
// Asks the hub for its stats until `field` is `expected` (expiry has no event to await), within
// a bounded number of polls; returns the last stats.
awaitable<HubStats> stats_when(Hub& hub, std::size_t HubStats::*field, std::size_t expected) {
    asio::steady_timer pause(co_await asio::this_coro::executor);
    HubStats stats = co_await hub.stats();
    for (int attempt = 0; attempt < 200 && stats.*field != expected; ++attempt) {
        pause.expires_after(std::chrono::milliseconds(10));
        co_await pause.async_wait(asio::use_awaitable);
        stats = co_await hub.stats();
    }
    co_return stats;
}

std::shared_ptr<Connection> json_connection(HubFixture& fixture, std::string uid) {
    return std::make_shared<Connection>(fixture.io_context.get_executor(), ++fixture.next_id,
                                        Login{std::move(uid), {}, Protocol::json}, tcp::endpoint{},
                                        OutboxLimits{1024, 1 << 20});
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(each_user_has_a_numbered_stream, HubFixture) {
    run(io_context, [&]() -> awaitable<void> {
        std::vector<std::uint64_t> a_seqs;
        for (int i = 0; i < 3; ++i)
            a_seqs.push_back((co_await hub.publish(users("a"), text("x"))).seqs.front());
        BOOST_TEST(a_seqs == (std::vector<std::uint64_t>{1, 2, 3}),
                   boost::test_tools::per_element());
        PublishResult both = co_await hub.publish(users("a", "b"), text("y"));
        BOOST_TEST(both.seqs == (std::vector<std::uint64_t>{4, 1}),
                   boost::test_tools::per_element());
    });
}

BOOST_FIXTURE_TEST_CASE(messages_kept_for_an_offline_user_arrive_when_it_asks, HubFixture) {
    run(io_context, [&]() -> awaitable<void> {
        co_await hub.publish(users("late"), text("first"));
        co_await hub.publish(users("late"), text("second"));
        auto arrival = json_connection(*this, "late");
        Since joined_since{std::nullopt, 0};
        JoinResult joined = co_await hub.join(arrival, joined_since);
        BOOST_TEST(joined.joined);
        BOOST_TEST(joined.position.seq == 2u);
        BOOST_TEST(*joined.position.recovered);
        std::string first = co_await next_text(*arrival);
        std::string second = co_await next_text(*arrival);
        BOOST_TEST(first == "first");
        BOOST_TEST(second == "second");
        HubStats stats = co_await hub.stats();
        BOOST_TEST(stats.history_messages == 2u);
        BOOST_TEST(stats.history_streams == 1u);
    });
}

BOOST_FIXTURE_TEST_CASE(a_resume_gets_exactly_what_was_missed_then_live_messages, HubFixture) {
    run(io_context, [&]() -> awaitable<void> {
        auto before = json_connection(*this, "r");
        Since first_since{std::nullopt, 0};
        JoinResult first = co_await hub.join(before, first_since);
        for (int i = 0; i < 5; ++i)
            co_await hub.publish(users("r"), text("x"));
        for (int i = 0; i < 5; ++i)
            co_await next(*before);
        hub.leave(before);
        for (int i = 0; i < 3; ++i)
            co_await hub.publish(users("r"), text("missed"));
        auto after = json_connection(*this, "r");
        Since resumed_since{first.position.epoch, 5};
        JoinResult resumed = co_await hub.join(after, resumed_since);
        BOOST_TEST(resumed.position.epoch == first.position.epoch);
        BOOST_TEST(*resumed.position.recovered);
        co_await hub.publish(users("r"), text("live"));
        std::vector<std::uint64_t> seqs;
        for (int i = 0; i < 4; ++i)
            seqs.push_back((co_await next(*after)).message->seq);
        BOOST_TEST(seqs == (std::vector<std::uint64_t>{6, 7, 8, 9}),
                   boost::test_tools::per_element());
    });
}

BOOST_AUTO_TEST_CASE(what_history_cannot_cover_is_said_and_the_rest_still_sent) {
    HubOptions options;
    options.history_size = 3;
    HubFixture fixture(options);
    run(fixture.io_context, [&]() -> awaitable<void> {
        for (int i = 0; i < 5; ++i)
            co_await fixture.hub.publish(users("evicted"), text("x"));
        auto evicted = json_connection(fixture, "evicted");
        Since joined_since{std::nullopt, 0};
        JoinResult joined = co_await fixture.hub.join(evicted, joined_since);
        BOOST_TEST(!*joined.position.recovered);
        std::vector<std::uint64_t> seqs;
        for (int i = 0; i < 3; ++i)
            seqs.push_back((co_await next(*evicted)).message->seq);
        BOOST_TEST(seqs == (std::vector<std::uint64_t>{3, 4, 5}), boost::test_tools::per_element());

        // Another epoch (a restart, say): everything kept is new to this client.
        auto stranger = json_connection(fixture, "evicted");
        Since other_since{std::string("older-epoch"), 4};
        JoinResult other = co_await fixture.hub.join(stranger, other_since);
        BOOST_TEST(!*other.position.recovered);
        Outgoing replayed = co_await next(*stranger);
        BOOST_TEST(replayed.message->seq == 3u);
    });
}

BOOST_AUTO_TEST_CASE(expired_history_and_its_stream_go_after_the_ttl) {
    HubOptions options;
    options.history_ttl = std::chrono::milliseconds(40);
    HubFixture fixture(options);
    run(fixture.io_context, [&]() -> awaitable<void> {
        // A client saw the stream's epoch, then left; one message came while it was away.
        auto before = json_connection(fixture, "brief");
        JoinResult first = co_await fixture.hub.join(before);
        fixture.hub.leave(before);
        PublishResult published = co_await fixture.hub.publish(users("brief"), text("x"));
        BOOST_TEST(published.seqs.front() == 1u);
        HubStats stats = co_await stats_when(fixture.hub, &HubStats::history_messages, 0);
        BOOST_TEST(stats.history_messages == 0u);
        BOOST_TEST(stats.history_bytes == 0u);
        auto back = json_connection(fixture, "brief");
        Since since{first.position.epoch, 0};
        JoinResult joined = co_await fixture.hub.join(back, since);
        BOOST_TEST(!*joined.position.recovered);  // message 1 is gone
    });
}

BOOST_AUTO_TEST_CASE(a_stream_left_unused_goes_after_the_ttl_and_a_connected_one_stays) {
    HubOptions options;
    options.history_ttl = std::chrono::milliseconds(40);
    HubFixture fixture(options);
    run(fixture.io_context, [&]() -> awaitable<void> {
        auto staying = json_connection(fixture, "staying");
        JoinResult stayed = co_await fixture.hub.join(staying);
        auto brief = json_connection(fixture, "brief");
        JoinResult first = co_await fixture.hub.join(brief);
        fixture.hub.leave(brief);
        HubStats stats = co_await fixture.hub.stats();
        BOOST_TEST(stats.streams == 2u);  // kept for the TTL, so that "brief" finds its epoch
        stats = co_await stats_when(fixture.hub, &HubStats::streams, 1);
        BOOST_TEST(stats.streams == 1u);
        auto back = json_connection(fixture, "brief");
        JoinResult again = co_await fixture.hub.join(back);
        BOOST_TEST(again.position.epoch != first.position.epoch);  // a new stream
        auto other_tab = json_connection(fixture, "staying");
        JoinResult still = co_await fixture.hub.join(other_tab);
        BOOST_TEST(still.position.epoch == stayed.position.epoch);
    });
}

BOOST_AUTO_TEST_CASE(history_stays_under_its_byte_budget_whatever_the_users) {
    HubOptions options;
    options.history_max_bytes = 4096;
    HubFixture fixture(options);
    run(fixture.io_context, [&]() -> awaitable<void> {
        for (int i = 0; i < 2000; ++i)
            co_await fixture.hub.publish(users("flood-" + std::to_string(i)),
                                         text(std::string(100, 'z')));
        HubStats stats = co_await fixture.hub.stats();
        BOOST_TEST(stats.history_bytes <= 4096u);
        BOOST_TEST(stats.history_messages > 0u);
        BOOST_TEST(stats.history_streams ==
                   stats.history_messages);  // one message each, the newest
        // The newest survived, the oldest went first.
        auto newest = json_connection(fixture, "flood-1999");
        Since joined_since{std::nullopt, 0};
        JoinResult joined = co_await fixture.hub.join(newest, joined_since);
        BOOST_TEST(*joined.position.recovered);
        auto oldest = json_connection(fixture, "flood-0");
        Since gone_since{std::nullopt, 1};
        JoinResult gone = co_await fixture.hub.join(oldest, gone_since);
        BOOST_TEST(gone.position.seq == 0u);  // a new stream: its old one was dropped
    });
}

BOOST_AUTO_TEST_CASE(with_history_off_a_message_missed_is_still_numbered_and_told) {
    HubOptions options;
    options.history_size = 0;
    HubFixture fixture(options);
    run(fixture.io_context, [&]() -> awaitable<void> {
        PublishResult to_stranger = co_await fixture.hub.publish(users("stranger"), text("x"));
        BOOST_TEST(to_stranger.seqs.front() == 0u);  // no stream: nothing to number it in
        auto before = json_connection(fixture, "away");
        JoinResult first = co_await fixture.hub.join(before);
        fixture.hub.leave(before);
        // Its stream stays for the TTL, so the message it misses is numbered in it.
        PublishResult missed = co_await fixture.hub.publish(users("away"), text("missed"));
        BOOST_TEST(missed.delivered == 0u);
        BOOST_TEST(missed.seqs.front() == 1u);
        auto back = json_connection(fixture, "away");
        Since since{first.position.epoch, first.position.seq};
        JoinResult resumed = co_await fixture.hub.join(back, since);
        BOOST_TEST(resumed.position.epoch == first.position.epoch);
        BOOST_TEST(!*resumed.position.recovered);  // the client must fetch its state
    });
}

BOOST_FIXTURE_TEST_CASE(a_replay_larger_than_the_outbox_sends_what_fits_then_closes, HubFixture) {
    run(io_context, [&]() -> awaitable<void> {
        for (int i = 0; i < 5; ++i)
            co_await hub.publish(users("backlog"), text("x"));
        auto small = connection("backlog", OutboxLimits{2, 1 << 20});
        Since since{std::nullopt, 0};
        co_await hub.join(small, since);
        Outgoing first = co_await next(*small);
        Outgoing second = co_await next(*small);
        BOOST_TEST(first.message->seq == 1u);
        BOOST_TEST(second.message->seq == 2u);
        // Then the close: the client resumes after seq 2 and gets the rest.
        auto [error, last] = co_await small->receive();
        BOOST_TEST(!error);
        BOOST_TEST((last.kind == Outgoing::Kind::close));
        BOOST_TEST(small->close_reason().reason == close_reasons::slow_consumer.reason);
    });
}

BOOST_AUTO_TEST_CASE(a_message_larger_than_the_history_budget_is_not_kept_and_evicts_nothing) {
    HubOptions options;
    options.history_max_bytes = 1024;
    options.history_ttl = std::chrono::milliseconds(40);
    HubFixture fixture(options);
    run(fixture.io_context, [&]() -> awaitable<void> {
        co_await fixture.hub.publish(users("small"), text(std::string(100, 's')));
        PublishResult big =
            co_await fixture.hub.publish(users("big"), text(std::string(2000, 'b')));
        BOOST_TEST(big.seqs.front() == 1u);
        HubStats stats = co_await fixture.hub.stats();
        BOOST_TEST(stats.history_messages == 1u);  // the small one is still kept
        BOOST_TEST(stats.history_streams == 1u);
        BOOST_TEST(stats.streams == 2u);
        // Both streams go once the TTL has passed: the big one's too, which keeps nothing.
        stats = co_await stats_when(fixture.hub, &HubStats::streams, 0);
        BOOST_TEST(stats.streams == 0u);
    });
}

BOOST_AUTO_TEST_SUITE_END()
