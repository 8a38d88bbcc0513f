// The Lua scripts that keep users' streams in Redis: each runs atomically, so that numbering,
// keeping and publishing a message, or reading a stream and counting a connection, are one
// step for every node of the cluster.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace herald::cluster {

// Layouts (KEYS; ARGV), all durations in milliseconds, all numbers in decimal text. Times are
// Redis's own (TIME), never a node's: nodes' clocks may disagree, Redis's is one.
enum class ScriptId : std::size_t {
    // KEYS: meta, stream, presence, latest[, idempotency]
    // ARGV: run_id, candidate epoch, history size, history ttl, idempotency ttl, kind (s|j),
    //       data_json, channel, collapse key, dead nodes (one per line)
    // -> {epoch, seq, delivered, duplicate (0|1)}
    publish,
    // KEYS: meta, stream, presence
    // ARGV: run_id, candidate epoch, history size, history ttl, since mode (0: none, 1: seq
    //       only, 2: epoch and seq), since epoch, since seq, presence delta, node, presence ttl
    // -> {epoch, seq, first kept seq (0: none), entries}: the entries after since (all of them
    //    for another epoch; none without since), as XRANGE gives them: {id, {field, value...}}
    read,
    // KEYS: presence, meta
    // ARGV: node, count, presence ttl, history ttl
    // -> 1
    set_presence,
    // KEYS: presence
    // ARGV: dead nodes (one per line)
    // -> the sum of the live counts of the nodes not dead
    presence,
    // KEYS: herald:nodes
    // ARGV: node, node ttl, how long a dead node stays listed
    // -> {nodes alive, revived (0|1: the node was missing or silent for longer than node ttl),
    //     {the dead nodes still listed}}
    heartbeat,
    // KEYS: meta, ack_wait
    // ARGV: seq, uid, acks channel
    // -> 1 when the user's acknowledged seq (the meta's `a`) moved up to seq, else 0 (not past
    //    the stream's last seq, never down); announced on the acks channel while anyone waits
    ack,
    // KEYS: meta, ack_wait
    // ARGV: ttl
    // -> the acknowledged seq now (0: none); acks are announced for at least ttl from now
    wait_for_ack,
};
inline constexpr std::size_t script_count = 7;

struct Script {
    std::string_view name;  // for logs
    std::string text;
    std::string sha1;  // what EVALSHA names it by: the SHA-1 of its text, in hex
};

const Script& script(ScriptId id);

}  // namespace herald::cluster
