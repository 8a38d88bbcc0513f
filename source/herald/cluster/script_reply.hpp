// The scripts' replies as the store's values. Every shape is checked: an error reply is
// redis_refused, anything that is not what the script returns is bad_reply; never a crash nor
// a half-read value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/system/result.hpp>

#include "herald/cluster/stream_types.hpp"
#include "herald/message.hpp"
#include "herald/redis/reply.hpp"

namespace herald::cluster {

// publish: {epoch, seq, delivered, duplicate}.
boost::system::result<PublishOutcome> publish_outcome(const redis::Reply& reply);

// read: {epoch, seq, the last seq evicted (by count or age), entries}, for a read with `since`
// (then position.recovered is set) or without.
boost::system::result<StreamRead> stream_read(const redis::Reply& reply,
                                              const std::optional<Since>& since);

// presence and heartbeat: a count.
boost::system::result<std::size_t> count_reply(const redis::Reply& reply);

// heartbeat: {alive, revived, {dead node, ...}}, the dead nodes as one text, a name per line
// (what publish and presence take).
struct HeartbeatReply {
    Heartbeat heartbeat;
    std::string dead_nodes;
};
boost::system::result<HeartbeatReply> heartbeat_reply(const redis::Reply& reply);

// set_presence: 1.
boost::system::result<void> done_reply(const redis::Reply& reply);

// History::replay's rule: whether the messages after `since` that the stream still keeps are
// all that was missed. The same stream (the same epoch; or none given with seq 0: a seq > 0
// without an epoch cannot prove which stream it counts in), a seq it has reached, and nothing
// evicted after since.seq: a message collapsed by a newer one with its key was not missed, the
// newer one replaces it.
bool recovered(const Since& since, std::string_view epoch, std::uint64_t last_seq,
               std::uint64_t evicted);

// The run_id line of INFO server's text: what changes with every start of a Redis server.
std::optional<std::string> run_id_of(std::string_view info);

}  // namespace herald::cluster
