// History as a plain class: numbering, what is kept and for how long, the byte budget across
// users, and what a resume is owed. No io_context: the time is passed in.
#include "herald/history.hpp"

#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>

using namespace herald;
using namespace std::chrono_literals;

namespace {

const Clock::time_point start = Clock::time_point() + 1h;

MessageBodyPtr text(std::string content) {
    return make_message(boost::json::string(content));
}

std::vector<std::uint64_t> seqs_of(const Replay& replay) {
    std::vector<std::uint64_t> seqs;
    for (const auto& message : replay.messages)
        seqs.push_back(message->seq);
    return seqs;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(history)

BOOST_AUTO_TEST_CASE(each_stream_is_numbered_from_one_and_keeps_its_last_messages) {
    History history({3, 5min, 1 << 20});
    for (int i = 1; i <= 5; ++i) {
        DeliveryPtr delivery = history.append("a", text("x"), start, 0);
        BOOST_REQUIRE(delivery);
        BOOST_TEST(delivery->seq == static_cast<std::uint64_t>(i));
    }
    BOOST_TEST(history.append("b", text("y"), start, 0)->seq == 1u);
    Replay replay = history.replay("a", Since{std::nullopt, 0}, start);
    BOOST_TEST(seqs_of(replay) == (std::vector<std::uint64_t>{3, 4, 5}),
               boost::test_tools::per_element());
    BOOST_TEST(replay.position.seq == 5u);
    BOOST_TEST(!*replay.position.recovered);  // 1 and 2 are gone
    HistoryStats stats = history.stats();
    BOOST_TEST(stats.streams == 2u);
    BOOST_TEST(stats.holding == 2u);
    BOOST_TEST(stats.messages == 4u);
}

BOOST_AUTO_TEST_CASE(a_resume_gets_what_came_after_its_seq_and_is_told_whether_that_is_all) {
    History history({100, 5min, 1 << 20});
    for (int i = 0; i < 4; ++i)
        history.append("r", text("x"), start, 0);
    std::string epoch = history.replay("r", std::nullopt, start).position.epoch;

    Replay resumed = history.replay("r", Since{epoch, 2}, start);
    BOOST_TEST(seqs_of(resumed) == (std::vector<std::uint64_t>{3, 4}),
               boost::test_tools::per_element());
    BOOST_TEST(*resumed.position.recovered);

    Replay up_to_date = history.replay("r", Since{epoch, 4}, start);
    BOOST_TEST(up_to_date.messages.empty());
    BOOST_TEST(*up_to_date.position.recovered);

    // A seq the stream never reached, or another epoch: everything kept, and not recovered.
    Replay ahead = history.replay("r", Since{epoch, 9}, start);
    BOOST_TEST(!*ahead.position.recovered);
    Replay other = history.replay("r", Since{std::string("elsewhere-1"), 2}, start);
    BOOST_TEST(seqs_of(other) == (std::vector<std::uint64_t>{1, 2, 3, 4}),
               boost::test_tools::per_element());
    BOOST_TEST(!*other.position.recovered);

    // A seq without an epoch: what is kept after it, but the client cannot prove which stream
    // it counted in, so not recovered. Seq 0 without an epoch (everything) needs no proof.
    Replay unproven = history.replay("r", Since{std::nullopt, 2}, start);
    BOOST_TEST(seqs_of(unproven) == (std::vector<std::uint64_t>{3, 4}),
               boost::test_tools::per_element());
    BOOST_TEST(!*unproven.position.recovered);
    BOOST_TEST(*history.replay("r", Since{std::nullopt, 0}, start).position.recovered);

    Replay plain = history.replay("r", std::nullopt, start);
    BOOST_TEST(plain.messages.empty());
    BOOST_TEST(!plain.position.recovered.has_value());
}

BOOST_AUTO_TEST_CASE(the_acknowledged_seq_only_moves_up_and_never_past_the_last_seq) {
    History history({3, 5min, 1 << 20});
    BOOST_TEST(!history.acknowledge("nobody", 1));  // no stream: nothing to acknowledge
    BOOST_TEST(history.acked("nobody") == 0u);
    for (int i = 1; i <= 4; ++i)
        history.append("a", text("x"), start, 0);
    BOOST_TEST(history.acknowledge("a", 2));
    BOOST_TEST(history.acked("a") == 2u);
    BOOST_TEST(!history.acknowledge("a", 1));  // cumulative: an older ack says nothing new
    BOOST_TEST(!history.acknowledge("a", 5));  // beyond what was published
    BOOST_TEST(history.acked("a") == 2u);
    BOOST_TEST(history.acknowledge("a", 4));
    BOOST_TEST(history.acked("a") == 4u);
}

BOOST_AUTO_TEST_CASE(messages_go_after_the_ttl_and_so_do_unused_streams_but_not_pinned_ones) {
    History history({100, 1min, 1 << 20});
    history.append("offline", text("x"), start, 0);
    history.pin("online", start);
    history.append("online", text("y"), start, 0);
    history.expire(start + 59s);
    BOOST_TEST(history.stats().messages == 2u);

    history.expire(start + 61s);
    HistoryStats stats = history.stats();
    BOOST_TEST(stats.messages == 0u);
    BOOST_TEST(stats.bytes == 0u);
    BOOST_TEST(stats.streams == 1u);  // the pinned one stays, with its epoch
    std::string epoch = history.replay("online", std::nullopt, start + 61s).position.epoch;

    history.unpin("online", start + 2min);
    history.expire(start + 2min + 59s);
    BOOST_TEST(history.stats().streams == 1u);  // kept for the TTL after its user left
    BOOST_TEST(history.replay("online", std::nullopt, start + 2min + 59s).position.epoch == epoch);
    history.expire(start + 4min);
    BOOST_TEST(history.stats().streams == 0u);
    BOOST_TEST(history.replay("online", std::nullopt, start + 4min).position.epoch != epoch);
}

BOOST_AUTO_TEST_CASE(over_the_byte_budget_the_oldest_messages_of_all_users_go_first) {
    History history({100, 1h, 1000});
    for (int i = 0; i < 30; ++i)
        history.append("u" + std::to_string(i), text(std::string(100, 'z')), start + 1s * i, 0);
    HistoryStats stats = history.stats();
    BOOST_TEST(stats.bytes <= 1000u);
    BOOST_TEST(stats.messages > 0u);
    BOOST_TEST(stats.holding == stats.messages);  // one message each, the newest
    BOOST_TEST(stats.streams == stats.messages);  // evicted unused streams go at once
    Replay newest = history.replay("u29", Since{std::nullopt, 0}, start + 30s);
    BOOST_TEST(*newest.position.recovered);
    Replay oldest = history.replay("u0", Since{std::nullopt, 1}, start + 30s);
    BOOST_TEST(oldest.position.seq == 0u);  // a new stream: its old one went
}

BOOST_AUTO_TEST_CASE(with_history_off_only_a_stream_in_use_numbers_its_messages) {
    History history({0, 1min, 1 << 20});
    BOOST_TEST(!history.append("stranger", text("x"), start, 0));
    history.pin("known", start);
    DeliveryPtr first = history.append("known", text("x"), start, 0);
    BOOST_REQUIRE(first);
    BOOST_TEST(first->seq == 1u);
    BOOST_TEST(history.stats().messages == 0u);
    Replay resumed = history.replay("known", Since{std::nullopt, 0}, start);
    BOOST_TEST(!*resumed.position.recovered);  // message 1 was never kept
}

BOOST_AUTO_TEST_CASE(every_history_hands_out_epochs_of_its_own) {
    History before({100, 1min, 1 << 20});
    History after({100, 1min, 1 << 20});  // a restart
    BOOST_TEST(before.replay("u", std::nullopt, start).position.epoch !=
               after.replay("u", std::nullopt, start).position.epoch);
    BOOST_TEST(before.replay("u", std::nullopt, start).position.epoch !=
               before.replay("v", std::nullopt, start).position.epoch);
}

BOOST_AUTO_TEST_SUITE_END()
