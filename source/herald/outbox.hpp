// A connection's outbox: what the hub has queued for it and its writer has yet to send.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <tuple>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/experimental/basic_concurrent_channel.hpp>

#include "herald/message.hpp"
#include "herald/net.hpp"
#include "herald/outbox_queue.hpp"

namespace herald {

// What the writer sends next.
struct Outgoing {
    enum class Kind : std::uint8_t { message, ping, close };
    Kind kind = Kind::close;
    DeliveryPtr message;
};

struct OutboxLimits {
    std::size_t messages;
    std::size_t bytes;
};

// Between two strands: the hub fills it from its own, the connection's writer empties it on the
// connection's. The hub never waits on it: a full outbox is the slow-consumer policy's business.
//
// A queue of its own rather than an Asio channel, which cannot take an item back: a message
// with a key drops the queued, not yet written one with the same key (progress that collapses:
// a slow phone gets the latest state, not every step, and never falls behind for it), and the
// writer may take everything queued at once, to write it together. A short lock guards the
// queue, as a concurrent channel's would; the writer waits on a signal-only channel that holds
// no items, so that a waiting writer is an operation Asio owns (and destroys at shutdown).
//
// Bounded by a count and bytes of messages, queued or taken and not yet sent; at most one ping
// waits, and a close after what is queued (a flush) or instead of it.
class Outbox {
  public:
    Outbox(asio::any_io_executor executor, OutboxLimits limits, Protocol protocol);

    // Producer side (one at a time: the hub's strand).

    enum class Pushed { yes, full, closed };
    // Queues `message`, first taking out a queued one with the same key if it has one; `full`
    // past the limits, `closed` once closed or ended.
    Pushed push(DeliveryPtr message);
    // Queues a ping unless one waits already (a writer stuck in a write would gather one per
    // interval) or the outbox is closed.
    void push_ping();
    // With `flush`, a close after what is queued; otherwise what is queued goes and the writer
    // learns at once (channel_closed). Either way nothing more is taken.
    void close(bool flush);
    // The peer has gone: nothing more is taken, and a waiting writer wakes (channel_closed).
    void end();
    bool open() const;

    // Consumer side (the writer).

    // The next item; fails with experimental::error::channel_closed once closed without a flush
    // or ended, and with operation_aborted when the wait is cancelled.
    awaitable<std::tuple<error_code, Outgoing>> receive();
    // Everything queued now, up to `most` items, without waiting; none once closed without a
    // flush or ended.
    void take(std::vector<Outgoing>& items, std::size_t most);
    // Releases the budget that a message (or the room that a ping) held, once it is sent.
    void sent(const Outgoing& outgoing);

  private:
    enum class State : std::uint8_t { open, flushing, dropped };
    // The next item or why there is none, or nothing when the writer must wait.
    std::optional<std::tuple<error_code, Outgoing>> try_take();
    void wake() { signal_.try_send(error_code{}); }

    using Signal =
        asio::experimental::basic_concurrent_channel<asio::any_io_executor, OutboxChannelTraits<>,
                                                     void(error_code)>;

    const OutboxLimits limits_;
    const Protocol protocol_;
    Signal signal_;  // one wake-up waits at most; the items are in queue_
    mutable std::mutex mutex_;
    // Guarded by mutex_.
    OutboxQueue<Outgoing> queue_;
    std::size_t messages_ = 0;  // queued or taken, not yet sent
    std::size_t bytes_ = 0;
    bool ping_waiting_ = false;
    State state_ = State::open;
};

}  // namespace herald
