// The streams of a Herald cluster's users in Redis: the numbering, history, presence and node
// list that every node shares, each operation one atomic script per user.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/system/result.hpp>

#include "herald/cluster/keys.hpp"
#include "herald/cluster/scripts.hpp"
#include "herald/cluster/stream_types.hpp"
#include "herald/message.hpp"
#include "herald/net.hpp"
#include "herald/redis/command.hpp"
#include "herald/redis/command_connection.hpp"

namespace herald::cluster {

// The same semantics as a single node's History, kept in Redis (keys.hpp has the layout) so
// that any node may publish to any user and any node may resume any client:
//
// - Every user has a stream: messages numbered 1, 2, 3, ... under an epoch. The epoch changes
//   whenever the stream's history could have been lost, and then numbering starts again at 1.
//   That is when the user's meta is missing (a new user, or one unused for history_ttl), and
//   when Redis is not the run that wrote it: every start of redis-server has a new run_id, so a
//   restart without persistence, or a failover to a replica that may have lagged, gives every
//   stream a new epoch as it is next used. A Redis restarted WITH its data (AOF, RDB) has a new
//   run_id too: its streams get new epochs as well, and their messages go. That costs resuming
//   clients a reload (recovered false), but is safe, and needed: AOF's default fsync every
//   second may have lost the last writes, and a seq handed out again under the same epoch
//   would be a different message behind a number a client already has.
// - The last history_size messages are kept for history_ttl (by Redis's clock), as a Redis
//   stream whose ids are the seqs; the epoch and seq (the meta) stay as long as the stream, as
//   long as history_ttl after the last read, and while a node reports connections of the user.
// - Presence: each node counts its connections of each user in the user's presence hash, with
//   an expiry it refreshes now and then (presence_ttl, minutes); a publish says how many
//   connections the live nodes have. Which nodes are dead, each node learns from the node list
//   at its heartbeat (every few seconds), and passes to the scripts: a script may only touch
//   its user's keys (a Redis Cluster slot), and this way a node's liveness costs one write per
//   heartbeat instead of one per user it holds.
//
// Errors: transport failures are the Redis client's codes (RedisError: not_connected,
// timeout, ...); a Redis error reply (out of memory, read-only, ...) and a reply of a shape the
// scripts never give are StoreError's. Every error means Redis could not serve: never success.
// The text of an error reply is logged here (the first of a streak as a warning, the rest at
// debug), never with a message body.
//
// Calls on many users are pipelined: one round trip, one EVALSHA per user, each atomic on its
// own. They are not atomic together: an error for any user fails the call, and the users before
// it may have been served (a publish retried with the same idempotency key is then safe).
//
// Redis must not evict these keys (maxmemory-policy noeviction, Redis's default): an evicted
// meta only costs an epoch, but an evicted idempotency key lets a retry publish twice. When
// Redis is full, every script is refused up front (they start with a #!lua shebang), so a
// refused publish has taken no seq and left nothing behind.
//
// One Redis (or a primary with replicas): every script checks its keys against the run_id
// that prepare() read. A Redis Cluster would need the run_id of the shard that owns each
// user's slot; the keys' hash tags are ready for it, the run check is not.
//
// Thread-safe: any coroutine on any executor may call it, concurrently. The connection must
// outlive the store, and the store every call it has started.
class StreamStore {
  public:
    // Settings are checked (positive durations, a node id): a bad one is a bug
    // (std::invalid_argument).
    StreamStore(redis::CommandConnection& redis, StoreSettings settings);
    StreamStore(const StreamStore&) = delete;
    StreamStore& operator=(const StreamStore&) = delete;

    // Call it on every (re)connection, before anything else: it learns which run of Redis the
    // link reaches (INFO server's run_id) and loads the scripts (SCRIPT LOAD). Until it has
    // succeeded on the current link, every other call fails with not_prepared. Fails with
    // not_prepared too if forget_link() was called meanwhile (the link it prepared is gone).
    awaitable<boost::system::result<void>> prepare();
    // Call it when the link goes down (from the connection's `disconnected` event, which comes
    // before any new link is up): which Redis is behind the next link is unknown until
    // prepare() runs on it.
    void forget_link();

    // Numbers `body` as the next message of each user's stream, keeps it, and publishes it to
    // each user's channel (the LiveMessage payload): one outcome per uid, in their order. With
    // an idempotency key, per user, a retry with the same key within idempotency_ttl returns
    // the first attempt's outcome (same epoch, seq and delivered; duplicate set) and publishes
    // nothing. On NOSCRIPT (Redis lost its script cache), the scripts are loaded again and the
    // calls that were refused made again, once. `body` must not be null.
    awaitable<boost::system::result<std::vector<PublishOutcome>>> publish(
        std::vector<std::string> uids, MessageBodyPtr body,
        std::optional<std::string> idempotency_key);

