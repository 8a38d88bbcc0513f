#include "herald/redis/command_fifo.hpp"

#include <boost/test/unit_test.hpp>

#include "herald/redis/error.hpp"

using namespace herald::redis;
using std::chrono::seconds;

namespace {

// Records what each request completed with, by request number.
struct Outcomes {
    std::vector<std::pair<int, CommandFifo::Replies>> completed;

    CommandFifo::Completion record(int request) {
        return [this, request](CommandFifo::Replies replies) {
            completed.emplace_back(request, std::move(replies));
        };
    }
};

const Clock::time_point start{};

}  // namespace

BOOST_AUTO_TEST_SUITE(redis_command_fifo)

BOOST_AUTO_TEST_CASE(requests_waiting_together_go_out_in_one_write_in_order) {
    CommandFifo fifo(100);
    Outcomes outcomes;
    fifo.push("A", 1, start + seconds(1), outcomes.record(1));
    fifo.push("BC", 2, start + seconds(2), outcomes.record(2));
    BOOST_TEST(fifo.unwritten_commands() == 3u);
    BOOST_TEST(fifo.take_writes() == "ABC");
    BOOST_TEST(fifo.take_writes().empty());
    // What comes during the write goes into the next one.
    fifo.push("D", 1, start + seconds(3), outcomes.record(3));
    BOOST_TEST(fifo.take_writes() == "D");
    fifo.on_written();
    BOOST_TEST(fifo.unwritten_commands() == 0u);
}

BOOST_AUTO_TEST_CASE(replies_complete_requests_in_order_a_batch_after_all_its_replies) {
    CommandFifo fifo(100);
    Outcomes outcomes;
    fifo.push("A", 1, start, outcomes.record(1));
    fifo.push("BC", 2, start, outcomes.record(2));
    fifo.take_writes();
    BOOST_TEST((fifo.push_reply(Reply::status("OK")) == CommandFifo::Match::completed));
    BOOST_TEST((fifo.push_reply(Reply::number(1)) == CommandFifo::Match::waiting));
    BOOST_TEST(outcomes.completed.size() == 1u);
    BOOST_TEST((fifo.push_reply(Reply::error("ERR x")) == CommandFifo::Match::completed));
    BOOST_REQUIRE_EQUAL(outcomes.completed.size(), 2u);
    BOOST_TEST(outcomes.completed[0].first == 1);
    BOOST_TEST(outcomes.completed[0].second.value() == std::vector{Reply::status("OK")});
    BOOST_TEST(outcomes.completed[1].first == 2);
    // An error reply is an answer like any other: the request succeeds with it.
    BOOST_TEST(outcomes.completed[1].second.value() ==
               (std::vector{Reply::number(1), Reply::error("ERR x")}));
    BOOST_TEST(fifo.empty());
}

BOOST_AUTO_TEST_CASE(a_reply_before_anything_was_written_is_unexpected) {
    CommandFifo fifo(100);
    Outcomes outcomes;
    BOOST_TEST((fifo.push_reply(Reply::status("OK")) == CommandFifo::Match::unexpected));
    fifo.push("A", 1, start, outcomes.record(1));
    // Queued but not yet handed to the writer: Redis cannot be answering it.
    BOOST_TEST((fifo.push_reply(Reply::status("OK")) == CommandFifo::Match::unexpected));
    BOOST_TEST(outcomes.completed.empty());
}

BOOST_AUTO_TEST_CASE(losing_the_link_fails_every_request_written_or_not) {
    CommandFifo fifo(100);
    Outcomes outcomes;
    fifo.push("A", 1, start, outcomes.record(1));
    fifo.push("BC", 2, start, outcomes.record(2));
    fifo.take_writes();
    fifo.push("D", 1, start, outcomes.record(3));
    fifo.push_reply(Reply::number(1));  // completes 1
    fifo.push_reply(Reply::number(2));  // half of 2
    fifo.fail_all(RedisError::timeout);
    BOOST_REQUIRE_EQUAL(outcomes.completed.size(), 3u);
    BOOST_TEST(outcomes.completed[0].second.has_value());
    for (int i : {1, 2}) {
        BOOST_TEST(outcomes.completed[i].first == i + 1);
        BOOST_TEST(outcomes.completed[i].second.error() == make_error_code(RedisError::timeout));
    }
    BOOST_TEST(fifo.empty());
    BOOST_TEST(fifo.unwritten_commands() == 0u);
    BOOST_TEST(fifo.take_writes().empty());
    // A fresh link starts from a clean state.
    fifo.push("E", 1, start, outcomes.record(4));
    BOOST_TEST(fifo.take_writes() == "E");
    BOOST_TEST((fifo.push_reply(Reply::nil()) == CommandFifo::Match::completed));
    BOOST_TEST(outcomes.completed.back().first == 4);
}

BOOST_AUTO_TEST_CASE(the_deadline_is_the_oldest_requests_until_it_is_answered) {
    CommandFifo fifo(100);
    Outcomes outcomes;
    BOOST_TEST(!fifo.head_deadline().has_value());
    fifo.push("A", 1, start + seconds(1), outcomes.record(1));
    fifo.push("B", 1, start + seconds(2), outcomes.record(2));
    BOOST_TEST((fifo.head_deadline() == start + seconds(1)));
    fifo.take_writes();
    fifo.push_reply(Reply::nil());
    BOOST_TEST((fifo.head_deadline() == start + seconds(2)));
    fifo.push_reply(Reply::nil());
    BOOST_TEST(!fifo.head_deadline().has_value());
}

BOOST_AUTO_TEST_CASE(the_bound_counts_commands_until_their_write_is_done) {
    CommandFifo fifo(3);
    Outcomes outcomes;
    BOOST_TEST(fifo.has_room(3));
    BOOST_TEST(!fifo.has_room(4));
    fifo.push("AB", 2, start, outcomes.record(1));
    BOOST_TEST(fifo.has_room(1));
    BOOST_TEST(!fifo.has_room(2));
    fifo.take_writes();
    BOOST_TEST(!fifo.has_room(2));  // still being written: a stuck write must not grow the queue
    fifo.on_written();
    BOOST_TEST(fifo.has_room(3));  // written: only the timeout bounds it now
}

BOOST_AUTO_TEST_CASE(a_completion_may_push_again) {
    CommandFifo fifo(100);
    Outcomes outcomes;
    auto again = outcomes.record(2);
    fifo.push("A", 1, start,
              [&](CommandFifo::Replies) { fifo.push("B", 1, start, std::move(again)); });
    fifo.take_writes();
    fifo.push_reply(Reply::nil());
    BOOST_TEST(fifo.requests() == 1u);
    BOOST_TEST(fifo.take_writes() == "B");
    fifo.fail_all(RedisError::connection_lost);
    BOOST_REQUIRE_EQUAL(outcomes.completed.size(), 1u);
    BOOST_TEST(outcomes.completed[0].second.error() ==
               make_error_code(RedisError::connection_lost));
}

BOOST_AUTO_TEST_SUITE_END()
