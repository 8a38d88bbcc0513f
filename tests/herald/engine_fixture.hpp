// A hub and a single node's engine with real outboxes and no sockets: everything runs on one
// io_context on the test thread. Shared by the hub, keep-alive and engine tests.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>

#include "herald/hub.hpp"
#include "herald/local_engine.hpp"
#include "support/run.hpp"

namespace herald::test {

// The settings of a test: Config's defaults with the keep-alive timings given.
inline Config keep_alive_config(Duration ping_interval, Duration pong_timeout,
                                Duration close_timeout) {
    Config config;
    config.ping_interval = ping_interval;
    config.pong_timeout = pong_timeout;
    config.close_timeout = close_timeout;
    return config;
}

// What the old single hub reported, gathered from the hub, the engine and the counters.
struct Stats {
    std::size_t connections = 0;
    std::size_t users = 0;
    std::uint64_t messages_published = 0;
    std::uint64_t messages_delivered = 0;
    std::uint64_t slow_consumer_disconnects = 0;
    std::size_t streams = 0;
    std::size_t history_streams = 0;
    std::size_t history_messages = 0;
    std::size_t history_bytes = 0;
};

// No teardown runs on the hub: run() stops the io_context once the test's coroutine is done
// (the hub's ticker would keep it busy for ever), so the hub and what it still has queued are
// destroyed without running. Shutdown has a test of its own (close_all_flushes_...).
struct EngineFixture {
    explicit EngineFixture(const Config& config = {})
        : hub(io_context.get_executor(), keep_alive_settings(config), metrics),
          engine(hub, config, metrics) {
        hub.start();
        engine.start();
    }

    std::shared_ptr<Connection> connection(std::string uid, OutboxLimits limits = {16, 1 << 20},
                                           Protocol protocol = Protocol::seed) {
        return std::make_shared<Connection>(io_context.get_executor(), ++next_id,
                                            Login{std::move(uid), {}, protocol}, tcp::endpoint{},
                                            limits);
    }
    std::shared_ptr<Connection> json_connection(std::string uid) {
        return connection(std::move(uid), OutboxLimits{1024, 1 << 20}, Protocol::json);
    }

    awaitable<Joined> join(std::shared_ptr<Connection> connection,
                           std::optional<Since> since = {}) {
        auto joined = co_await engine.join(std::move(connection), std::move(since));
        BOOST_REQUIRE(joined.has_value());
        co_return *joined;
    }

    awaitable<Published> publish(std::vector<std::string> uids, MessageBodyPtr body) {
        PublishRequest request{std::move(uids), std::move(body), std::nullopt};
        auto published = co_await engine.publish(std::move(request));
        BOOST_REQUIRE(published.has_value());
        co_return *published;
    }

    void leave(std::shared_ptr<Connection> connection) { hub.leave(std::move(connection)); }

    awaitable<Stats> all_stats() {
        HubStats connected = co_await hub.stats();
        EngineStats streams = co_await engine.stats();
        co_return Stats{connected.connections,
                        connected.users,
                        metrics.messages_published.read(),
                        metrics.messages_delivered.read(),
                        metrics.closes.read(close_reasons::slow_consumer),
                        streams.streams,
                        streams.history_streams,
                        streams.history_messages,
                        streams.history_bytes};
    }

    // Asks for the stats until `field` is `expected` (expiry has no event to await), within a
    // bounded number of polls; returns the last stats.
    awaitable<Stats> stats_when(std::size_t Stats::*field, std::size_t expected) {
        asio::steady_timer pause(io_context);
        Stats now = co_await all_stats();
        for (int attempt = 0; attempt < 200 && now.*field != expected; ++attempt) {
            pause.expires_after(std::chrono::milliseconds(10));
            co_await pause.async_wait(asio::use_awaitable);
            now = co_await all_stats();
        }
        co_return now;
    }

    // `count` connections, each of a user of its own, all joined.
    awaitable<std::vector<std::shared_ptr<Connection>>> join_users(std::size_t count) {
        std::vector<std::shared_ptr<Connection>> joined;
        for (std::size_t i = 0; i < count; ++i) {
            joined.push_back(connection(thread_uid(0, static_cast<int>(i))));
            co_await join(joined.back());
        }
        co_return joined;
    }

    asio::io_context io_context;
    Metrics metrics;
    Hub hub;
    LocalEngine engine;
    std::uint64_t next_id = 0;
};

// A braced list of uids inside a co_await expression trips g++ 12 ("array used as
// initializer"), so the tests build their lists here.
template <typename... Uid>
std::vector<std::string> users(Uid... uid) {
    return {uid...};
}

inline MessageBodyPtr text(std::string content) {
    return make_message(boost::json::string(content));
}

// The next item of the connection's outbox, as its writer would take it; fails the test if the
// outbox was closed.
inline awaitable<Outgoing> next(Connection& connection) {
    auto [error, outgoing] = co_await connection.receive();
    BOOST_REQUIRE_MESSAGE(!error, "outbox ended: " << error.message());
    connection.sent(outgoing);
    co_return outgoing;
}

inline awaitable<std::string> next_text(Connection& connection) {
    Outgoing outgoing = co_await next(connection);
    BOOST_REQUIRE(outgoing.kind == Outgoing::Kind::message);
    co_return outgoing.message->body->text;
}

// Receives from the outbox until it ends; returns why it ended.
inline awaitable<error_code> closed(Connection& connection) {
    for (;;) {
        auto [error, outgoing] = co_await connection.receive();
        if (error) co_return error;
        connection.sent(outgoing);
    }
}

// An event the test awaits: set once `count` parts of the test have called done().
class Countdown {
  public:
    Countdown(asio::io_context& io_context, std::size_t count) : event_(io_context), left_(count) {
        event_.expires_at(asio::steady_timer::time_point::max());
    }
    void done() {
        if (--left_ == 0) event_.cancel();
    }
    awaitable<void> wait() {
        if (left_ != 0) co_await event_.async_wait(use_nothrow);
    }

  private:
    asio::steady_timer event_;
    std::size_t left_;
};

}  // namespace herald::test
