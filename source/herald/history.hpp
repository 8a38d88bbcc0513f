// Every user's stream on a single node: numbering, the last messages kept for offline delivery and
// resume, and their eviction. A plain class: no sockets, strands or timers; the time is passed in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/container/deque.hpp>

#include "herald/config.hpp"
#include "herald/message.hpp"
#include "herald/net.hpp"

namespace herald {

struct HistoryLimits {
    std::size_t messages;  // kept per stream; 0 keeps none (streams are still numbered)
    Duration ttl;          // how long a message is kept, and an unused stream too
    std::size_t bytes;     // all kept messages together: the oldest of all go first
};
HistoryLimits history_limits(const Config& config);

struct HistoryStats {
    std::size_t streams = 0;   // users connected, with messages kept, or seen within the TTL
    std::size_t holding = 0;   // streams with messages kept
    std::size_t messages = 0;  // messages kept
    std::size_t bytes = 0;     // what they count against the byte budget
};

// What a client is owed when it starts: where its stream stands and, when it resumes, what it
// missed.
struct Replay {
    StreamPosition position;            // `recovered` is set for a resume
    std::vector<DeliveryPtr> messages;  // the kept messages after the client's seq, in order
};

// Every user has a stream: messages numbered 1, 2, 3, ... under an epoch that changes whenever
// the stream's history could have been lost (a new stream; a new History, which is a restart).
// The last messages of each stream are kept within a count per stream, an age, and a byte budget
// over all streams, in which the oldest messages of all go first, whoever they were for. A
// message with a key makes the kept one with the same key obsolete: only the latest is kept.
//
// A stream is kept while it is pinned (its user has a connection), while it keeps messages, and
// for the TTL after its last use, so that a client that comes back soon finds the same epoch and
// learns that it missed nothing. Then it goes, and its epoch with it.
class History {
  public:
    explicit History(HistoryLimits limits);

    // The user has a connection: its stream (made if missing) stays until unpin().
    void pin(const std::string& uid, Clock::time_point now);
    // The user's last connection left: its stream goes a TTL from now unless used again.
    void unpin(const std::string& uid, Clock::time_point now);

    // Numbers `body` as the next message of `uid`'s stream and keeps it within the limits. With
    // history off, a user without a stream has nothing to number it in: nullptr.
    DeliveryPtr append(const std::string& uid, MessageBodyPtr body, Clock::time_point now,
                       std::int64_t time_ms);

    // Where `uid`'s stream stands (made if missing) and, with `since`, the kept messages after
    // it: `recovered` says whether they are all that was missed. Another epoch than the
    // stream's, or none, gets everything kept.
    Replay replay(const std::string& uid, const std::optional<Since>& since, Clock::time_point now);

    // A connection of `uid` handled every message up to `seq`: the stream's acknowledged seq
    // moves up to it (never down, never past the stream's last seq). Whether it moved.
    bool acknowledge(const std::string& uid, std::uint64_t seq);
    // The last seq acknowledged in `uid`'s stream; 0 for none, or without a stream.
    std::uint64_t acked(const std::string& uid) const;

    // Forgets the messages older than the TTL and the streams unused for as long.
    void expire(Clock::time_point now);

    HistoryStats stats() const;

  private:
    // A kept message and its place in the order of everything kept, across users. Its size is
    // kept beside it, so that forgetting it does not read the message, long since out of cache.
    struct Kept {
        std::uint64_t order;
        std::size_t bytes;
        Clock::time_point at;
        DeliveryPtr delivery;
    };
    // (order, uid) of the oldest kept message of each stream that keeps any: what goes first
    // when history is over its byte budget or its age. The uid is the streams_ map's own key,
    // which stays put while the stream exists: no copy.
    using OldestKey = std::pair<std::uint64_t, const std::string*>;
    struct Stream {
        std::string epoch;
        std::uint64_t last_seq = 0;
        // The last seq forgotten for the count, the age or the byte budget (not for a newer
        // message with its key): whatever is after it is kept or was made obsolete.
        std::uint64_t evicted_through = 0;
        std::uint64_t acked_seq = 0;  // the last seq a connection of the user acknowledged
        // Not std::deque, which allocates a block even while empty: most streams keep nothing
        // most of the time, and there is one stream per connected user.
        boost::container::deque<Kept> kept;
        // Its entry in oldest_ while it keeps messages: moved on without a search of the tree.
        std::set<OldestKey>::iterator oldest_entry;
        Clock::time_point last_used;  // for dropping a stream nobody uses any more
        bool pinned = false;

        bool unused() const { return !pinned && kept.empty(); }
    };
    using Streams = std::unordered_map<std::string, Stream>;
    using Entry = Streams::value_type;

    Entry& stream_for(const std::string& uid, Clock::time_point now);
    void keep(Entry& entry, DeliveryPtr delivery, Clock::time_point now);
    void forget_oldest(Entry& entry);
    void erase_kept(Entry& entry, std::size_t index);
    void drop_if_unused(Streams::iterator found);
    void drop_if_unused_since(Streams::iterator found, Clock::time_point idle_since,
                              Clock::time_point now);

    HistoryLimits limits_;
    std::string epoch_prefix_;  // new for each History: its streams do not survive it
    Streams streams_;
    std::set<OldestKey> oldest_;
    // Streams as they were left unused (unpinned, or nothing could be kept), in that order: each
    // is looked at again once the TTL has passed, and goes if still unused and not used since
    // (else it is looked at a TTL later). By uid, not by pointer: the stream may have gone, or
    // come back, in between.
    std::deque<std::pair<Clock::time_point, std::string>> left_;
    std::uint64_t streams_made_ = 0;
    std::uint64_t kept_count_ = 0;  // messages ever kept: the order of the next one
    std::size_t messages_ = 0;
    std::size_t bytes_ = 0;
};

}  // namespace herald
