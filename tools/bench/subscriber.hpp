// Subscribers: WebSocket connections logged in as one uid each, dialed with bounded concurrency
// (optionally from a chosen loopback source address), each with a receive loop that checks and
// times what arrives. Each benchmark process runs on one thread, so the counters are plain.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include "adapter.hpp"
#include "client/client.hpp"
#include "latency.hpp"
#include "result.hpp"
#include "wakeup.hpp"

namespace herald::bench {

struct Subscriber {
    std::string uid;
    std::optional<client::WebSocketClient> connection;  // set once dialed
    bool ready = false;    // a probe for this uid arrived: the server has registered it
    bool closing = false;  // we are closing it, so its end is no failure
};

// What the subscribers of this process received.
struct ReceiveStats {
    std::uint64_t timed = 0;      // timed messages
    std::uint64_t probes = 0;     // probe messages
    std::uint64_t frames = 0;     // WebSocket messages (seed-go packs several in one)
    std::uint64_t malformed = 0;  // neither timed nor a probe
    std::uint64_t misrouted = 0;  // a probe that reached a subscriber of another uid
    std::uint64_t ready = 0;      // subscribers whose first probe arrived
    std::uint64_t open = 0;       // receive loops running
    std::uint64_t dropped = 0;    // connections that ended without our closing them
    bool record_latency = false;
    LatencySamples latency;

    // Set by a waiter: `wakeup` is notified once `timed` or `ready` reaches its mark, and the
    // marks are then cleared, so the per-message cost is two comparisons.
    static constexpr std::uint64_t never = std::numeric_limits<std::uint64_t>::max();
    Wakeup* wakeup = nullptr;
    std::uint64_t wake_at_timed = never;
    std::uint64_t wake_at_ready = never;

    void on_frame(Subscriber& subscriber, std::string_view frame, std::int64_t received_ns);
};

struct DialPlan {
    tcp::endpoint server;
    std::optional<asio::ip::address> source;   // bind to it before connecting
    std::chrono::milliseconds timeout{10000};  // TCP connect + handshake + login
    int concurrency = 200;
    int max_failures = 1 << 30;  // dialing stops after this many failures
    Clock::time_point give_up_at = Clock::time_point::max();
};

struct DialOutcome {
    int connected = 0;
    int failed = 0;
    int skipped = 0;  // not tried: the budget or the failure limit ended dialing first
    std::int64_t started_ns = 0;
    std::int64_t last_connected_ns = 0;
    std::int64_t finished_ns = 0;
};

// Dials one subscriber: TCP connect (from plan.source when set), the WebSocket handshake, then
// `login` as a text frame, or the adapter's login frame when `login` is empty. On success
// subscriber.connection holds the open WebSocket; no receive loop is started.
awaitable<error_code> dial(Subscriber& subscriber, const Adapter& adapter, DialPlan plan,
                           std::string login = {});

// Dials every subscriber (the handshake, then the login frame when the protocol has one) and
// starts the receive loop of each that connects. `subscribers` must keep its size while any
// connection is open: the loops refer to its elements.
awaitable<DialOutcome> dial_all(std::vector<Subscriber>& subscribers, const Adapter& adapter,
                                DialPlan plan, ReceiveStats& stats, ErrorCounter& errors);

// Closes with RST (SO_LINGER 0), so that no TIME_WAIT is left on the client's ports; the
// receive loops then end.
void close_hard(Subscriber& subscriber);
// Closes every subscriber and waits until their receive loops have ended: the loops refer to
// `subscribers` and `stats`, which must outlive them.
awaitable<void> close_all(std::vector<Subscriber>& subscribers, ReceiveStats& stats);

}  // namespace herald::bench
