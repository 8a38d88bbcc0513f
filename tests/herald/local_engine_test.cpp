// A single node's streams through its engine: numbering, offline delivery, gapless resume,
// eviction and expiry. Since values are named before they are awaited on: g++ 12 mishandles a
// braced temporary in a co_await.
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

BOOST_AUTO_TEST_SUITE(local_engine)

BOOST_FIXTURE_TEST_CASE(each_user_has_a_numbered_stream, EngineFixture) {
    run(io_context, [&]() -> awaitable<void> {
        std::vector<std::uint64_t> a_seqs;
        for (int i = 0; i < 3; ++i)
            a_seqs.push_back((co_await publish(users("a"), text("x"))).seqs.front());
        BOOST_TEST(a_seqs == (std::vector<std::uint64_t>{1, 2, 3}),
                   boost::test_tools::per_element());
        Published both = co_await publish(users("a", "b"), text("y"));
        BOOST_TEST(both.seqs == (std::vector<std::uint64_t>{4, 1}),
                   boost::test_tools::per_element());
    });
}

BOOST_FIXTURE_TEST_CASE(messages_kept_for_an_offline_user_arrive_when_it_asks, EngineFixture) {
    run(io_context, [&]() -> awaitable<void> {
        co_await publish(users("late"), text("first"));
        co_await publish(users("late"), text("second"));
        auto arrival = json_connection("late");
        Since joined_since{std::nullopt, 0};
        Joined joined = co_await join(arrival, joined_since);
        BOOST_TEST(joined.joined);
        BOOST_TEST(joined.position.seq == 2u);
        BOOST_TEST(*joined.position.recovered);
        std::string first = co_await next_text(*arrival);
        std::string second = co_await next_text(*arrival);
        BOOST_TEST(first == "first");
        BOOST_TEST(second == "second");
        Stats stats = co_await all_stats();
        BOOST_TEST(stats.history_messages == 2u);
        BOOST_TEST(stats.history_streams == 1u);
    });
}

BOOST_FIXTURE_TEST_CASE(a_resume_gets_exactly_what_was_missed_then_live_messages, EngineFixture) {
    run(io_context, [&]() -> awaitable<void> {
        auto before = json_connection("r");
        Since first_since{std::nullopt, 0};
        Joined first = co_await join(before, first_since);
        for (int i = 0; i < 5; ++i)
            co_await publish(users("r"), text("x"));
        for (int i = 0; i < 5; ++i)
            co_await next(*before);
        leave(before);
        for (int i = 0; i < 3; ++i)
            co_await publish(users("r"), text("missed"));
        auto after = json_connection("r");
        Since resumed_since{first.position.epoch, 5};
        Joined resumed = co_await join(after, resumed_since);
        BOOST_TEST(resumed.position.epoch == first.position.epoch);
        BOOST_TEST(*resumed.position.recovered);
        co_await publish(users("r"), text("live"));
        std::vector<std::uint64_t> seqs;
        for (int i = 0; i < 4; ++i)
            seqs.push_back((co_await next(*after)).message->seq);
        BOOST_TEST(seqs == (std::vector<std::uint64_t>{6, 7, 8, 9}),
                   boost::test_tools::per_element());
    });
}

BOOST_AUTO_TEST_CASE(what_history_cannot_cover_is_said_and_the_rest_still_sent) {
    Config options;
    options.history_size = 3;
    EngineFixture fixture(options);
    run(fixture.io_context, [&]() -> awaitable<void> {
        for (int i = 0; i < 5; ++i)
            co_await fixture.publish(users("evicted"), text("x"));
        auto evicted = fixture.json_connection("evicted");
        Since joined_since{std::nullopt, 0};
        Joined joined = co_await fixture.join(evicted, joined_since);
        BOOST_TEST(!*joined.position.recovered);
        std::vector<std::uint64_t> seqs;
        for (int i = 0; i < 3; ++i)
            seqs.push_back((co_await next(*evicted)).message->seq);
        BOOST_TEST(seqs == (std::vector<std::uint64_t>{3, 4, 5}), boost::test_tools::per_element());

        // Another epoch (a restart, say): everything kept is new to this client.
        auto stranger = fixture.json_connection("evicted");
        Since other_since{std::string("older-epoch"), 4};
        Joined other = co_await fixture.join(stranger, other_since);
        BOOST_TEST(!*other.position.recovered);
        Outgoing replayed = co_await next(*stranger);
        BOOST_TEST(replayed.message->seq == 3u);
    });
}

BOOST_AUTO_TEST_CASE(expired_history_and_its_stream_go_after_the_ttl) {
    Config options;
    options.history_ttl = std::chrono::milliseconds(40);
    EngineFixture fixture(options);
    run(fixture.io_context, [&]() -> awaitable<void> {
        // A client saw the stream's epoch, then left; one message came while it was away.
        auto before = fixture.json_connection("brief");
        Joined first = co_await fixture.join(before);
        fixture.leave(before);
        Published published = co_await fixture.publish(users("brief"), text("x"));
        BOOST_TEST(published.seqs.front() == 1u);
        Stats stats = co_await fixture.stats_when(&Stats::history_messages, 0);
        BOOST_TEST(stats.history_messages == 0u);
        BOOST_TEST(stats.history_bytes == 0u);
        auto back = fixture.json_connection("brief");
        Since since{first.position.epoch, 0};
        Joined joined = co_await fixture.join(back, since);
        BOOST_TEST(!*joined.position.recovered);  // message 1 is gone
    });
}

