// The command connection's protocol state, without sockets: requests wait in order, are written
// back to back, and take the replies as they come, in the same order.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include "herald/redis/reply.hpp"
#include "herald/redis/settings.hpp"

namespace herald::redis {

// A request is one or more commands written together (a pipelined batch) that wants as many
// replies. Redis answers a connection's commands strictly in order, so the oldest request
// always owns the next reply. That is also why a late reply dooms everything behind it: the
// FIFO cannot skip a request, so a timeout (or a broken link) fails all of them at once.
//
// Completions are called inline, from push_reply() and fail_all(); the connection's own
// completions hand the result over to the caller's executor.
class CommandFifo {
  public:
    using Replies = boost::system::result<std::vector<Reply>>;
    using Completion = boost::asio::any_completion_handler<void(Replies)>;

    // `max_unwritten_commands` bounds the commands accepted but not yet written.
    explicit CommandFifo(std::size_t max_unwritten_commands);

    // Whether `commands` more stay within the bound.
    bool has_room(std::size_t commands) const { return unwritten_ + commands <= max_unwritten_; }

    // Queues `commands` commands, encoded back to back in `wire`, to be answered by `done`. The
    // bound is the caller's to check (has_room): the connection's own requests (handshake,
    // health check) go in regardless. `deadline` is when the replies are late.
    void push(std::string wire, std::size_t commands, Clock::time_point deadline, Completion done);

    // Everything pushed since the last call, as one buffer for one write; empty when nothing
    // was. Replies may come before the write has finished: these requests now take them.
    std::string take_writes();
    // The last take_writes() is on the wire: its commands no longer count against the bound.
    void on_written();

    enum class Match {
        waiting,     // the reply went to a request that wants more
        completed,   // the reply completed its request
        unexpected,  // no request had been written: the connection is out of step, drop it
    };
    Match push_reply(Reply reply);

    // Fails every request, written or not, with `error` (the connection is gone).
    void fail_all(boost::system::error_code error);

    // When the oldest request is late; none when nothing is pending. Requests are pushed with
    // deadlines that only grow, so the oldest one is due first.
    std::optional<Clock::time_point> head_deadline() const;

    bool empty() const { return requests_.empty(); }
    std::size_t requests() const { return requests_.size(); }
    std::size_t unwritten_commands() const { return unwritten_; }

  private:
    struct Request {
        std::string wire;  // emptied once taken for writing
        std::size_t commands;
        Clock::time_point deadline;
        std::vector<Reply> replies;
        Completion done;
    };

    std::size_t max_unwritten_;
    std::deque<Request> requests_;
    std::size_t taken_ = 0;      // requests_[0, taken_) have been handed to the writer
    std::size_t unwritten_ = 0;  // commands pushed and not yet on the wire
    std::size_t writing_ = 0;    // commands of the last take_writes()
};

}  // namespace herald::redis
