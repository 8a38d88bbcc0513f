// What the cluster's stream store is configured with and answers: plain values, no Redis.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "herald/message.hpp"
#include "herald/net.hpp"

namespace herald::cluster {

struct StoreSettings {
    // Messages kept per user (0 keeps none; streams are still numbered), and for how long. A
    // user's epoch and seq live as long as its last message, its last read, or this node's
    // connections of it (set_presence), whichever is last, plus history_ttl.
    std::size_t history_size = 100;
    Duration history_ttl = std::chrono::minutes(5);
    // How long a publish with an idempotency key answers retries with its first outcome.
    Duration idempotency_ttl = std::chrono::minutes(5);
    // A node whose heartbeat is older than this is dead: its presence counts stop counting in
    // the publishes and presence reads of every node that has heartbeated since.
    Duration node_ttl = std::chrono::seconds(15);
    // How long one of a node's presence counts stays valid without a refresh: what ends a count
    // once its node is dead and gone from the node list too (kept there for twice this long).
    // Much longer than node_ttl, so that a node refreshes each user's count only now and then.
    Duration presence_ttl = std::chrono::minutes(5);
    // This node's name in presence hashes and the node list: unique in the cluster, and new
    // for each run of the process (a restarted node must not inherit its old counts).
    std::string node_id;
};

// What a heartbeat learned.
struct Heartbeat {
    std::size_t alive = 0;  // nodes alive, this one included
    // This node was missing from the node list, or had been silent for longer than node_ttl:
    // it is new, Redis lost its data, or other nodes took it for dead meanwhile. Its presence
    // counts may be gone: it should write them all again.
    bool revived = false;
};

// One message of a user's stream, as kept in Redis.
struct StoredMessage {
    std::uint64_t seq = 0;
    std::int64_t time_ms = 0;  // Redis's clock when it was published
    MessageBodyPtr body;
};

// What a publish did for one user.
struct PublishOutcome {
    std::string epoch;
    std::uint64_t seq = 0;
    // Connections of the user on live nodes at publish time (their presence counts).
    std::size_t delivered = 0;
    // A retry with an idempotency key already used: the first attempt's outcome, and nothing
    // was published this time.
    bool duplicate = false;
};

// Where a user's stream stands and the messages asked for, in order.
struct StreamRead {
    StreamPosition position;  // `recovered` set when the read had a `since`
    std::vector<StoredMessage> messages;
};

}  // namespace herald::cluster
