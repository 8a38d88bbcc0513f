// The hub: which connections each user has, and delivery of published messages to them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "herald/config.hpp"
#include "herald/connection.hpp"
#include "herald/net.hpp"

namespace herald {

struct HubOptions {
    Duration ping_interval = std::chrono::seconds(25);
    Duration pong_timeout = std::chrono::seconds(10);
    Duration close_timeout = std::chrono::seconds(5);
    std::size_t max_connections = 0;              // 0: no limit
    std::size_t max_connections_per_address = 0;  // 0: no limit
};

// Whether a new WebSocket may open, under the connection limits.
enum class Admission { admitted, server_full, address_full };

struct HubStats {
    std::size_t connections = 0;
    std::size_t users = 0;
    std::uint64_t messages_published = 0;  // one per (message, user) pair
    std::uint64_t messages_delivered = 0;  // one per connection a message was queued to
    std::uint64_t slow_consumer_disconnects = 0;
};

// An actor: all of its state belongs to its strand, and callers reach it only by posting
// requests there (join, leave, publish, stats, close_all), so no mutex guards it. The hub never
// waits on a connection: it only queues to outboxes and closes the ones that are full.
//
// It also keeps connections alive: a ticker on the strand pings each one every ping interval and
// closes the ones that stay silent for the pong timeout after a ping.
class Hub {
  public:
    Hub(asio::any_io_executor executor, HubOptions options);

    // Starts the keep-alive ticker.
    void start();

    // Registers `connection` under its uid. False once the hub is shutting down: the caller
    // then closes the connection itself. Completes after the registration is in effect, so a
    // message published after that reaches the connection.
    awaitable<bool> join(std::shared_ptr<Connection> connection);

    // Unregisters `connection`, if it still is registered.
    void leave(std::shared_ptr<Connection> connection);

    // Queues `message` to every connection of each of `uids` and returns how many connections
    // it was queued to. A connection whose outbox is full is closed as a slow consumer instead.
    awaitable<std::size_t> publish(std::vector<std::string> uids, MessagePtr message);

    awaitable<HubStats> stats();

    // Counts a WebSocket that is about to open against the connection limits; an admitted one
    // must be released when it ends, whether or not it ever logged in.
    bool limits_connections() const {
        return options_.max_connections != 0 || options_.max_connections_per_address != 0;
    }
    awaitable<Admission> admit(asio::ip::address address);
    void release(asio::ip::address address);

    // Shutdown: refuses further joins and closes every connection with 1001 after what is
    // already queued to it. Connections that do not finish closing within the close timeout
    // are dropped.
    void close_all();

  private:
    struct Registration {
        std::shared_ptr<Connection> connection;
        Clock::time_point next_ping;
        Clock::time_point ping_sent;  // time_point{} when no ping awaits an answer
    };
    struct Closing {
        std::shared_ptr<Connection> connection;
        Clock::time_point abort_at;
    };

    // Runs `request` on the strand and completes with its result on the caller's executor.
    template <typename Request>
    auto ask(Request request);

    bool add(std::shared_ptr<Connection> connection);
    bool remove(const Connection& connection);
    std::size_t deliver(const std::vector<std::string>& uids, const MessagePtr& message);
    void close_connection(const std::shared_ptr<Connection>& connection, const CloseReason& reason,
                          bool flush);
    void schedule_tick();
    void tick();

    asio::strand<asio::any_io_executor> strand_;
    HubOptions options_;
    Duration tick_interval_;

    // Everything below belongs to strand_.
    asio::steady_timer ticker_;
    std::unordered_map<std::string, std::vector<Registration>> users_;
    std::unordered_map<const Connection*, Closing> closing_;
    HubStats stats_;
    bool stopping_ = false;
    std::size_t admitted_ = 0;
    std::unordered_map<asio::ip::address, std::size_t> admitted_per_address_;
};

}  // namespace herald
