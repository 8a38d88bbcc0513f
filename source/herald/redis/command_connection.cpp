#include "herald/redis/command_connection.hpp"

#include <array>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "herald/log.hpp"
#include "herald/redis/ask.hpp"
#include "herald/redis/error.hpp"
#include "herald/redis/handshake.hpp"
#include "herald/redis/transport.hpp"
#include "herald/redis/url.hpp"

namespace herald::redis {
namespace {

using namespace asio::experimental::awaitable_operators;

// The health check's PING: its reply only proves the link alive; a late one is the watchdog's.
struct IgnoreReplies {
    void operator()(CommandFifo::Replies) const {}
};

}  // namespace

// A caller's request, run on the strand.
struct CommandConnection::Enqueue {
    CommandConnection* connection;
    std::string wire;
    std::size_t commands;

    void operator()(CommandFifo::Completion done) {
        connection->enqueue(std::move(wire), commands, std::move(done));
    }
};

// Called inline on the strand when the handshake's replies are in (or the link failed first).
struct CommandConnection::HandshakeDone {
    CommandConnection* connection;

    void operator()(Replies replies) { connection->on_handshake(std::move(replies)); }
};

CommandConnection::CommandConnection(asio::any_io_executor executor, RedisSettings settings)
    : strand_(asio::make_strand(std::move(executor))),
      settings_(std::move(settings)),
      socket_(strand_),
      resolver_(strand_),
      connect_timer_(strand_),
      wake_(strand_),
      watchdog_(strand_),
      fifo_(settings_.max_queued_commands),
      parser_(settings_.max_reply_bytes),
      backoff_(settings_.reconnect_first, settings_.reconnect_most) {}

void CommandConnection::start() {
    asio::co_spawn(strand_, run(), [](std::exception_ptr failure) {
        if (failure) std::rethrow_exception(failure);  // a bug: let it end the process loudly
    });
}

void CommandConnection::stop() {
    asio::post(strand_, [this] {
        if (stopping_) return;
        stopping_ = true;
        // Wherever the run is waiting (connect, backoff, or a live link), it wakes up, sees
        // stopping_ and ends; a live link fails its requests on the way out.
        close_link(RedisError::connection_lost);
        resolver_.cancel();
        connect_timer_.cancel();
    });
}

awaitable<void> CommandConnection::run() {
    while (!stopping_) {
        error_code error = co_await open_link(socket_, resolver_, connect_timer_, settings_);
        if (stopping_) break;
        if (!error) co_await serve();
        if (stopping_) break;
        if (error && failed_attempts_++ == 0)
            log_warn("redis_connect_failed", {{"redis", describe(settings_)},
                                              {"name", settings_.client_name},
                                              {"error", error}});
        connect_timer_.expires_after(backoff_.next());
        co_await connect_timer_.async_wait(use_nothrow);
    }
}

awaitable<void> CommandConnection::serve() {
    parser_ = ReplyParser(settings_.max_reply_bytes);
    close_reason_ = {};
    // The handshake goes through the FIFO like any request: its replies come first, and its
    // lateness is the watchdog's like any other. Until it is done, callers get not_connected.
    auto handshake = handshake_commands(settings_, true);
    std::string wire;
    for (const Command& command : handshake)
        wire += command.wire();
    fifo_.push(std::move(wire), handshake.size(), Clock::now() + settings_.timeout,
               HandshakeDone{this});

    // Each loop returns (never throws) when the link ends, having set close_reason_; `||` then
    // cancels the other two, which only cancels on a branch that finished without throwing.
    co_await (read_loop() || write_loop() || watchdog());

    error_code ignored;
    socket_.close(ignored);
    bool was_up = std::exchange(up_, false);
    if (was_up) {
        if (!stopping_)
            log_warn("redis_disconnected", {{"redis", describe(settings_)},
                                            {"name", settings_.client_name},
                                            {"error", close_reason_}});
        report(LinkEvent::disconnected);
    } else if (!stopping_ && close_reason_ != RedisError::refused && failed_attempts_++ == 0) {
        log_warn("redis_handshake_failed", {{"redis", describe(settings_)},
                                            {"name", settings_.client_name},
                                            {"error", close_reason_}});
    }
    fifo_.fail_all(close_reason_);
}

awaitable<void> CommandConnection::read_loop() {
    std::array<char, 16 * 1024> buffer;
    for (;;) {
        auto [error, size] = co_await socket_.async_read_some(asio::buffer(buffer), use_nothrow);
        if (error) co_return close_link(RedisError::connection_lost);
        parser_.feed(std::string_view(buffer.data(), size));
        for (;;) {
            auto reply = parser_.next();
            if (!reply) {
                log_warn("redis_protocol_error",
                         {{"redis", describe(settings_)}, {"error", parser_.error_text()}});
                co_return close_link(RedisError::protocol_error);
            }
            if (!*reply) break;
            if (fifo_.push_reply(std::move(**reply)) == CommandFifo::Match::unexpected) {
                log_warn("redis_unexpected_reply", {{"redis", describe(settings_)}});
                co_return close_link(RedisError::protocol_error);
            }
            if (close_reason_) co_return;  // the handshake was refused
        }
    }
}

awaitable<void> CommandConnection::write_loop() {
    for (;;) {
        std::string batch = fifo_.take_writes();
        if (batch.empty()) {
            // enqueue() cancels the wait when a request comes.
            wake_.expires_at(Clock::time_point::max());
            co_await wake_.async_wait(use_nothrow);
            if (close_reason_) co_return;
            continue;
        }
        auto [error, size] = co_await asio::async_write(socket_, asio::buffer(batch), use_nothrow);
        if (error) co_return close_link(RedisError::connection_lost);
        fifo_.on_written();
    }
}

awaitable<void> CommandConnection::watchdog() {
    const Duration interval = settings_.health_check_interval;
    for (;;) {
        auto now = Clock::now();
        auto deadline = fifo_.head_deadline();
        if (deadline && *deadline <= now) {
            // A late handshake is logged once per streak of failures, by serve().
            if (up_)
                log_warn("redis_timeout", {{"redis", describe(settings_)},
                                           {"name", settings_.client_name},
                                           {"requests", fifo_.requests()}});
            co_return close_link(RedisError::timeout);
        }
        Clock::time_point wake_at = deadline.value_or(Clock::time_point::max());
        // Pending requests already prove the link within their deadline; an idle link is
        // probed so that a dead one shows in connected() before the next caller finds out.
        if (up_ && interval.count() > 0 && fifo_.empty()) {
            auto health_at = last_request_ + interval;
            if (health_at <= now) {
                fifo_.push(Command{"PING"}.wire(), 1, now + settings_.timeout, IgnoreReplies{});
                last_request_ = now;
                wake_.cancel();
                continue;
            }
            wake_at = health_at;
        }
        watchdog_.expires_at(wake_at);
        co_await watchdog_.async_wait(use_nothrow);
        if (close_reason_) co_return;
    }
}

void CommandConnection::enqueue(std::string wire, std::size_t commands,
                                CommandFifo::Completion done) {
    if (!up_ || stopping_) return std::move(done)(make_error_code(RedisError::not_connected));
    if (!fifo_.has_room(commands)) return std::move(done)(make_error_code(RedisError::queue_full));
    bool was_idle = fifo_.empty();
    auto now = Clock::now();
    fifo_.push(std::move(wire), commands, now + settings_.timeout, std::move(done));
    last_request_ = now;
    wake_.cancel();
    // The watchdog sleeps until the next health check while nothing is pending: it must now
    // wake at this request's deadline instead.
    if (was_idle) watchdog_.cancel();
}

void CommandConnection::on_handshake(Replies replies) {
    if (!replies) return;  // the link failed first; serve() reports it
    if (auto refusal = handshake_error(*replies)) {
        // WRONGPASS, NOAUTH, a bad database: retrying will not help until an operator acts,
        // but the backoff keeps the retries rare. Redis's text never repeats the password.
        if (failed_attempts_++ == 0)
            log_error("redis_handshake_refused",
                      {{"redis", describe(settings_)}, {"error", *refusal}});
        return close_link(RedisError::refused);
    }
    up_ = true;
    failed_attempts_ = 0;
    backoff_.reset();
    last_request_ = Clock::now();
    log_info("redis_connected", {{"redis", describe(settings_)}, {"name", settings_.client_name}});
    report(LinkEvent::connected);
}

void CommandConnection::close_link(error_code reason) {
    if (!close_reason_) close_reason_ = reason;
    error_code ignored;
    socket_.close(ignored);
    wake_.cancel();
    watchdog_.cancel();
}

void CommandConnection::report(LinkEvent event) {
    connected_.store(event == LinkEvent::connected, std::memory_order_release);
    if (on_event_) on_event_(event);
}

awaitable<boost::system::result<Reply>> CommandConnection::exec(Command command) {
    std::vector<Command> one;
    one.push_back(std::move(command));
    Replies replies = co_await exec_all(std::move(one));
    if (!replies) co_return replies.error();
    co_return std::move(replies->front());
}

awaitable<CommandConnection::Replies> CommandConnection::exec_all(std::vector<Command> commands) {
    if (commands.empty()) co_return std::vector<Reply>();
    std::size_t count = commands.size();
    std::string wire;
    for (Command& command : commands)
        wire += std::move(command).take_wire();
    // Named before it is awaited (g++ 12 and temporaries in co_await expressions).
    auto request = detail::ask_on<Replies>(strand_, Enqueue{this, std::move(wire), count});
    co_return co_await std::move(request);
}

}  // namespace herald::redis
