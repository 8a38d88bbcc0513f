// Where a cluster keeps each user's stream in Redis: the names of its keys and of its channel.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace herald::cluster {

// Every key and the channel of one user share the hash tag `{u:<uid>}`, so that a Redis Cluster
// could serve all of them from one slot (one script touches them together). A uid may hold any
// byte, '}' and ':' included: a '}' ends the hash tag early, but all of the user's names still
// share the same prefix, hence the same tag; and as every name ends in a fixed suffix after
// the uid, two users never share a name.
struct UserKeys {
    std::string meta;      // herald:{u:<uid>}:m   hash: epoch, seq, run
    std::string stream;    // herald:{u:<uid>}:l   stream: one entry per kept message
    std::string presence;  // herald:{u:<uid>}:p   hash: node -> "count:expiry_ms"
    std::string latest;    // herald:{u:<uid>}:k   hash: collapse key -> seq of its kept message
    std::string channel;   // herald:{u:<uid>}:c   pub/sub: every message, live
    std::string ack_wait;  // herald:{u:<uid>}:w   string: set while a publisher waits for an ack
};

UserKeys user_keys(std::string_view uid);

// herald:{u:<uid>}:i:<hex of key>. The idempotency key is written in hex: as the backend
// chooses it freely, it could otherwise end in "}:m" and name another user's meta.
std::string idempotency_key(std::string_view uid, std::string_view key);

// Where an ack is announced to every node while a publisher waits for one of the user's (then
// the user's ack_wait key exists): "<seq>\n<uid>". Not a user's: every node listens.
inline constexpr std::string_view acks_channel = "herald:acks";

// The sorted set of nodes (node id -> last heartbeat in ms): not a user's, so no hash tag.
inline constexpr std::string_view nodes_key = "herald:nodes";

std::string channel_of(std::string_view uid);
// The uid whose channel this is; none for any other name (a wrong prefix or suffix, or an empty
// uid).
std::optional<std::string> uid_of_channel(std::string_view channel);

}  // namespace herald::cluster