    // One publish of a batch: its users, its body, and its idempotency key if any.
    struct Publication {
        std::vector<std::string> uids;
        MessageBodyPtr body;
        std::optional<std::string> idempotency_key;
    };
    // Many publishes in one round trip (pipelined script calls): for each, what publish() would
    // answer, in order; a failure of any fails the whole (each call is atomic on its own, so
    // those before it may have been stored: the batch's idempotency key makes a retry safe).
    awaitable<boost::system::result<std::vector<std::vector<PublishOutcome>>>> publish_many(
        std::vector<Publication> publications);

    // Where the user's stream stands (made if missing, so that a read never returns an epoch
    // the next publish would replace) and, with `since`, the kept messages after since.seq (for
    // another epoch, or none: everything kept), with `recovered`: whether they are all that was
    // missed (History::replay's rule). At most history_size messages. `presence_delta` (+1
    // for a connection that joins, -1 for one that leaves, 0) adjusts this node's count of the
    // user's connections in the same step.
    awaitable<boost::system::result<StreamRead>> read(std::string uid, std::optional<Since> since,
                                                      int presence_delta);

    // For each (uid, since): what read(uid, since, 0) answers, for gap filling and catching up
    // after a reconnect. The node passes the epoch its seq counts in: when the stream began anew
    // meanwhile, its seq says nothing of the new stream, whose every kept message is read
    // (and position.recovered is false). One round trip.
    awaitable<boost::system::result<std::vector<StreamRead>>> read_after(
        std::vector<std::pair<std::string, Since>> users);

    // This node's connection counts for many users, absolute, each valid presence_ttl from now
    // (0 removes this node from the user's presence). While the count is positive, the user's
    // meta is kept alive for at least history_ttl: a connected user keeps its epoch. Call it
    // more often than presence_ttl and history_ttl for every user with connections here, and
    // for all of them when heartbeat() says `revived`. One round trip.
    awaitable<boost::system::result<void>> set_presence(
        std::vector<std::pair<std::string, std::size_t>> counts);

    // The user's connections on live nodes: not the counts of nodes dead at the last
    // heartbeat(), nor those that expired (which are deleted).
    awaitable<boost::system::result<std::size_t>> presence(std::string uid);

    // A connection of `uid` handled everything up to `seq`: the user's acknowledged seq moves up
    // to it (never down, never past the stream's last seq), and while a publisher waits for one
    // of the user's acks, the ack is announced on acks_channel. Whether it moved.
    awaitable<boost::system::result<bool>> acknowledge(std::string uid, std::uint64_t seq);
    // Has the user's acks announced for `ttl` from now, and returns its acknowledged seq (0:
    // none) in the same step: a later ack is announced, an earlier one is in the answer.
    awaitable<boost::system::result<std::uint64_t>> announce_acks(std::string uid, Duration ttl);
    // The user's acknowledged seq; 0 for none.
    awaitable<boost::system::result<std::uint64_t>> acked_seq(std::string uid);

    // Says this node is alive (herald:nodes: node -> now), learns which nodes have been silent
    // for more than node_ttl (dead: their counts stop counting in this store's publishes and
    // presence reads), drops those silent for more than twice presence_ttl (their counts have
    // expired), and says how many nodes are alive and whether this one was taken for dead.
    awaitable<boost::system::result<Heartbeat>> heartbeat();

    static std::string channel_of(std::string_view uid) { return cluster::channel_of(uid); }
    static std::optional<std::string> uid_of_channel(std::string_view channel) {
        return cluster::uid_of_channel(channel);
    }

    const StoreSettings& settings() const { return settings_; }

  private:
    using Replies = boost::system::result<std::vector<redis::Reply>>;
    // One EVALSHA's arguments after the SHA: the key count, KEYS, ARGV. Views into strings
    // that the caller keeps until the call is done.
    using Call = std::vector<std::string_view>;

    // The run_id of the link prepare() succeeded on; none until then, and after forget_link().
    std::optional<std::string> run_id() const;
    // The nodes dead at the last heartbeat, a name per line.
    std::string dead_nodes() const;
    // `calls` of script `id`, pipelined; on NOSCRIPT the script is loaded and the refused
    // calls made again, once, in one more round trip. One reply per call, in order.
    awaitable<Replies> evaluate(ScriptId id, std::vector<Call> calls);
    // Notes how a call (of the script or command `name`) ended, for the log: a refusal's text
    // (the first of a streak as a warning), a bad reply, or a success that ends a streak.
    void note(std::string_view name, const redis::Reply& reply, const error_code& error);

    redis::CommandConnection& redis_;
    const StoreSettings settings_;
    // Decimal texts of the settings, made once: every call passes some of them.
    const std::string history_size_;
    const std::string history_ttl_;
    const std::string idempotency_ttl_;
    const std::string presence_ttl_;
    const std::string node_ttl_;
    const std::string dead_kept_;

    mutable std::mutex mutex_;
    // Guarded by mutex_.
    std::optional<std::string> run_id_;
    std::uint64_t link_ = 0;  // forget_link() counts up: a prepare() of an older link is void
    std::string dead_nodes_;

    std::atomic<int> refusals_in_a_row_{0};
};

}  // namespace herald::cluster
