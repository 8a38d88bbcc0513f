// What the Redis client's integration tests share: the owner's threads, and channels that let
// the test thread await what a connection reports from its own strand.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/io_context.hpp>

#include "herald/net.hpp"
#include "herald/redis/link_event.hpp"
#include "herald/redis/settings.hpp"
#include "support/redis_server.hpp"

namespace herald::test {

using std::chrono::milliseconds;

// Settings for tests: short timeouts and backoff, so that faults play out in well under a
// second; a named client, to find it in CLIENT LIST.
redis::RedisSettings fast_settings(redis::RedisSettings base, std::string client_name);

// The io_context of a connection's owner, run on `threads` threads without a work guard, as a
// server runs it: once the owner has stopped its connections, run() must return by itself.
// Declare it after the connections, so that a test that fails half-way stops the threads
// before the connections go.
class OwnerThreads {
  public:
    explicit OwnerThreads(asio::io_context& io, int threads = 2);
    ~OwnerThreads();

    // Waits until run() has returned on every thread; false if it did not within `timeout`,
    // in which case the io_context is stopped by force.
    bool join(milliseconds timeout = std::chrono::seconds(5));

  private:
    asio::io_context& io_;
    std::vector<std::thread> threads_;
    std::mutex mutex_;
    std::condition_variable finished_;
    int running_ = 0;
};

// Link events as a connection reports them (on its strand), for the test thread to await.
class EventLog {
  public:
    explicit EventLog(asio::any_io_executor test_executor) : channel_(test_executor, 1024) {}

    std::function<void(redis::LinkEvent)> handler() {
        return [this](redis::LinkEvent event) { channel_.try_send(error_code(), event); };
    }

    // Receives events until `event` comes (true), or `timeout` has passed (false).
    awaitable<bool> wait_for(redis::LinkEvent event, milliseconds timeout);

  private:
    asio::experimental::concurrent_channel<void(error_code, redis::LinkEvent)> channel_;
};

// Pub/sub messages as a subscriber hands them over, for the test thread to await.
class MessageLog {
  public:
    using Message = std::pair<std::string, std::string>;  // channel, payload

    explicit MessageLog(asio::any_io_executor test_executor) : channel_(test_executor, 4096) {}

    std::function<void(std::string_view, std::string_view)> handler() {
        return [this](std::string_view channel, std::string_view payload) {
            channel_.try_send(error_code(), Message(channel, payload));
        };
    }

    // The next message, or nothing after `timeout`.
    awaitable<std::optional<Message>> next(milliseconds timeout = std::chrono::seconds(5));

  private:
    asio::experimental::concurrent_channel<void(error_code, Message)> channel_;
};

// The value of `field` in a section of INFO (e.g. "cmdstat_subscribe" -> "calls=3,..."), read
// through an admin connection; empty if absent.
std::string info_field(const RedisServer& server, const std::string& section,
                       const std::string& field);

}  // namespace herald::test
