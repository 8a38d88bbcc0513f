#include "wakeup.hpp"

#include <boost/asio/this_coro.hpp>

namespace herald::bench {

awaitable<void> Wakeup::sleep_until(Clock::time_point deadline) {
    timer_.expires_at(deadline);
    co_await timer_.async_wait(use_nothrow);  // an error is a notify(): cancelled
}

awaitable<void> WaitGroup::wait() {
    // Whatever the coroutines wait for is bounded by their own timeouts.
    while (pending_ > 0) {
        const auto deadline = Clock::now() + std::chrono::hours(1);
        co_await wakeup_.sleep_until(deadline);
    }
}

awaitable<void> sleep_for(Clock::duration duration) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(duration);
    co_await timer.async_wait(use_nothrow);
}

}  // namespace herald::bench
