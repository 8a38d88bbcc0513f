// Keeping connections alive: pings, pong deadlines, token expiry, and the deadlines of closes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <unordered_map>
#include <vector>

#include "herald/config.hpp"
#include "herald/connection.hpp"
#include "herald/sliced_walk.hpp"

namespace herald {

struct KeepAliveSettings {
    Duration ping_interval;
    Duration pong_timeout;   // silence after a ping before the connection is closed
    Duration close_timeout;  // time a close may take before the socket is dropped
};
KeepAliveSettings keep_alive_settings(const Config& config);

// Looks at each watched connection once per round: pings it every ping interval, and reports
// the ones that stayed silent for the pong timeout after a ping or whose token expired, for the
// hub to close. The connections the hub closed are watched too, and dropped (aborted) if they
// have not ended by the close timeout.
//
// A plain class on the hub's strand: the hub's ticker calls tick() every tick_interval(), and the
// time is passed in. A round is cut into slices, so that no tick holds up the messages queued
// behind it, and into more slices when connections arrive during it (a reconnect storm). First
// pings fall at random in the second half of the ping interval, so that connections that came
// together (after a restart, say) are not all pinged in the same tick.
class KeepAlive {
  public:
    explicit KeepAlive(KeepAliveSettings settings);

    void watch(Connection& connection, Clock::time_point now);
    void unwatch(Connection& connection);
    std::size_t watched() const { return walk_.size(); }

    // The hub closed `connection`: it must end by the close timeout.
    void watch_close(std::shared_ptr<Connection> connection, Clock::time_point now);
    // The connection ended.
    void unwatch_close(const Connection& connection) { closing_.erase(&connection); }
    std::size_t closing() const { return closing_.size(); }

    // When the next tick is due, from the last one.
    Duration tick_interval() const { return round_ / slices_; }

    struct Verdicts {
        std::vector<std::shared_ptr<Connection>> expired;  // their token has expired
        std::vector<std::shared_ptr<Connection>> silent;   // no pong within the pong timeout
    };
    // Looks at the next slice of connections: queues the pings due, and returns the connections
    // to close. At the start of a round, drops the connections whose close is overdue.
    Verdicts tick(Clock::time_point now, std::int64_t now_seconds);

  private:
    void abort_overdue_closes(Clock::time_point now);

    KeepAliveSettings settings_;
    Duration round_;  // every connection is looked at once per round
    std::size_t slices_ = 1;
    SlicedWalk<Connection::KeepAliveSlot> walk_;
    std::minstd_rand jitter_;
    std::unordered_map<const Connection*, std::pair<std::shared_ptr<Connection>, Clock::time_point>>
        closing_;
};

}  // namespace herald