BOOST_AUTO_TEST_CASE(a_stream_left_unused_goes_after_the_ttl_and_a_connected_one_stays) {
    Config options;
    options.history_ttl = std::chrono::milliseconds(40);
    EngineFixture fixture(options);
    run(fixture.io_context, [&]() -> awaitable<void> {
        auto staying = fixture.json_connection("staying");
        Joined stayed = co_await fixture.join(staying);
        auto brief = fixture.json_connection("brief");
        Joined first = co_await fixture.join(brief);
        fixture.leave(brief);
        Stats stats = co_await fixture.all_stats();
        BOOST_TEST(stats.streams == 2u);  // kept for the TTL, so that "brief" finds its epoch
        stats = co_await fixture.stats_when(&Stats::streams, 1);
        BOOST_TEST(stats.streams == 1u);
        auto back = fixture.json_connection("brief");
        Joined again = co_await fixture.join(back);
        BOOST_TEST(again.position.epoch != first.position.epoch);  // a new stream
        auto other_tab = fixture.json_connection("staying");
        Joined still = co_await fixture.join(other_tab);
        BOOST_TEST(still.position.epoch == stayed.position.epoch);
    });
}

BOOST_AUTO_TEST_CASE(history_stays_under_its_byte_budget_whatever_the_users) {
    Config options;
    options.history_max_bytes = 4096;
    EngineFixture fixture(options);
    run(fixture.io_context, [&]() -> awaitable<void> {
        for (int i = 0; i < 2000; ++i)
            co_await fixture.publish(users("flood-" + std::to_string(i)),
                                     text(std::string(100, 'z')));
        Stats stats = co_await fixture.all_stats();
        BOOST_TEST(stats.history_bytes <= 4096u);
        BOOST_TEST(stats.history_messages > 0u);
        BOOST_TEST(stats.history_streams ==
                   stats.history_messages);  // one message each, the newest
        // The newest survived, the oldest went first.
        auto newest = fixture.json_connection("flood-1999");
        Since joined_since{std::nullopt, 0};
        Joined joined = co_await fixture.join(newest, joined_since);
        BOOST_TEST(*joined.position.recovered);
        auto oldest = fixture.json_connection("flood-0");
        Since gone_since{std::nullopt, 1};
        Joined gone = co_await fixture.join(oldest, gone_since);
        BOOST_TEST(gone.position.seq == 0u);  // a new stream: its old one was dropped
    });
}

BOOST_AUTO_TEST_CASE(with_history_off_a_message_missed_is_still_numbered_and_told) {
    Config options;
    options.history_size = 0;
    EngineFixture fixture(options);
    run(fixture.io_context, [&]() -> awaitable<void> {
        Published to_stranger = co_await fixture.publish(users("stranger"), text("x"));
        BOOST_TEST(to_stranger.seqs.front() == 0u);  // no stream: nothing to number it in
        auto before = fixture.json_connection("away");
        Joined first = co_await fixture.join(before);
        fixture.leave(before);
        // Its stream stays for the TTL, so the message it misses is numbered in it.
        Published missed = co_await fixture.publish(users("away"), text("missed"));
        BOOST_TEST(missed.delivered == 0u);
        BOOST_TEST(missed.seqs.front() == 1u);
        auto back = fixture.json_connection("away");
        Since since{first.position.epoch, first.position.seq};
        Joined resumed = co_await fixture.join(back, since);
        BOOST_TEST(resumed.position.epoch == first.position.epoch);
        BOOST_TEST(!*resumed.position.recovered);  // the client must fetch its state
    });
}

BOOST_FIXTURE_TEST_CASE(a_replay_larger_than_the_outbox_sends_what_fits_then_closes,
                        EngineFixture) {
    run(io_context, [&]() -> awaitable<void> {
        for (int i = 0; i < 5; ++i)
            co_await publish(users("backlog"), text("x"));
        auto small = connection("backlog", OutboxLimits{2, 1 << 20});
        Since since{std::nullopt, 0};
        co_await join(small, since);
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
    Config options;
    options.history_max_bytes = 1024;
    options.history_ttl = std::chrono::milliseconds(40);
    EngineFixture fixture(options);
    run(fixture.io_context, [&]() -> awaitable<void> {
        co_await fixture.publish(users("small"), text(std::string(100, 's')));
        Published big = co_await fixture.publish(users("big"), text(std::string(2000, 'b')));
        BOOST_TEST(big.seqs.front() == 1u);
        Stats stats = co_await fixture.all_stats();
        BOOST_TEST(stats.history_messages == 1u);  // the small one is still kept
        BOOST_TEST(stats.history_streams == 1u);
        BOOST_TEST(stats.streams == 2u);
        // Both streams go once the TTL has passed: the big one's too, which keeps nothing.
        stats = co_await fixture.stats_when(&Stats::streams, 0);
        BOOST_TEST(stats.streams == 0u);
    });
}

BOOST_AUTO_TEST_SUITE_END()
