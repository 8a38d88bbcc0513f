// The subscriber's protocol state, without sockets: the set of channels it wants, the commands
// in flight and the confirmations they wait for, and the resubscription after a reconnect.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/system/error_code.hpp>

#include "herald/redis/command.hpp"
#include "herald/redis/reply.hpp"
#include "herald/redis/settings.hpp"

namespace herald::redis {

// The set of channels is what the owner wants, whatever the link does: subscribe() adds a
// channel even while the link is down (that subscribe then fails with not_connected; during
// the handshake it waits for the resubscription that follows), and
// every time the link comes up the whole set is subscribed again, in batches of many channels
// per SUBSCRIBE. Only unsubscribe() takes a channel out (and a SUBSCRIBE that Redis refuses).
//
// Redis confirms a SUBSCRIBE of k channels with k frames, in order, and answers commands in
// the order they were sent, so the oldest command in flight owns the next confirmation, and
// anything that does not fit it means the connection is out of step. Messages may come between
// any two confirmations.
//
// Waiters are called inline; the subscriber's own waiters hand the result to the caller's
// executor.
class SubscriptionState {
  public:
    // Completes with success, or why not (not_connected, timeout, connection_lost, refused;
    // operation_aborted for a subscribe withdrawn by an unsubscribe of the same channel).
    using Waiter = boost::asio::any_completion_handler<void(boost::system::error_code)>;

    struct Options {
        Duration timeout = std::chrono::seconds(2);  // every command's confirmation
        std::size_t batch = 512;                     // channels per SUBSCRIBE when resubscribing
    };

    enum class Phase {
        down,         // no link: requests fail with not_connected
        handshaking,  // AUTH, CLIENT SETNAME, ... sent; their plain replies awaited
        up,           // in subscribe mode
    };

    // What a reply meant, for the connection to act on.
    struct Outcome {
        enum class Kind {
            none,               // a confirmation, a pong, or a message for a dropped channel
            message,            // hand (channel, payload) to the owner
            connected,          // the handshake is done; the set is being resubscribed
            resubscribed,       // the last confirmation of the resubscription came
            handshake_refused,  // Redis refused the handshake (a wrong password): drop the link
            unexpected,         // out of step: drop the link
        };
        Kind kind = Kind::none;
        std::string_view channel{};  // message
        std::string_view payload{};  // message
        // Set when Redis refused a command (its error text), whatever the kind: worth a log.
        std::string_view refusal{};
    };

    explicit SubscriptionState(Options options);

    // The link is open: `handshake` (at least one command) goes first, and its plain replies
    // must all be other than errors before the link counts as up.
    void begin_handshake(const std::vector<Command>& handshake, Clock::time_point now);
    // The link is gone: every waiter fails with `reason` (an unsubscribe succeeds: its channel
    // is no longer subscribed either way); the set stays.
    void on_link_lost(boost::system::error_code reason);

    // An empty waiter means nobody waits.
    void subscribe(std::string channel, Waiter done, Clock::time_point now);
    void unsubscribe(std::string channel, Waiter done, Clock::time_point now);
    void ping(Waiter done, Clock::time_point now);

    // Commands to write, encoded back to back; take_writes() hands them over.
    bool has_writes() const { return !outgoing_.empty(); }
    std::string take_writes();

    Outcome push_reply(const Reply& reply, Clock::time_point now);

    // When the oldest command in flight is late (commands are sent in deadline order).
    std::optional<Clock::time_point> head_deadline() const;

    Phase phase() const { return phase_; }
    bool resubscribing() const { return round_left_ > 0; }
    bool ping_in_flight() const { return pings_in_flight_ > 0; }
    std::size_t channels() const { return channels_.size(); }
    bool wants(std::string_view channel) const { return channels_.contains(channel); }
    // Subscribed on the current link (confirmed by Redis).
    bool subscribed(std::string_view channel) const;

  private:
    struct Channel {
        enum class State { idle, subscribing, subscribed };
        State state = State::idle;
        // The SUBSCRIBE whose confirmation counts: after an unsubscribe and a new subscribe of
        // the same channel, the first SUBSCRIBE's confirmation must not satisfy the second.
        std::uint64_t latest_command = 0;
        std::vector<Waiter> waiters;
    };
    struct Pending {
        enum class Kind { handshake, subscribe, unsubscribe, ping };
        // The waiter is moved in here, never assigned: Boost 1.81's any_completion_handler
        // move assignment recurses without end (it copies from an lvalue through its
        // converting constructor).
        Pending(Kind kind, std::uint64_t id, Clock::time_point deadline, Waiter done = {})
            : kind(kind), id(id), deadline(deadline), done(std::move(done)) {}

        Kind kind;
        std::uint64_t id;
        Clock::time_point deadline;
        std::vector<std::string> channels{};  // subscribe, unsubscribe: in confirmation order
        std::size_t expected = 0;             // handshake: replies
        std::size_t confirmed = 0;
        bool round = false;  // part of the resubscription after the link came up
        Waiter done;         // unsubscribe, ping
    };
    struct TextHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view text) const {
            return std::hash<std::string_view>{}(text);
        }
    };

    void send(Pending pending, std::span<const std::string> channels, std::string_view name);
    void send_subscribe(std::vector<std::string> channels, bool round, Clock::time_point now);
    void start_round(Clock::time_point now);
    Outcome on_confirmation(Pending::Kind kind, std::string_view channel);
    Outcome on_pong();
    Outcome on_error(std::string_view text);
    Outcome finish_head();

    Options options_;
    Phase phase_ = Phase::down;
    std::unordered_map<std::string, Channel, TextHash, std::equal_to<>> channels_;
    std::deque<Pending> pending_;
    std::string outgoing_;
    std::uint64_t next_id_ = 1;
    std::size_t round_left_ = 0;  // resubscription commands not yet fully confirmed
    std::size_t pings_in_flight_ = 0;
};

}  // namespace herald::redis
