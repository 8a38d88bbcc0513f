// The engine of a cluster: every node given the same Redis is one Herald.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/steady_timer.hpp>

#include "herald/ack_waiters.hpp"
#include "herald/cluster/live_message.hpp"
#include "herald/cluster/stream_store.hpp"
#include "herald/config.hpp"
#include "herald/engine.hpp"
#include "herald/hub.hpp"
#include "herald/metrics.hpp"
#include "herald/redis/command_connection.hpp"
#include "herald/redis/subscriber.hpp"

namespace herald::cluster {

// Streams live in Redis (StreamStore: one Lua script per user numbers, keeps and PUBLISHes a
// message in one atomic step), and each node subscribes to the channel of every user it holds a
// connection of, spread over a few subscriber links. A publish on any node reaches the user's
// connections on every node.
//
// A join registers the connection held (live messages are kept aside), waits for the user's
// subscription to be confirmed, and only then reads the stream after the client's seq: a
// message published before the confirmation is in the stream, one after it arrives live, one in
// between comes both ways and the connection takes it once. The replay goes out first, then
// what was held. Per user the node delivers live messages in seq order: a duplicate is dropped,
// and a message beyond the next one (a pub/sub message lost) makes it read the missing ones
// from the stream first. A stream that began anew (Redis lost its data: a new epoch) or lost
// messages it cannot replay closes the user's JSON-protocol connections with 1012 "stream
// reset", so that they resume and learn it from `recovered`.
//
// Faults are said, not hidden: while Redis cannot serve, publishes fail (503), logins are closed
// with 1013, and ready() is false; connected clients stay. When a subscriber link comes back it
// resubscribes every user, and the node reads each one up from its stream (a catch-up). A probe
// that the node publishes to itself through each subscriber link finds one that stopped
// delivering while it looked up, and restarts it.
//
// The node's own state (who it follows, up to which seq) belongs to the hub's strand, like the
// hub's: the engine's coroutines that touch it run there, and await Redis without holding it.
class RedisEngine final : public Engine, private HubObserver {
  public:
    // Throws std::invalid_argument when --redis cannot be used.
    RedisEngine(asio::any_io_executor executor, Hub& hub, const Config& config, Metrics& metrics);
    ~RedisEngine();

    void start() override;
    void stop() override;
    awaitable<boost::system::result<Published>> publish(PublishRequest request) override;
    awaitable<boost::system::result<std::vector<Published>>> publish_batch(
        std::vector<PublishRequest> requests) override;
    awaitable<boost::system::result<Joined>> join(std::shared_ptr<Connection> connection,
                                                  std::optional<Since> since) override;
    awaitable<boost::system::result<std::size_t>> presence(std::string uid) override;
    awaitable<boost::system::result<std::size_t>> disconnect(std::string uid,
                                                             bool reconnect) override;
    void acknowledge(std::string uid, std::uint64_t seq) override;
    awaitable<boost::system::result<bool>> wait_for_ack(std::string uid, std::uint64_t seq,
                                                        Duration timeout) override;
    awaitable<boost::system::result<std::uint64_t>> acked_seq(std::string uid) override;
    bool ready() const override;
    awaitable<EngineStats> stats() override;

    const std::string& node() const { return node_; }

  private:
    // A user this node follows: it has (or had, a linger ago) a connection of it here.
    struct Followed {
        std::string epoch;           // empty until the first read after the subscription
        std::string retired_epoch;   // the one before a reset: its late messages are dropped
        std::uint64_t last_seq = 0;  // the last message delivered here
        bool reading = false;        // a read from the stream is in flight: live messages wait
        bool stale = false;          // a read failed: read again at the next upkeep
        std::deque<LiveMessage> waiting;
        Clock::time_point left_at;  // when its last connection here left
    };
    using FollowedMap = std::unordered_map<std::string, Followed>;

