// The hub: each user's stream of messages and connections, and delivery to them.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/container/deque.hpp>

#include "herald/config.hpp"
#include "herald/connection.hpp"
#include "herald/net.hpp"
#include "herald/protocol.hpp"
#include "herald/sliced_walk.hpp"

namespace herald {

struct HubOptions {
    Duration ping_interval = std::chrono::seconds(25);
    Duration pong_timeout = std::chrono::seconds(10);
    Duration close_timeout = std::chrono::seconds(5);
    std::size_t max_connections = 0;              // 0: no limit
    std::size_t max_connections_per_address = 0;  // 0: no limit
    std::size_t history_size = 100;               // messages kept per user; 0: none
    Duration history_ttl = std::chrono::minutes(5);
    std::size_t history_max_bytes = 64 * 1024 * 1024;
};

struct HubStats {
    std::size_t connections = 0;
    std::size_t users = 0;                 // users with at least one connection
    std::uint64_t messages_published = 0;  // one per (message, user) pair
    std::uint64_t messages_delivered = 0;  // one per connection a message was queued to
    std::uint64_t slow_consumer_disconnects = 0;
    std::size_t streams = 0;  // users connected, with history, or seen within the history TTL
    std::size_t history_streams = 0;
    std::size_t history_messages = 0;
    std::size_t history_bytes = 0;
};

// Whether a new WebSocket may open, under the connection limits.
enum class Admission { admitted, server_full, address_full };

// What a join did: whether the connection is registered, and where it starts in its stream.
struct JoinResult {
    bool joined = false;
    StreamPosition position;
};

// What a publish did: connections it was queued to, and its seq in each user's stream (in the
// order of the uids; 0 for a user whose stream is not kept).
struct PublishResult {
    std::size_t delivered = 0;
    std::vector<std::uint64_t> seqs;
};

// An actor: all of its state belongs to its strand, and callers reach it only by posting
// requests there (join, leave, publish, stats, admit, release, close_all), so no mutex guards
// it. The hub never waits on a connection: it only queues to outboxes and closes the full ones.
//
// Every user has a stream: messages numbered 1, 2, 3, ... under an epoch that changes whenever
// the stream's history could have been lost (a new stream, a restart). The last messages of
// each stream are kept for a while, so that a client that comes back gets what it missed: the
// replay is queued in the same step that registers the connection, so nothing falls between
// the history and the live messages, and nothing comes twice.
//
// It also keeps connections alive: a ticker on the strand pings each one every ping interval,
// closes the ones that stay silent for the pong timeout after a ping or whose token expired,
// and expires old history. The ticker never stops the hub for long: it looks at every
// connection once per round, a slice of them per tick, and first pings fall at random in the
// second half of the ping interval, so that connections that came together (after a restart,
// say) are not all pinged in the same tick.
class Hub {
  public:
    Hub(asio::any_io_executor executor, HubOptions options);

    // Starts the keep-alive ticker.
    void start();

    // Registers `connection` under its uid and queues what it missed since `since`. Not joined
    // once the hub is shutting down: the caller then closes the connection itself. Completes
    // after the registration is in effect, so a message published after that reaches it.
    awaitable<JoinResult> join(std::shared_ptr<Connection> connection,
                               std::optional<Since> since = {});

    // Unregisters `connection`, if it still is registered.
    void leave(std::shared_ptr<Connection> connection);

    // Closes a registered connection for a reason of its own side (a rule its peer broke): as
    // the hub's own closes do, it unregisters it, so that nothing more is queued to it, and
    // drops it if it does not finish closing within the close timeout. `reason` must outlive
    // the connection: a constant. With `flush`, what is already queued is sent first.
    void close(std::shared_ptr<Connection> connection, const CloseReason& reason, bool flush);

    // Numbers the message in each user's stream, keeps it in their history, and queues it to
    // every connection of each of `uids`. A connection whose outbox is full is closed as a slow
    // consumer instead.
    awaitable<PublishResult> publish(std::vector<std::string> uids, MessageBodyPtr body);

    awaitable<HubStats> stats();

    // Counts a WebSocket that is about to open against the connection limits; an admitted one
    // must be released when it ends, whether or not it ever logged in.
    bool limits_connections() const {
        return options_.max_connections != 0 || options_.max_connections_per_address != 0;
    }
    awaitable<Admission> admit(asio::ip::address address);
    void release(asio::ip::address address);

