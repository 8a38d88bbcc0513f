#include "herald/connection.hpp"

#include <boost/asio/post.hpp>

namespace herald {

Connection::Connection(asio::any_io_executor executor, std::uint64_t id, Login login,
                       tcp::endpoint remote, OutboxLimits limits)
    : executor_(executor),
      id_(id),
      uid_(std::move(login.uid)),
      protocol_(login.protocol),
      remote_(remote),
      limits_(limits),
      outbox_(executor, limits, login.protocol),
      last_heard_(Clock::now().time_since_epoch().count()) {}

Connection::Enqueued Connection::enqueue(DeliveryPtr message) {
    if (message->seq <= last_queued_seq_) return Enqueued::passed;
    if (held_) {
        std::size_t size = message->size(protocol_);
        if (held_->size() >= limits_.messages || held_bytes_ + size > limits_.bytes)
            return outbox_.open() ? Enqueued::full : Enqueued::closed;
        held_bytes_ += size;
        held_->push_back(std::move(message));
        return Enqueued::yes;
    }
    std::uint64_t seq = message->seq;
    switch (outbox_.push(std::move(message))) {
        case Outbox::Pushed::yes:
            last_queued_seq_ = seq;
            return Enqueued::yes;
        case Outbox::Pushed::full:
            return Enqueued::full;
        case Outbox::Pushed::closed:
            break;
    }
    return Enqueued::closed;
}

void Connection::hold() {
    held_ = std::make_unique<std::vector<DeliveryPtr>>();
    held_bytes_ = 0;
}

Connection::Enqueued Connection::release(const std::vector<DeliveryPtr>& replay) {
    std::unique_ptr<std::vector<DeliveryPtr>> held = std::move(held_);
    held_bytes_ = 0;
    const std::vector<DeliveryPtr>* in_order[] = {&replay, held.get()};
    for (const std::vector<DeliveryPtr>* messages : in_order) {
        if (messages == nullptr) continue;
        for (const DeliveryPtr& message : *messages) {
            Enqueued result = enqueue(message);
            if (result == Enqueued::full || result == Enqueued::closed) return result;
        }
    }
    return Enqueued::yes;
}

void Connection::close(const CloseReason& reason, bool flush) {
    // The reason is stored before the outbox is told; the outbox's lock orders this store
    // before the writer's load.
    close_reason_.store(&reason, std::memory_order_release);
    outbox_.close(flush);
}

void Connection::abort() {
    asio::post(executor_, [self = shared_from_this()] {
        if (self->socket_ == nullptr) return;  // the connection has already ended
        error_code ignored;
        self->socket_->close(ignored);
    });
}

}  // namespace herald
