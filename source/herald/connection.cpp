#include "herald/connection.hpp"

#include <boost/asio/post.hpp>

namespace herald {

namespace {
// Room beyond the message limit for the control items (a ping, the close), so that control
// never competes with messages for the last slot.
constexpr std::size_t control_slots = 2;
}  // namespace

Connection::Connection(asio::any_io_executor executor, std::uint64_t id, Login login,
                       tcp::endpoint remote, OutboxLimits limits)
    : executor_(executor),
      id_(id),
      uid_(std::move(login.uid)),
      protocol_(login.protocol),
      remote_(remote),
      limits_(limits),
      outbox_(executor, limits.messages + control_slots),
      last_heard_(Clock::now().time_since_epoch().count()) {}

Connection::Enqueued Connection::enqueue(DeliveryPtr message) {
    if (message->seq <= last_queued_seq_) return Enqueued::passed;
    std::size_t size = message->size(protocol_);
    if (held_) {
        if (held_->size() >= limits_.messages || held_bytes_ + size > limits_.bytes)
            return outbox_.is_open() ? Enqueued::full : Enqueued::closed;
        held_bytes_ += size;
        held_->push_back(std::move(message));
        return Enqueued::yes;
    }
    // Only the hub adds to these counters, so checking and then adding cannot overshoot; the
    // writer only ever lowers them.
    if (queued_messages_.load(std::memory_order_relaxed) >= limits_.messages ||
        queued_bytes_.load(std::memory_order_relaxed) + size > limits_.bytes)
        return outbox_.is_open() ? Enqueued::full : Enqueued::closed;
    queued_messages_.fetch_add(1, std::memory_order_relaxed);
    queued_bytes_.fetch_add(size, std::memory_order_relaxed);
    std::uint64_t seq = message->seq;
    if (outbox_.try_send(error_code{}, Outgoing{Outgoing::Kind::message, std::move(message)})) {
        last_queued_seq_ = seq;
        return Enqueued::yes;
    }
    queued_messages_.fetch_sub(1, std::memory_order_relaxed);
    queued_bytes_.fetch_sub(size, std::memory_order_relaxed);
    // The channel refused: it is closed (by the hub earlier, or by the connection's end), or
    // full of pings that a writer stuck in a write could not send. Full is a slow consumer all
    // the same; taking it for closed would drop the message without a word.
    return outbox_.is_open() ? Enqueued::full : Enqueued::closed;
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

void Connection::enqueue_ping() {
    // One ping at a time: a writer stuck in a write would otherwise gather a ping per interval
    // and fill the slots that messages and the close need.
    if (ping_queued_.exchange(true, std::memory_order_relaxed)) return;
    if (!outbox_.try_send(error_code{}, Outgoing{Outgoing::Kind::ping, {}}))
        ping_queued_.store(false, std::memory_order_relaxed);
}

void Connection::close(const CloseReason& reason, bool flush) {
    // The reason is stored before the channel is told; the channel's lock orders this store
    // before the writer's load.
    close_reason_.store(&reason, std::memory_order_release);
    if (flush && outbox_.try_send(error_code{}, Outgoing{Outgoing::Kind::close, {}})) return;
    outbox_.close();  // drops what is queued; the writer then sees channel_closed
}

void Connection::abort() {
    asio::post(executor_, [self = shared_from_this()] {
        if (self->socket_ == nullptr) return;  // the connection has already ended
        error_code ignored;
        self->socket_->close(ignored);
    });
}

awaitable<std::tuple<error_code, Outgoing>> Connection::receive() {
    return outbox_.async_receive(use_nothrow);
}

void Connection::sent(const Outgoing& outgoing) {
    if (outgoing.kind == Outgoing::Kind::ping) ping_queued_.store(false, std::memory_order_relaxed);
    if (outgoing.kind != Outgoing::Kind::message) return;
    queued_messages_.fetch_sub(1, std::memory_order_relaxed);
    queued_bytes_.fetch_sub(outgoing.message->size(protocol_), std::memory_order_relaxed);
}

}  // namespace herald
