// The part of a WebSocket connection that the hub and the connection's own coroutines share.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "herald/close_reason.hpp"
#include "herald/message.hpp"
#include "herald/net.hpp"
#include "herald/outbox.hpp"
#include "herald/protocol.hpp"

namespace herald {

// A registered WebSocket connection as the hub sees it: who it is, its bounded outbox, and when
// its peer was last heard from.
//
// The verbs: the server *closes* a connection (a close frame with a reason from the close table,
// after what is queued or instead of it), *aborts* one that does not finish closing (drops the
// socket), and a connection *ends* when its peer has gone.
//
// Threading: the hub is the only producer and calls the producer functions from its strand; the
// connection's writer is the only consumer, on the connection's strand (see Outbox).
class Connection : public std::enable_shared_from_this<Connection> {
  public:
    Connection(asio::any_io_executor executor, std::uint64_t id, Login login, tcp::endpoint remote,
               OutboxLimits limits);

    std::uint64_t id() const { return id_; }
    const std::string& uid() const { return uid_; }
    Protocol protocol() const { return protocol_; }
    const tcp::endpoint& remote() const { return remote_; }

    // Producer side.

    enum class Enqueued { yes, passed, full, closed };
    // Queues `message` unless its seq is one this connection has already queued (`passed`: a
    // replay and the live messages may overlap while a client resumes, and it must get each
    // message once), that would go past the outbox limits (`full`: the caller must close this
    // connection as a slow consumer), or the connection is ending (`closed`).
    Enqueued enqueue(DeliveryPtr message);
    // While a connection joins a stream kept elsewhere (a cluster), what it missed is read
    // after it is registered, so live messages may arrive before its replay: hold() keeps them
    // aside, and release() queues the replay (in order) and then them, each message once. Held
    // messages count against the outbox limits as queued ones do (`full` past them).
    void hold();
    Enqueued release(const std::vector<DeliveryPtr>& replay);
    // The user's stream began anew (its numbering restarts): messages from seq 1 are new again.
    void restart_numbering() { last_queued_seq_ = 0; }
    // Queues a ping unless one is queued and not yet sent.
    void enqueue_ping() { outbox_.push_ping(); }
    // Has the writer send a close frame with `reason`. With `flush`, what is already queued is
    // sent first when the queue has room for the close; otherwise the queue is dropped.
    // `reason` must outlive the connection: a constant. The hub's strand: the connection's own
    // side asks through Hub::close, so that the hub stops queueing to it and bounds the close.
    void close(const CloseReason& reason, bool flush);
    // Drops the socket without a close handshake, for a peer that did not finish closing in time.
    void abort();

    // Consumer side.

    // The next thing to send; fails with experimental::error::channel_closed once the outbox
    // was closed without a flush, and with operation_aborted when the wait is cancelled.
    awaitable<std::tuple<error_code, Outgoing>> receive() { return outbox_.receive(); }
    // Everything queued now (up to `most` items), for a writer that sends it together.
    void take(std::vector<Outgoing>& items, std::size_t most) { outbox_.take(items, most); }
    // Releases the outbox budget that a message (or the room that a ping) held, once the writer
    // is done with it.
    void sent(const Outgoing& outgoing) { outbox_.sent(outgoing); }
    // The connection is over from its own side (the peer left): the outbox takes no more, and a
    // writer waiting on it wakes up.
    void end() { outbox_.end(); }
    const CloseReason& close_reason() const {
        return *close_reason_.load(std::memory_order_acquire);
    }

    // `socket` is what abort() closes; attached and detached on the connection's strand, by the
    // coroutine that owns the socket.
    void attach(tcp::socket* socket) { socket_ = socket; }
    void detach() { socket_ = nullptr; }

    // Keep-alive clock: the reader touches it on every frame from the peer, pongs included.
    void touch() {
        last_heard_.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
    }
    Clock::time_point last_heard() const {
        return Clock::time_point(Clock::duration(last_heard_.load(std::memory_order_relaxed)));
    }

    // When the login token expires, in seconds since the epoch; 0 for never. Set at login and
    // by each refresh; the hub closes the connection once it has passed.
    void set_token_expiry(std::int64_t seconds) {
        token_expiry_.store(seconds, std::memory_order_relaxed);
    }
    std::int64_t token_expiry() const { return token_expiry_.load(std::memory_order_relaxed); }

    // The keep-alive's bookkeeping of this connection (see keep_alive.hpp), kept here rather than
    // in a node of its own: every connection has one. The hub's strand only.
    struct KeepAliveSlot {
        Connection* connection;
        Clock::time_point next_ping;
        Clock::time_point ping_sent;  // time_point{} when no ping awaits an answer
        std::size_t walk_index = 0;   // its place in the keep-alive's walk
    };
    KeepAliveSlot& keep_alive_slot() { return keep_alive_slot_; }

  private:
    asio::any_io_executor executor_;  // the connection's strand
    std::uint64_t id_;
    std::string uid_;
    Protocol protocol_;
    tcp::endpoint remote_;
    OutboxLimits limits_;
    Outbox outbox_;
    std::atomic<const CloseReason*> close_reason_{&close_reasons::shutdown};
    std::atomic<Clock::rep> last_heard_;
    std::atomic<std::int64_t> token_expiry_{0};
    // The producer's (the hub's strand).
    std::uint64_t last_queued_seq_ = 0;
    // While held: what came live, in order (allocated only then: most connections never hold).
    std::unique_ptr<std::vector<DeliveryPtr>> held_;
    std::size_t held_bytes_ = 0;
    KeepAliveSlot keep_alive_slot_{this, {}, {}, 0};
    tcp::socket* socket_ = nullptr;  // the connection's strand only
};

}  // namespace herald
