#include "herald/ack_waiters.hpp"

#include <algorithm>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

namespace herald {

void AckWaiters::add(const std::string& uid, std::uint64_t seq, std::shared_ptr<AckSignal> signal) {
    waiters_[uid].push_back(Waiter{seq, std::move(signal)});
}

void AckWaiters::remove(const std::string& uid, const AckSignal* signal) {
    auto found = waiters_.find(uid);
    if (found == waiters_.end()) return;
    std::erase_if(found->second,
                  [signal](const Waiter& waiter) { return waiter.signal.get() == signal; });
    if (found->second.empty()) waiters_.erase(found);
}

void AckWaiters::acknowledged(const std::string& uid, std::uint64_t seq) {
    auto found = waiters_.find(uid);
    if (found == waiters_.end()) return;
    std::erase_if(found->second, [seq](const Waiter& waiter) {
        if (waiter.seq > seq) return false;
        waiter.signal->try_send(error_code());
        return true;
    });
    if (found->second.empty()) waiters_.erase(found);
}

std::optional<AckGate::Ticket> AckGate::enter() {
    std::size_t waiting = waiting_.load(std::memory_order_relaxed);
    do {
        if (waiting >= limit_) return std::nullopt;
    } while (!waiting_.compare_exchange_weak(waiting, waiting + 1, std::memory_order_relaxed));
    return Ticket(*this);
}

awaitable<bool> wait_for_signal(AckSignal& signal, Duration timeout) {
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
    // Both branches complete without throwing (as_tuple), so the one that finishes first
    // cancels the other.
    auto first = co_await (signal.async_receive(use_nothrow) || timer.async_wait(use_nothrow));
    co_return first.index() == 0 && !std::get<0>(std::get<0>(first));
}

}  // namespace herald
