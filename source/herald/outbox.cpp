#include "herald/outbox.hpp"

#include <boost/asio/experimental/channel_error.hpp>

namespace herald {

Outbox::Outbox(asio::any_io_executor executor, OutboxLimits limits, Protocol protocol)
    : limits_(limits), protocol_(protocol), signal_(std::move(executor), 1) {}

Outbox::Pushed Outbox::push(DeliveryPtr message) {
    std::size_t size = message->size(protocol_);
    {
        std::lock_guard lock(mutex_);
        if (state_ != State::open) return Pushed::closed;
        // Latest wins: a queued message with the same key is obsolete. There is at most one.
        if (const std::string& key = message->body->key; !key.empty()) {
            for (std::size_t i = 0; i < queue_.size(); ++i) {
                Outgoing& queued = queue_[i];
                if (queued.kind != Outgoing::Kind::message || queued.message->body->key != key)
                    continue;
                --messages_;
                bytes_ -= queued.message->size(protocol_);
                queue_.erase(i);
                break;
            }
        }
        if (messages_ >= limits_.messages || bytes_ + size > limits_.bytes) return Pushed::full;
        ++messages_;
        bytes_ += size;
        queue_.push_back(Outgoing{Outgoing::Kind::message, std::move(message)});
    }
    wake();
    return Pushed::yes;
}

void Outbox::push_ping() {
    {
        std::lock_guard lock(mutex_);
        if (state_ != State::open || ping_waiting_) return;
        ping_waiting_ = true;
        queue_.push_back(Outgoing{Outgoing::Kind::ping, {}});
    }
    wake();
}

void Outbox::close(bool flush) {
    {
        std::lock_guard lock(mutex_);
        if (state_ == State::dropped || (flush && state_ == State::flushing)) return;
        if (flush) {
            state_ = State::flushing;
            queue_.push_back(Outgoing{Outgoing::Kind::close, {}});
        } else {
            state_ = State::dropped;
            queue_.clear();  // their budget goes with them: the writer will take no more
        }
    }
    wake();
}

void Outbox::end() {
    {
        std::lock_guard lock(mutex_);
        state_ = State::dropped;
        queue_.clear();
    }
    wake();
}

bool Outbox::open() const {
    std::lock_guard lock(mutex_);
    return state_ == State::open;
}

std::optional<std::tuple<error_code, Outgoing>> Outbox::try_take() {
    std::lock_guard lock(mutex_);
    if (state_ == State::dropped)
        return std::tuple(error_code(asio::experimental::error::channel_closed), Outgoing{});
    if (queue_.empty()) return std::nullopt;
    Outgoing next = std::move(queue_.front());
    queue_.pop_front();
    return std::tuple(error_code(), std::move(next));
}

awaitable<std::tuple<error_code, Outgoing>> Outbox::receive() {
    for (;;) {
        if (auto taken = try_take()) co_return std::move(*taken);
        auto [error] = co_await signal_.async_receive(use_nothrow);
        if (error) co_return std::tuple(error, Outgoing{});  // cancelled
    }
}

void Outbox::take(std::vector<Outgoing>& items, std::size_t most) {
    std::lock_guard lock(mutex_);
    if (state_ == State::dropped) return;
    while (!queue_.empty() && items.size() < most) {
        items.push_back(std::move(queue_.front()));
        queue_.pop_front();
    }
}

void Outbox::sent(const Outgoing& outgoing) {
    std::lock_guard lock(mutex_);
    if (outgoing.kind == Outgoing::Kind::ping) ping_waiting_ = false;
    if (outgoing.kind != Outgoing::Kind::message) return;
    --messages_;
    bytes_ -= outgoing.message->size(protocol_);
}

}  // namespace herald
