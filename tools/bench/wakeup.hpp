// Waiting for events inside one single-threaded io_context: a timer used as a condition
// variable (the idiom of Asio's chat example), and a count of coroutines to wait for.
//
// The benchmark runs each process on one thread, so whoever changes a condition can check it
// and wake the waiter at once: no polling, and no lost wake-ups as long as the waiter checks
// its condition before each sleep.
#pragma once

#include <chrono>

#include <boost/asio/steady_timer.hpp>

#include "herald/net.hpp"

namespace herald::bench {

using Clock = std::chrono::steady_clock;

class Wakeup {
  public:
    explicit Wakeup(asio::any_io_executor executor) : timer_(std::move(executor)) {}

    // Ends a sleep in progress; does nothing when nobody sleeps.
    void notify() { timer_.cancel(); }
    // Sleeps until notify() or `deadline`. Callers re-check their condition afterwards.
    awaitable<void> sleep_until(Clock::time_point deadline);

  private:
    asio::steady_timer timer_;
};

// Counts coroutines still running; wait() returns once all have called done().
class WaitGroup {
  public:
    explicit WaitGroup(asio::any_io_executor executor) : wakeup_(std::move(executor)) {}

    void add(int count = 1) { pending_ += count; }
    void done() {
        if (--pending_ == 0) wakeup_.notify();
    }
    int pending() const { return pending_; }
    awaitable<void> wait();

  private:
    int pending_ = 0;
    Wakeup wakeup_;
};

// Sleeps for `duration` (a plain timer, for pauses between steps).
awaitable<void> sleep_for(Clock::duration duration);

}  // namespace herald::bench
