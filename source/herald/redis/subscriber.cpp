#include "herald/redis/subscriber.hpp"

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

SubscriptionState::Options state_options(const RedisSettings& settings) {
    return {settings.timeout, settings.subscribe_batch};
}

}  // namespace

// A caller's request, run on the strand.
struct Subscriber::Request {
    enum class Kind { subscribe, unsubscribe, ping };
    Subscriber* subscriber;
    Kind kind;
    std::string channel;

    void operator()(boost::asio::any_completion_handler<void(boost::system::result<void>)> caller) {
        // A bare error_code would make a failed result<void> even when it is zero: success is
        // spelled out.
        SubscriptionState::Waiter done = [caller = std::move(caller)](error_code error) mutable {
            std::move(caller)(error ? boost::system::result<void>(error)
                                    : boost::system::result<void>());
        };
        SubscriptionState& state = subscriber->state_;
        bool was_idle = !state.head_deadline().has_value();
        auto now = Clock::now();
        switch (kind) {
            case Kind::subscribe:
                state.subscribe(std::move(channel), std::move(done), now);
                break;
            case Kind::unsubscribe:
                state.unsubscribe(std::move(channel), std::move(done), now);
                break;
            case Kind::ping:
                state.ping(std::move(done), now);
                break;
        }
        subscriber->after_request(was_idle);
    }
};

Subscriber::Subscriber(asio::any_io_executor executor, RedisSettings settings)
    : strand_(asio::make_strand(std::move(executor))),
      settings_(std::move(settings)),
      socket_(strand_),
      resolver_(strand_),
      connect_timer_(strand_),
      wake_(strand_),
      watchdog_(strand_),
      state_(state_options(settings_)),
      parser_(settings_.max_reply_bytes),
      backoff_(settings_.reconnect_first, settings_.reconnect_most) {}

void Subscriber::start() {
    asio::co_spawn(strand_, run(), [](std::exception_ptr failure) {
        if (failure) std::rethrow_exception(failure);  // a bug: let it end the process loudly
    });
}

void Subscriber::stop() {
    asio::post(strand_, [this] {
        if (stopping_) return;
        stopping_ = true;
        close_link(RedisError::connection_lost);
        resolver_.cancel();
        connect_timer_.cancel();
    });
}

void Subscriber::reconnect() {
    asio::post(strand_, [this] {
        if (!stopping_) close_link(RedisError::connection_lost);
    });
}

awaitable<void> Subscriber::run() {
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

awaitable<void> Subscriber::serve() {
    parser_ = ReplyParser(settings_.max_reply_bytes);
    close_reason_ = {};
    // No SELECT: pub/sub channels do not belong to a database.
    state_.begin_handshake(handshake_commands(settings_, false), Clock::now());

    // Each loop returns (never throws) when the link ends, having set close_reason_; `||` then
    // cancels the other two, which only cancels on a branch that finished without throwing.
    co_await (read_loop() || write_loop() || watchdog());

    error_code ignored;
    socket_.close(ignored);
    bool was_up = state_.phase() == SubscriptionState::Phase::up;
    // Fails what waits, and leaves the set to be resubscribed on the next link.
    state_.on_link_lost(close_reason_);
    if (was_up) {
        if (!stopping_)
            log_warn("redis_subscriber_disconnected", {{"redis", describe(settings_)},
                                                       {"name", settings_.client_name},
                                                       {"channels", state_.channels()},
                                                       {"error", close_reason_}});
        report(LinkEvent::disconnected);
    } else if (!stopping_ && close_reason_ != RedisError::refused && failed_attempts_++ == 0) {
        log_warn("redis_handshake_failed", {{"redis", describe(settings_)},
                                            {"name", settings_.client_name},
                                            {"error", close_reason_}});
    }
}

awaitable<void> Subscriber::read_loop() {
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
            if (!handle(state_.push_reply(**reply, Clock::now()))) co_return;
        }
        // The handshake's end starts the resubscription: its SUBSCRIBEs are waiting.
        if (state_.has_writes()) wake_.cancel();
    }
}

