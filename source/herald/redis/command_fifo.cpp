#include "herald/redis/command_fifo.hpp"

#include <utility>

#include "herald/redis/error.hpp"

namespace herald::redis {

CommandFifo::CommandFifo(std::size_t max_unwritten_commands)
    : max_unwritten_(max_unwritten_commands) {}

void CommandFifo::push(std::string wire, std::size_t commands, Clock::time_point deadline,
                       Completion done) {
    unwritten_ += commands;
    Request request{std::move(wire), commands, deadline, {}, std::move(done)};
    request.replies.reserve(commands);
    requests_.push_back(std::move(request));
}

std::string CommandFifo::take_writes() {
    std::string batch;
    // Pipelining: every request waiting goes into the same write, hence one system call for
    // all the callers that asked while the previous write was under way.
    for (; taken_ < requests_.size(); ++taken_) {
        Request& request = requests_[taken_];
        if (batch.empty())
            batch = std::move(request.wire);
        else
            batch += request.wire;
        request.wire = std::string();  // sent: no need to hold it twice
        writing_ += request.commands;
    }
    return batch;
}

// Only once the write is done: a write stuck on a server that stopped reading keeps its
// commands counted, so that callers are refused rather than piled up behind it.
void CommandFifo::on_written() {
    unwritten_ -= writing_;
    writing_ = 0;
}

CommandFifo::Match CommandFifo::push_reply(Reply reply) {
    if (taken_ == 0) return Match::unexpected;
    Request& oldest = requests_.front();
    oldest.replies.push_back(std::move(reply));
    if (oldest.replies.size() < oldest.commands) return Match::waiting;
    // Out of the queue before its completion runs, which might push again.
    Request done = std::move(oldest);
    requests_.pop_front();
    --taken_;
    std::move(done.done)(std::move(done.replies));
    return Match::completed;
}

void CommandFifo::fail_all(boost::system::error_code error) {
    // Emptied first: a completion that pushes again starts a fresh queue.
    std::deque<Request> failed = std::exchange(requests_, {});
    taken_ = unwritten_ = writing_ = 0;
    for (Request& request : failed)
        std::move(request.done)(error);
}

std::optional<Clock::time_point> CommandFifo::head_deadline() const {
    if (requests_.empty()) return std::nullopt;
    return requests_.front().deadline;
}

}  // namespace herald::redis
