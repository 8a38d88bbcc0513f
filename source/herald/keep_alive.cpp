#include "herald/keep_alive.hpp"

#include <algorithm>

namespace herald {
namespace {

// A round looks at each connection once, a few times per keep-alive period and at most once a
// second, so that a missed pong (or an overdue close) is noticed at most a quarter late.
Duration round_for(const KeepAliveSettings& settings) {
    Duration shortest =
        std::min({settings.ping_interval, settings.pong_timeout, settings.close_timeout});
    return std::clamp(shortest / 4, Duration(10), Duration(1000));
}

// The most connections one tick looks at, and the shortest tick: a round over many connections
// is cut into slices so that a message never waits behind the whole walk (2 ms once a second
// with 19,000 connections; a slice of 256 takes at most 0.13 ms, queueing its pings included; the
// ping writes follow in each connection's writer). Past 25,600 connections in a 1 s round, the
// ticks are as short as allowed and the slices grow.
constexpr std::size_t connections_per_tick = 256;
constexpr Duration shortest_tick{10};

}  // namespace

KeepAliveSettings keep_alive_settings(const Config& config) {
    return {config.ping_interval, config.pong_timeout, config.close_timeout};
}

KeepAlive::KeepAlive(KeepAliveSettings settings)
    : settings_(settings), round_(round_for(settings)), jitter_(std::random_device{}()) {}

void KeepAlive::watch(Connection& connection, Clock::time_point now) {
    // The first ping falls at random in the second half of the interval, so that connections
    // that came in a burst are not pinged in one; each keeps its place from then on.
    std::uniform_int_distribution<Duration::rep> spread(0, settings_.ping_interval.count() / 2);
    Connection::KeepAliveSlot& slot = connection.keep_alive_slot();
    slot.next_ping = now + settings_.ping_interval - Duration(spread(jitter_));
    slot.ping_sent = {};
    walk_.add(slot);
}

void KeepAlive::unwatch(Connection& connection) {
    walk_.remove(connection.keep_alive_slot());
}

void KeepAlive::watch_close(std::shared_ptr<Connection> connection, Clock::time_point now) {
    const Connection* key = connection.get();
    closing_.try_emplace(key, std::move(connection), now + settings_.close_timeout);
}

KeepAlive::Verdicts KeepAlive::tick(Clock::time_point now, std::int64_t now_seconds) {
    // A round is cut into as many ticks as its walk needs, and into more if connections arrive
    // during it, so that no tick walks more than its share.
    std::size_t most = std::max<std::size_t>(1, round_ / shortest_tick);
    std::size_t needed = std::clamp<std::size_t>(
        (walk_.size() + connections_per_tick - 1) / connections_per_tick, 1, most);
    if (walk_.round_begins()) {
        slices_ = needed;
        abort_overdue_closes(now);
    } else {
        slices_ = std::max(slices_, needed);
    }

    Verdicts verdicts;
    std::size_t step = (walk_.size() + slices_ - 1) / slices_;
    walk_.walk(step, [&](Connection::KeepAliveSlot& slot) {
        Connection& connection = *slot.connection;
        std::int64_t expiry = connection.token_expiry();
        if (expiry != 0 && now_seconds >= expiry) {
            verdicts.expired.push_back(connection.shared_from_this());
            return;
        }
        if (slot.ping_sent != Clock::time_point{}) {
            if (connection.last_heard() >= slot.ping_sent)
                slot.ping_sent = {};
            else if (now - slot.ping_sent >= settings_.pong_timeout)
                verdicts.silent.push_back(connection.shared_from_this());
        }
        if (now >= slot.next_ping) {
            connection.enqueue_ping();
            if (slot.ping_sent == Clock::time_point{}) slot.ping_sent = now;
            slot.next_ping = now + settings_.ping_interval;
        }
    });
    return verdicts;
}

void KeepAlive::abort_overdue_closes(Clock::time_point now) {
    for (auto it = closing_.begin(); it != closing_.end();) {
        auto& [connection, abort_at] = it->second;
        if (now < abort_at) {
            ++it;
            continue;
        }
        connection->abort();
        it = closing_.erase(it);
    }
}

}  // namespace herald