    // The hub's strand.
    void on_first_connection(const std::string& uid) override;
    void on_connection_gone(const std::string& uid, std::size_t remaining) override;
    void on_live(LiveMessage message);
    void accept(const std::string& uid, Followed& user, LiveMessage message);
    void wait(Followed& user, LiveMessage message);
    void deliver(const std::string& uid, Followed& user, const StoredMessage& message);
    void begin_stream(const std::string& uid, Followed& user, const std::string& epoch,
                      const Connection* except = nullptr);
    void apply(const std::string& uid, Followed& user, const StreamRead& read);
    void drain(const std::string& uid, Followed& user);
    Joined release(const std::shared_ptr<Connection>& connection, StreamRead read);
    void mark_presence(const std::string& uid);
    void read_up(std::vector<std::string> uids);
    awaitable<void> read_up_now(std::vector<std::string> uids);
    awaitable<void> flush_presence();
    awaitable<void> upkeep();
    void unfollow_lingering(Clock::time_point now);

    // Any executor.
    redis::Subscriber& subscriber_for(std::string_view uid);
    void on_message(std::size_t subscriber, std::string_view channel, std::string_view payload);
    void on_command_link(redis::LinkEvent event);
    void on_subscriber_link(std::size_t subscriber, redis::LinkEvent event);
    awaitable<void> prepare();
    void note_heartbeat(const Heartbeat& heartbeat);
    awaitable<void> probe(std::size_t round);

    using JoinSlots = asio::experimental::concurrent_channel<void(error_code)>;
    // A slot of join_slots_, given back when it goes.
    struct JoinSlot {
        JoinSlots* slots = nullptr;
        explicit JoinSlot(JoinSlots& owner) : slots(&owner) {}
        JoinSlot(const JoinSlot&) = delete;
        JoinSlot& operator=(const JoinSlot&) = delete;
        ~JoinSlot() {
            slots->try_receive([](error_code) {});
        }
    };

    Hub& hub_;
    Metrics& metrics_;
    const std::string node_;
    const Duration probe_interval_;
    const Duration linger_;
    const Duration redis_timeout_;
    redis::CommandConnection commands_;
    std::vector<std::unique_ptr<redis::Subscriber>> subscribers_;
    // The logins under way in Redis, at most --redis-max-joins: a slot is a value in the channel,
    // taken by sending one (which waits while it is full) and given back by receiving one. A
    // storm of logins then waits here, where no Redis timeout runs, rather than in Redis's
    // queue, where the oldest would pass --redis-timeout and fail everything behind it.
    JoinSlots join_slots_;
    StreamStore store_;
    const std::size_t refresh_rounds_;  // upkeep rounds per refresh of every presence count
    std::atomic<bool> prepared_{false};
    // A count of this node's may be wrong or gone in Redis: the next upkeep writes them all.
    std::atomic<bool> rewrite_presence_{false};
    std::atomic<std::size_t> nodes_{1};
    std::atomic<bool> ever_connected_{false};
    // Probes: sent by the upkeep, seen by each subscriber's message handler.
    std::vector<std::atomic<std::uint64_t>> probes_seen_;
    // Per subscriber link: counts up at each `resubscribed` (0 while it is down), so that a probe
    // only counts as missed on the very link that was up, and subscribed, when it was sent.
    std::vector<std::atomic<std::uint64_t>> link_generation_;
    std::atomic<std::uint64_t> generations_{0};
    // The hub's strand: the last round sent, and the generation of each link it was sent on.
    std::uint64_t probes_sent_ = 0;
    std::vector<std::uint64_t> probed_generation_;

    // The hub's strand.
    FollowedMap followed_;
    AckWaiters ack_waiters_;  // publishers on this node waiting for an ack, of any user
    std::unordered_set<std::string> presence_changed_;
    bool presence_flush_pending_ = false;
    asio::steady_timer upkeep_timer_;
    asio::steady_timer presence_timer_;
    bool stopped_ = false;
};

}  // namespace herald::cluster
