// Herald's counters, in one place: each is incremented where its event happens and read by /stats
// and /metrics (prometheus.hpp renders them). Gauges (connections, users, streams, history) are
// not here: they are read from the state that owns them, on its strand.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>

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

// How a connection in service ended when the server did not close it: from the peer's side, or
// its transport's.
enum class PeerEnd : std::uint8_t {
    client_close,     // the peer's close frame
    reset,            // gone without a close: reset, end of stream, cut
    write_error,      // a write to the peer failed
    message_too_big,  // a frame over --max-message-size (Beast closes with 1009)
    protocol_error,   // a WebSocket protocol error or invalid UTF-8 (1002, 1007)
};
inline constexpr std::array<std::string_view, 5> peer_end_slugs{
    "client_close", "reset", "write_error", "message_too_big", "protocol_error"};

// Every end of a connection in service, counted once, where its session ends: the server's
// closes by their entry of the close table, and the peer's ends.
class Disconnects {
  public:
    void add(const CloseReason& reason) { closed_.add(reason); }
    void add(PeerEnd end) { peer_[static_cast<std::size_t>(end)].add(); }
    std::uint64_t read(const CloseReason& reason) const { return closed_.read(reason); }
    std::uint64_t read(PeerEnd end) const { return peer_[static_cast<std::size_t>(end)].read(); }

  private:
    CountByCloseReason closed_;
    std::array<Counter, peer_end_slugs.size()> peer_;
};

// The HTTP endpoints by name: a bounded set of labels whatever paths clients ask for.
enum class Endpoint : std::uint8_t {
    send,
    stats,
    metrics,
    healthz,
    readyz,
    presence,
    ws,
    demo,  // every page herald serves: /demo, /status, /js/herald.js and their files
    other,
    disconnect,
    sse,  // 200: an event stream opened
};
inline constexpr std::array<std::string_view, 11> endpoint_names{
    "send", "stats", "metrics", "healthz",    "readyz", "presence",
    "ws",   "demo",  "other",   "disconnect", "sse"};

inline Endpoint endpoint_of(std::string_view path) {
    constexpr std::array<std::pair<std::string_view, Endpoint>, 9> exact{{
        {"/send", Endpoint::send},
        {"/stats", Endpoint::stats},
        {"/metrics", Endpoint::metrics},
        {"/healthz", Endpoint::healthz},
        {"/readyz", Endpoint::readyz},
        {"/presence", Endpoint::presence},
        {"/ws", Endpoint::ws},
        {"/disconnect", Endpoint::disconnect},
        {"/sse", Endpoint::sse},
    }};
    for (const auto& [name, endpoint] : exact)
        if (path == name) return endpoint;
    for (std::string_view page : {"/demo", "/status", "/js/"})
        if (path.starts_with(page)) return Endpoint::demo;
    return Endpoint::other;
}

// HTTP answers by endpoint and status. The statuses Herald answers with are few; any other
// would be counted as "other" rather than grow the label set.
class CountByRequest {
  public:
    static constexpr std::array<unsigned, 14> statuses{101, 200, 304, 400, 401, 403, 404,
                                                       405, 413, 426, 429, 431, 500, 503};
    static constexpr std::size_t other_status = statuses.size();

    void add(Endpoint endpoint, unsigned status) {
        std::size_t column = std::find(statuses.begin(), statuses.end(), status) - statuses.begin();
        counters_[static_cast<std::size_t>(endpoint)][column].add();
    }
    // `column`: an index of `statuses`, or other_status.
    std::uint64_t read(Endpoint endpoint, std::size_t column) const {
        return counters_[static_cast<std::size_t>(endpoint)][column].read();
    }

  private:
    std::array<std::array<Counter, statuses.size() + 1>, endpoint_names.size()> counters_;
};

// A histogram with fixed buckets, counted in whole units of its own (nanoseconds, milliseconds),
// so that its sum is an integer that one relaxed add keeps. Buckets are kept apart (not
// cumulative): one add per observation; the exposition adds them up.
class Histogram {
  public:
    static constexpr std::size_t max_buckets = 16;

    // `bounds`: the buckets' upper bounds in units, increasing; a last bucket takes the rest.
    Histogram(std::initializer_list<std::uint64_t> bounds, std::uint64_t units_per_second)
        : size_(std::min(bounds.size(), max_buckets)), units_per_second_(units_per_second) {
        std::copy_n(bounds.begin(), size_, bounds_.begin());
    }

    void observe(std::uint64_t units) {
        // The first bucket whose bound is at or above it: `le` means less than or equal.
        auto bucket = std::lower_bound(bounds_.begin(), bounds_.begin() + size_, units);
        counts_[bucket - bounds_.begin()].add();
        sum_.add(units);
    }

    std::size_t size() const { return size_; }  // without the last, unbounded bucket
    std::uint64_t bound(std::size_t bucket) const { return bounds_[bucket]; }
    std::uint64_t units_per_second() const { return units_per_second_; }
    // Observations in bucket `bucket` alone (size() is the unbounded one).
    std::uint64_t count(std::size_t bucket) const { return counts_[bucket].read(); }
    std::uint64_t sum() const { return sum_.read(); }

  private:
    std::size_t size_;
    std::uint64_t units_per_second_;
    std::array<std::uint64_t, max_buckets> bounds_{};
    std::array<Counter, max_buckets + 1> counts_;
    Counter sum_;
};

struct Metrics {
    // For /metrics only (/stats shows none of them).
    Disconnects disconnects;    // how connections in service ended, counted when their session ends
    Counter resumes_recovered;  // logins with `since` whose every missed message followed
    Counter resumes_not_recovered;
    CountByRequest http_requests;
    // GET and POST /send: from the request read whole to the answer written, in nanoseconds.
    Histogram publish_duration{
        {50'000, 100'000, 250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000, 25'000'000,
         50'000'000, 100'000'000, 250'000'000, 500'000'000, 1'000'000'000, 2'500'000'000},
        1'000'000'000};
    // From a message's time (its publish) to its frame handed to the socket, in milliseconds:
    // the resolution of a message's time. Sampled (see websocket_session.cpp).
    Histogram delivery_lag{{1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000}, 1000};

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
