// Herald's counters, in one place: each is incremented where its event happens and read by /stats
// (and the Prometheus exposition). Gauges (connections, users, streams, history) are not here:
// they are read from the state that owns them, on its strand.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "herald/close_reason.hpp"

namespace herald {

// A count that only grows. Relaxed: a count orders nothing else, and any thread may add to it.
class Counter {
  public:
    void add(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t read() const { return value_.load(std::memory_order_relaxed); }

  private:
    std::atomic<std::uint64_t> value_{0};
};

// A counter per entry of the close table.
class CountByCloseReason {
  public:
    void add(const CloseReason& reason) { counters_[index_of(reason)].add(); }
    std::uint64_t read(const CloseReason& reason) const {
        return counters_[index_of(reason)].read();
    }

  private:
    static std::size_t index_of(const CloseReason& reason) {
        for (std::size_t i = 0; i < close_reasons::all.size(); ++i)
            if (close_reasons::all[i] == &reason) return i;
        return close_reasons::all.size();  // a reason made outside the table: counted apart
    }
    std::array<Counter, close_reasons::all.size() + 1> counters_;
};

struct Metrics {
    Counter messages_published;  // one per (message, user)
    Counter messages_delivered;  // one per connection a message was queued to
    Counter connections_opened;  // WebSockets that logged in
    CountByCloseReason closes;   // connections in service that the server closed, by reason
    CountByCloseReason logins_refused;

    // A cluster's engine.
    Counter redis_publish_errors;  // publishes refused (503) because Redis failed them
    Counter redis_reconnects;      // the command link came back after a loss
    Counter redis_probes_missed;   // a subscriber link that stopped delivering, restarted
    Counter redis_catch_ups;       // users read up from their streams after a loss
};

}  // namespace herald
