// Herald's connection for Redis commands: one pipelined TCP link shared by every caller.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/system/result.hpp>

#include "herald/net.hpp"
#include "herald/redis/backoff.hpp"
#include "herald/redis/command.hpp"
#include "herald/redis/command_fifo.hpp"
#include "herald/redis/link_event.hpp"
#include "herald/redis/reply.hpp"
#include "herald/redis/reply_parser.hpp"
#include "herald/redis/settings.hpp"

namespace herald::redis {

// Any number of callers, on any thread or executor, may await exec() at the same time: their
// commands are written back to back (whatever queued up during a write goes out in the next
// single write) and Redis's replies are matched to them in order. A Redis error is a reply
// (Reply::is_error, with its text, e.g. "NOSCRIPT ..." for the caller to reload its script);
// only transport failures are error codes (RedisError).
//
// Every request gets its replies within settings.timeout or fails with timeout; a late reply
// closes the link and fails everything in flight with it, since replies after it could no
// longer be matched. While no link is up, requests fail at once with not_connected (the
// caller answers 503 rather than queue), and more than settings.max_queued_commands waiting to
// be written fail with queue_full.
//
// The link is kept up in the background: connect (within the timeout), AUTH, SELECT, CLIENT
// SETNAME, PING; on any failure, again after a backoff with full jitter, forever, until stop().
// An idle link sends a PING every settings.health_check_interval, so that a dead one is
// noticed (and reported) without waiting for the next caller.
//
// Lifetime: the object must outlive the work it gives its executor's io_context. stop() ends
// the link and fails what is in flight; the io_context then runs out of this connection's
// work, so destroy the connection once the io_context's run() has returned (or the io_context
// is gone).
class CommandConnection {
  public:
    using Replies = CommandFifo::Replies;
    using EventHandler = std::function<void(LinkEvent)>;

    CommandConnection(asio::any_io_executor executor, RedisSettings settings);
    CommandConnection(const CommandConnection&) = delete;
    CommandConnection& operator=(const CommandConnection&) = delete;

    // Told of connected and disconnected, on the connection's strand (get_executor()), in
    // order; it must not block. Set it before start().
    void on_event(EventHandler handler) { on_event_ = std::move(handler); }

    // Starts connecting, in the background.
    void start();
    // Any thread. Closes the link, fails what is in flight (connection_lost) and stops
    // reconnecting; requests from then on fail with not_connected.
    void stop();

    // Whether the link is up (for /readyz); it may go down the next moment, so a request can
    // still fail with not_connected.
    bool connected() const { return connected_.load(std::memory_order_acquire); }

    // The reply to `command`, of whatever type, error replies included; or why none came.
    awaitable<boost::system::result<Reply>> exec(Command command);
    // One pipelined batch: the commands go out together (nothing from another caller comes in
    // between), and their replies come back in order. All or nothing: a transport failure
    // fails the whole batch, even if some replies had come.
    awaitable<Replies> exec_all(std::vector<Command> commands);

    asio::strand<asio::any_io_executor> get_executor() const { return strand_; }
    const RedisSettings& settings() const { return settings_; }

  private:
    struct Enqueue;
    struct HandshakeDone;

    awaitable<void> run();
    awaitable<void> serve();
    awaitable<void> read_loop();
    awaitable<void> write_loop();
    awaitable<void> watchdog();
    void enqueue(std::string wire, std::size_t commands, CommandFifo::Completion done);
    void on_handshake(Replies replies);
    void close_link(error_code reason);
    void report(LinkEvent event);

    asio::strand<asio::any_io_executor> strand_;
    const RedisSettings settings_;
    EventHandler on_event_;
    std::atomic<bool> connected_{false};

    // Everything below belongs to strand_.
    tcp::socket socket_;
    tcp::resolver resolver_;
    asio::steady_timer connect_timer_;  // the connect's deadline, then the backoff's wait
    asio::steady_timer wake_;           // the writer waits on it for work
    asio::steady_timer watchdog_;       // the oldest request's deadline, the next health check
    CommandFifo fifo_;
    ReplyParser parser_;
    Backoff backoff_;
    // Why the current link ends, set by whoever ends it first (the reader, the writer, the
    // watchdog, stop); set also tells the link's other loops to finish.
    error_code close_reason_;
    bool up_ = false;  // the current link's handshake is done
    bool stopping_ = false;
    int failed_attempts_ = 0;  // in a row: only the first of a streak is logged as a warning
    Clock::time_point last_request_;
};

}  // namespace herald::redis