bool Subscriber::handle(const SubscriptionState::Outcome& outcome) {
    using Kind = SubscriptionState::Outcome::Kind;
    if (!outcome.refusal.empty() && outcome.kind != Kind::handshake_refused)
        log_warn("redis_subscribe_refused",
                 {{"redis", describe(settings_)}, {"error", outcome.refusal}});
    switch (outcome.kind) {
        case Kind::none:
            return true;
        case Kind::message:
            if (on_message_) on_message_(outcome.channel, outcome.payload);
            return true;
        case Kind::connected:
            failed_attempts_ = 0;
            backoff_.reset();
            last_ping_ = Clock::now();
            log_info("redis_subscriber_connected", {{"redis", describe(settings_)},
                                                    {"name", settings_.client_name},
                                                    {"channels", state_.channels()}});
            report(LinkEvent::connected);
            if (!state_.resubscribing()) report(LinkEvent::resubscribed);
            // The watchdog sleeps until the handshake's deadline; the resubscription's first
            // deadline may come sooner.
            watchdog_.cancel();
            return true;
        case Kind::resubscribed:
            report(LinkEvent::resubscribed);
            return true;
        case Kind::handshake_refused:
            if (failed_attempts_++ == 0)
                log_error("redis_handshake_refused",
                          {{"redis", describe(settings_)}, {"error", outcome.refusal}});
            close_link(RedisError::refused);
            return false;
        case Kind::unexpected:
            log_warn("redis_subscriber_out_of_step", {{"redis", describe(settings_)}});
            close_link(RedisError::protocol_error);
            return false;
    }
    return true;
}

awaitable<void> Subscriber::write_loop() {
    for (;;) {
        std::string batch = state_.take_writes();
        if (batch.empty()) {
            wake_.expires_at(Clock::time_point::max());
            co_await wake_.async_wait(use_nothrow);
            if (close_reason_) co_return;
            continue;
        }
        auto [error, size] = co_await asio::async_write(socket_, asio::buffer(batch), use_nothrow);
        if (error) co_return close_link(RedisError::connection_lost);
    }
}

awaitable<void> Subscriber::watchdog() {
    const Duration interval = settings_.health_check_interval;
    for (;;) {
        auto now = Clock::now();
        auto deadline = state_.head_deadline();
        if (deadline && *deadline <= now) {
            // A late handshake is logged once per streak of failures, by serve().
            if (state_.phase() == SubscriptionState::Phase::up)
                log_warn("redis_subscriber_timeout",
                         {{"redis", describe(settings_)}, {"name", settings_.client_name}});
            co_return close_link(RedisError::timeout);
        }
        Clock::time_point wake_at = deadline.value_or(Clock::time_point::max());
        // Pinged whatever else flows: messages coming in prove nothing about the way out.
        if (state_.phase() == SubscriptionState::Phase::up && interval.count() > 0 &&
            !state_.ping_in_flight()) {
            auto health_at = last_ping_ + interval;
            if (health_at <= now) {
                state_.ping({}, now);
                last_ping_ = now;
                wake_.cancel();
                continue;
            }
            wake_at = std::min(wake_at, health_at);
        }
        watchdog_.expires_at(wake_at);
        co_await watchdog_.async_wait(use_nothrow);
        if (close_reason_) co_return;
    }
}

void Subscriber::after_request(bool was_idle) {
    if (state_.has_writes()) wake_.cancel();
    // The watchdog may sleep until the next health check: this command's deadline may be
    // sooner.
    if (was_idle && state_.head_deadline()) watchdog_.cancel();
}

void Subscriber::close_link(error_code reason) {
    if (!close_reason_) close_reason_ = reason;
    error_code ignored;
    socket_.close(ignored);
    wake_.cancel();
    watchdog_.cancel();
}

void Subscriber::report(LinkEvent event) {
    if (event != LinkEvent::resubscribed)
        connected_.store(event == LinkEvent::connected, std::memory_order_release);
    if (on_event_) on_event_(event);
}

awaitable<boost::system::result<void>> Subscriber::ask(Request request) {
    // Named before it is awaited (g++ 12 and temporaries in co_await expressions).
    // result<void>, not a bare error_code: use_awaitable would throw a bare one.
    auto asked = detail::ask_on<boost::system::result<void>>(strand_, std::move(request));
    co_return co_await std::move(asked);
}

awaitable<boost::system::result<void>> Subscriber::subscribe(std::string channel) {
    return ask(Request{this, Request::Kind::subscribe, std::move(channel)});
}

awaitable<boost::system::result<void>> Subscriber::unsubscribe(std::string channel) {
    return ask(Request{this, Request::Kind::unsubscribe, std::move(channel)});
}

awaitable<boost::system::result<void>> Subscriber::ping() {
    return ask(Request{this, Request::Kind::ping, {}});
}

}  // namespace herald::redis