    // Shutdown: refuses further joins and closes every connection with 1001 after what is
    // already queued to it. Connections that do not finish closing within the close timeout
    // are dropped.
    void close_all();

  private:
    struct Registration {
        std::shared_ptr<Connection> connection;
        Clock::time_point next_ping;
        Clock::time_point ping_sent;  // time_point{} when no ping awaits an answer
    };
    // A kept message and its place in the order of everything kept, across users. Its size is
    // kept beside it, so that forgetting it does not read the message, long since out of cache.
    struct Kept {
        std::uint64_t order;
        std::size_t bytes;
        DeliveryPtr delivery;
    };
    // The oldest kept message of each stream that keeps any, oldest first: what goes first
    // when history is over its byte budget or its age.
    // (order, uid). The uid is the streams_ map's own key, which stays put while the stream
    // exists: no copy.
    using OldestKey = std::pair<std::uint64_t, const std::string*>;
    struct Stream {
        std::string epoch;
        std::uint64_t last_seq = 0;
        // Not std::deque, which allocates a block even while empty: most streams keep nothing
        // most of the time, and there is one stream per connected user.
        boost::container::deque<Kept> history;
        // Its entry in oldest_ while it keeps messages: moved on without a search of the tree.
        std::set<OldestKey>::iterator oldest_entry;
        std::vector<Registration> connections;
        Clock::time_point last_activity;  // for dropping a stream nobody uses any more
        std::size_t walk_index = 0;       // its place in connected_, while it has connections

        // Nothing holds the stream but its epoch: no connection, no message kept.
        bool unused() const { return connections.empty() && history.empty(); }
    };
    struct Closing {
        std::shared_ptr<Connection> connection;
        Clock::time_point abort_at;
    };

    // Runs `request` on the strand and completes with its result on the caller's executor.
    template <typename Request>
    auto ask(Request request);

    JoinResult add(std::shared_ptr<Connection> connection, const std::optional<Since>& since);
    bool remove(const Connection& connection);
    PublishResult deliver(const std::vector<std::string>& uids, const MessageBodyPtr& body);
    using StreamEntry = std::pair<const std::string, Stream>;  // a streams_ node: key and stream
    StreamEntry& stream_for(const std::string& uid);
    void keep(StreamEntry& entry, DeliveryPtr delivery);
    void forget_oldest(StreamEntry& entry);
    void drop_if_unused(std::unordered_map<std::string, Stream>::iterator found);
    void drop_if_unused_since(std::unordered_map<std::string, Stream>::iterator found,
                              Clock::time_point idle_since);
    void expire_history();
    void close_connection(const std::shared_ptr<Connection>& connection, const CloseReason& reason,
                          bool flush);
    void schedule_tick();
    void tick();
    void walk_slice(Clock::time_point now);
    void abort_stuck_closes(Clock::time_point now);

    asio::strand<asio::any_io_executor> strand_;
    HubOptions options_;
    Duration round_;            // every connection is looked at once per round
    std::string epoch_prefix_;  // new for each hub: history does not survive a restart

    // Everything below belongs to strand_.
    asio::steady_timer ticker_;
    std::unordered_map<std::string, Stream> streams_;
    // The streams with connections: what the keep-alive walks, so that the streams kept only
    // for their history or epoch cost it nothing. Nodes of streams_, which stay put until
    // erased, and a stream with connections is never erased.
    SlicedWalk<Stream> connected_;
    std::size_t slices_ = 1;  // ticks in this round
    std::minstd_rand ping_jitter_;
    // Streams as they were left unused (their last connection left, or nothing could be kept),
    // in that order: each is looked at again once the history TTL has passed, and goes if still
    // unused and not used since (else it is looked at a TTL later). By uid, not by pointer: the
    // stream may have gone, or come back, in between.
    std::deque<std::pair<Clock::time_point, std::string>> left_;
    std::set<OldestKey> oldest_;
    std::uint64_t streams_created_ = 0;
    std::uint64_t kept_ = 0;  // messages ever kept: the order of the next one
    std::unordered_map<const Connection*, Closing> closing_;
    HubStats stats_;
    bool stopping_ = false;
    std::size_t admitted_ = 0;
    std::unordered_map<asio::ip::address, std::size_t> admitted_per_address_;
};

}  // namespace herald
