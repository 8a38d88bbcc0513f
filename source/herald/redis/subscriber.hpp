// Herald's Redis subscriber: one connection in subscribe mode, which keeps a set of channels
// subscribed across reconnects.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/system/result.hpp>

#include "herald/net.hpp"
#include "herald/redis/backoff.hpp"
#include "herald/redis/link_event.hpp"
#include "herald/redis/reply_parser.hpp"
#include "herald/redis/settings.hpp"
#include "herald/redis/subscription_state.hpp"

namespace herald::redis {

// The set of channels is what the owner wants: subscribe() adds a channel and completes once
// Redis has confirmed it (from then on, every message published to it arrives), or fails with
// timeout or not_connected, the channel staying in the set either way; unsubscribe() takes it
// out. After every reconnect the whole set is subscribed again, many channels per SUBSCRIBE,
// and the `resubscribed` event says when all of it is confirmed: messages published while the
// link was down are lost, so that is when the owner catches its users up (from history).
//
// Subscribing the same channel twice is subscribing it once: the set has no counts (the owner
// counts its users).
//
// A confirmation, an unsubscribe or a ping that takes longer than settings.timeout closes the
// link and reconnects; so does a health-check PING, sent every
// settings.health_check_interval, that gets no pong: a link that silently stopped delivering
// (a network partition, a paused server) is noticed within interval + timeout.
//
// Messages and events are handed over on the subscriber's strand (get_executor()), one at a
// time and in the order Redis sent them; the views are valid during the call only. Handlers
// must not block: they hold up every message behind them.
//
// Lifetime: as for CommandConnection, the object must outlive its io_context's work: stop(),
// let run() return, then destroy it.
class Subscriber {
  public:
    using MessageHandler = std::function<void(std::string_view channel, std::string_view payload)>;
    using EventHandler = std::function<void(LinkEvent)>;

    Subscriber(asio::any_io_executor executor, RedisSettings settings);
    Subscriber(const Subscriber&) = delete;
    Subscriber& operator=(const Subscriber&) = delete;

    // Set both before start().
    void on_message(MessageHandler handler) { on_message_ = std::move(handler); }
    // connected, resubscribed (after every connected, even with no channels), disconnected.
    void on_event(EventHandler handler) { on_event_ = std::move(handler); }

    void start();
    // Any thread: closes the link and stops reconnecting; waiting requests fail
    // (connection_lost).
    void stop();

    // Any thread: drops the link, which then comes back as after any loss (backoff, then every
    // channel subscribed again and `resubscribed`): for a link that looks up but has stopped
    // delivering (a probe published to it never came back).
    void reconnect();

    // The link is up (its handshake is done); the set may still be being resubscribed.
    bool connected() const { return connected_.load(std::memory_order_acquire); }

    // Success once Redis has confirmed; not_connected at once while no link is up (during a
    // handshake it waits for the resubscription instead); timeout; refused (an ACL forbids the
    // channel, which then leaves the set).
    awaitable<boost::system::result<void>> subscribe(std::string channel);
    // Completes when Redis has confirmed (at once when the link is down or the channel was not
    // in the set). Messages for the channel stop being handed over as soon as it is called.
    awaitable<boost::system::result<void>> unsubscribe(std::string channel);
    // A round trip through the subscribed link.
    awaitable<boost::system::result<void>> ping();

    asio::strand<asio::any_io_executor> get_executor() const { return strand_; }
    const RedisSettings& settings() const { return settings_; }

  private:
    struct Request;

    awaitable<void> run();
    awaitable<void> serve();
    awaitable<void> read_loop();
    awaitable<void> write_loop();
    awaitable<void> watchdog();
    awaitable<boost::system::result<void>> ask(Request request);
    void after_request(bool was_idle);
    bool handle(const SubscriptionState::Outcome& outcome);
    void close_link(error_code reason);
    void report(LinkEvent event);

    asio::strand<asio::any_io_executor> strand_;
    const RedisSettings settings_;
    MessageHandler on_message_;
    EventHandler on_event_;
    std::atomic<bool> connected_{false};

    // Everything below belongs to strand_.
    tcp::socket socket_;
    tcp::resolver resolver_;
    asio::steady_timer connect_timer_;  // the connect's deadline, then the backoff's wait
    asio::steady_timer wake_;           // the writer waits on it for work
    asio::steady_timer watchdog_;       // the oldest command's deadline, the next health check
    SubscriptionState state_;
    ReplyParser parser_;
    Backoff backoff_;
    error_code close_reason_;  // as in CommandConnection: set, it ends the link's loops
    bool stopping_ = false;
    int failed_attempts_ = 0;
    Clock::time_point last_ping_;
};

}  // namespace herald::redis
