// Where a Redis server is and how Herald talks to it: what a redis:// URL says, plus the
// connection's own behaviour (timeouts, reconnection, bounds), which no URL carries.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace herald::redis {

using Duration = std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

struct RedisSettings {
    // From the URL.
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    std::string user;      // empty: AUTH with the password alone (the default user)
    std::string password;  // empty: no AUTH. A secret: never logged nor put in error text.
    int db = 0;            // SELECT on the command connection when not 0

    // CLIENT SETNAME, so that an operator can tell Herald's connections apart in CLIENT LIST
    // (e.g. herald-<node>-cmd). Redis refuses names with spaces; empty: no name.
    std::string client_name;
    // Bounds the connect, the handshake, and the wait for every reply. A late reply closes the
    // connection and fails everything in flight (strict FIFO cannot skip one).
    Duration timeout = std::chrono::seconds(2);
    // Reconnection waits a random time up to a bound that doubles from the first to the most
    // (full jitter), so that many nodes do not come back at Redis in step.
    Duration reconnect_first = std::chrono::milliseconds(100);
    Duration reconnect_most = std::chrono::seconds(5);
    // An idle connection sends a PING this often, so that a dead link (a silent network
    // partition, a paused server) is noticed within interval + timeout even when nobody asks
    // anything. 0: never.
    Duration health_check_interval = std::chrono::seconds(5);
    // Commands accepted but not yet written; more fail at once with queue_full.
    std::size_t max_queued_commands = 10'000;
    // Channels per SUBSCRIBE when a subscriber resubscribes after a reconnect.
    std::size_t subscribe_batch = 512;
    // The most a single reply may buffer before it is complete (Redis's own bulk limit is
    // 512 MB): a bound on what a confused peer can make Herald hold.
    std::size_t max_reply_bytes = std::size_t{512} * 1024 * 1024;
};

}  // namespace herald::redis
