// Publishers waiting for a user's acknowledgement (wait=ack): who waits for which seq, and the
// bound on how many may wait at once.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>

#include "herald/config.hpp"
#include "herald/net.hpp"

namespace herald {

// Sent once, when the seq a publisher waits for is acknowledged: by the engine, on its strand;
// received by the publisher's coroutine, on its own executor.
using AckSignal = asio::experimental::concurrent_channel<void(error_code)>;

// The waiting publishers of every user, on one strand (the hub's, like the streams they wait
// on): a plain map, no lock.
class AckWaiters {
  public:
    // `signal` is sent once `uid` acknowledges `seq` or a later one.
    void add(const std::string& uid, std::uint64_t seq, std::shared_ptr<AckSignal> signal);
    // The publisher stopped waiting (its timeout): forgets it, if it is still there.
    void remove(const std::string& uid, const AckSignal* signal);
    // `uid` acknowledged everything up to `seq`: signals and forgets the waiters that covers.
    void acknowledged(const std::string& uid, std::uint64_t seq);
    // Whether anyone waits for `uid`.
    bool waiting_for(const std::string& uid) const { return waiters_.contains(uid); }

  private:
    struct Waiter {
        std::uint64_t seq;
        std::shared_ptr<AckSignal> signal;
    };
    std::unordered_map<std::string, std::vector<Waiter>> waiters_;
};

// How many publishers may wait at once (--max-ack-waiters), over every user: a ticket for each,
// taken before anything is published and given back when the wait is over.
class AckGate {
  public:
    explicit AckGate(std::size_t limit) : limit_(limit) {}

    class Ticket {
      public:
        explicit Ticket(AckGate& gate) : gate_(&gate) {}
        Ticket(Ticket&& other) noexcept : gate_(std::exchange(other.gate_, nullptr)) {}
        Ticket& operator=(Ticket&&) = delete;
        ~Ticket() {
            if (gate_) gate_->waiting_.fetch_sub(1, std::memory_order_relaxed);
        }

      private:
        AckGate* gate_;
    };

    // A ticket, or none while `limit` publishers wait already.
    std::optional<Ticket> enter();
    std::size_t waiting() const { return waiting_.load(std::memory_order_relaxed); }

  private:
    const std::size_t limit_;
    std::atomic<std::size_t> waiting_{0};
};

// Waits until `signal` is sent (true) or `timeout` has passed (false).
awaitable<bool> wait_for_signal(AckSignal& signal, Duration timeout);

}  // namespace herald
