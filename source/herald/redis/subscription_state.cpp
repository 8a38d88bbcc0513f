#include "herald/redis/subscription_state.hpp"

#include <stdexcept>
#include <utility>

#include <boost/asio/error.hpp>

#include "herald/redis/error.hpp"
#include "herald/redis/pubsub_frame.hpp"

namespace herald::redis {
namespace {

using boost::system::error_code;

void complete(SubscriptionState::Waiter& waiter, error_code result) {
    if (waiter) std::move(waiter)(result);
}

// Out of their container before they run, so that a waiter that asks again finds a
// consistent state.
void complete_all(std::vector<SubscriptionState::Waiter> waiters, error_code result) {
    for (auto& waiter : waiters)
        complete(waiter, result);
}

}  // namespace

SubscriptionState::SubscriptionState(Options options) : options_(options) {
    if (options_.batch == 0) options_.batch = 1;
}

void SubscriptionState::begin_handshake(const std::vector<Command>& handshake,
                                        Clock::time_point now) {
    // At least a PING: a link counts as up only after a round trip.
    if (handshake.empty()) throw std::invalid_argument("a handshake needs a command");
    phase_ = Phase::handshaking;
    for (const Command& command : handshake)
        outgoing_ += command.wire();
    Pending pending(Pending::Kind::handshake, next_id_++, now + options_.timeout);
    pending.expected = handshake.size();
    pending_.push_back(std::move(pending));
}

void SubscriptionState::on_link_lost(error_code reason) {
    phase_ = Phase::down;
    outgoing_.clear();
    round_left_ = 0;
    pings_in_flight_ = 0;
    std::deque<Pending> pending = std::exchange(pending_, {});
    std::vector<Waiter> failed;
    for (auto& [name, channel] : channels_) {
        channel.state = Channel::State::idle;
        for (auto& waiter : channel.waiters)
            failed.push_back(std::move(waiter));
        channel.waiters.clear();
    }
    complete_all(std::move(failed), reason);
    for (Pending& each : pending)
        complete(each.done, each.kind == Pending::Kind::unsubscribe ? error_code() : reason);
}

void SubscriptionState::subscribe(std::string channel, Waiter done, Clock::time_point now) {
    auto [found, added] = channels_.try_emplace(std::move(channel));
    Channel& entry = found->second;
    // In the set either way: the next resubscription takes it along. During the handshake
    // that is moments away, so the caller waits for it (bounded by the handshake's timeout);
    // with no link at all it hears at once.
    if (phase_ == Phase::down) return complete(done, RedisError::not_connected);
    if (phase_ == Phase::handshaking) {
        if (done) entry.waiters.push_back(std::move(done));
        return;
    }
    switch (entry.state) {
        case Channel::State::subscribed:
            return complete(done, {});
        case Channel::State::subscribing:
            if (done) entry.waiters.push_back(std::move(done));
            return;
        case Channel::State::idle:
            entry.state = Channel::State::subscribing;
            if (done) entry.waiters.push_back(std::move(done));
            send_subscribe({found->first}, false, now);
            return;
    }
}

void SubscriptionState::unsubscribe(std::string channel, Waiter done, Clock::time_point now) {
    auto found = channels_.find(channel);
    if (found == channels_.end()) return complete(done, {});
    Channel entry = std::move(found->second);
    channels_.erase(found);
    // Whoever still waited for this channel's subscription asked for something withdrawn.
    complete_all(std::move(entry.waiters), boost::asio::error::operation_aborted);
    // Nothing is subscribed on a link that is not up (or not yet resubscribed).
    if (phase_ != Phase::up || entry.state == Channel::State::idle) return complete(done, {});
    Pending pending(Pending::Kind::unsubscribe, next_id_++, now + options_.timeout,
                    std::move(done));
    std::vector<std::string> channels{std::move(channel)};
    send(std::move(pending), channels, "UNSUBSCRIBE");
}

void SubscriptionState::ping(Waiter done, Clock::time_point now) {
    if (phase_ != Phase::up) return complete(done, RedisError::not_connected);
    Pending pending(Pending::Kind::ping, next_id_++, now + options_.timeout, std::move(done));
    ++pings_in_flight_;
    send(std::move(pending), {}, "PING");
}

std::string SubscriptionState::take_writes() {
    return std::exchange(outgoing_, {});
}

void SubscriptionState::send(Pending pending, std::span<const std::string> channels,
                             std::string_view name) {
    std::vector<std::string_view> arguments{name};
    arguments.insert(arguments.end(), channels.begin(), channels.end());
    outgoing_ += Command(arguments).wire();
    pending.channels.assign(channels.begin(), channels.end());
    pending_.push_back(std::move(pending));
}

void SubscriptionState::send_subscribe(std::vector<std::string> channels, bool round,
                                       Clock::time_point now) {
    Pending pending(Pending::Kind::subscribe, next_id_++, now + options_.timeout);
    pending.round = round;
    for (const std::string& name : channels)
        channels_.find(name)->second.latest_command = pending.id;
    if (round) ++round_left_;
    send(std::move(pending), channels, "SUBSCRIBE");
}

// Many channels per SUBSCRIBE: thousands of channels come back in a few round trips, and a
// batch's k confirmations are matched one by one like any other's.
void SubscriptionState::start_round(Clock::time_point now) {
    std::vector<std::string> batch;
    for (auto& [name, channel] : channels_) {
        channel.state = Channel::State::subscribing;
        batch.push_back(name);
        if (batch.size() == options_.batch) send_subscribe(std::exchange(batch, {}), true, now);
    }
    if (!batch.empty()) send_subscribe(std::move(batch), true, now);
}

SubscriptionState::Outcome SubscriptionState::push_reply(const Reply& reply,
                                                         Clock::time_point now) {
    using Kind = Outcome::Kind;
    if (phase_ == Phase::down || (phase_ == Phase::handshaking && pending_.empty()))
        return {Kind::unexpected};
    if (phase_ == Phase::handshaking) {
        // Plain replies (+OK, +PONG): the connection is not in subscribe mode yet.
        Pending& head = pending_.front();
        if (reply.is_error()) return {Kind::handshake_refused, {}, {}, reply.text};
        if (++head.confirmed < head.expected) return {};
        pending_.pop_front();
        phase_ = Phase::up;
        start_round(now);
        return {Kind::connected};
    }

    PubSubFrame frame = classify_pubsub_frame(reply);
    switch (frame.kind) {
        case PubSubFrame::Kind::message:
            // A message can still come for a channel unsubscribed a moment ago: dropped.
            if (!wants(frame.channel)) return {};
            return {Kind::message, frame.channel, frame.payload};
        case PubSubFrame::Kind::subscribe:
            return on_confirmation(Pending::Kind::subscribe, frame.channel);
        case PubSubFrame::Kind::unsubscribe:
            return on_confirmation(Pending::Kind::unsubscribe, frame.channel);
        case PubSubFrame::Kind::pong:
            return on_pong();
        case PubSubFrame::Kind::error:
            return on_error(frame.payload);
        case PubSubFrame::Kind::unexpected:
            break;
    }
    return {Kind::unexpected};
}

SubscriptionState::Outcome SubscriptionState::on_confirmation(Pending::Kind kind,
                                                              std::string_view channel) {
    if (pending_.empty()) return {Outcome::Kind::unexpected};
    Pending& head = pending_.front();
    if (head.kind != kind || head.confirmed >= head.channels.size() ||
        head.channels[head.confirmed] != channel)
        return {Outcome::Kind::unexpected};
    ++head.confirmed;
    if (kind == Pending::Kind::subscribe) {
        auto found = channels_.find(channel);
        if (found != channels_.end() && found->second.latest_command == head.id) {
            found->second.state = Channel::State::subscribed;
            complete_all(std::exchange(found->second.waiters, {}), {});
        }
    }
    if (head.confirmed < head.channels.size()) return {};
    return finish_head();
}

SubscriptionState::Outcome SubscriptionState::on_pong() {
    if (pending_.empty() || pending_.front().kind != Pending::Kind::ping)
        return {Outcome::Kind::unexpected};
    --pings_in_flight_;
    return finish_head();
}

SubscriptionState::Outcome SubscriptionState::on_error(std::string_view text) {
    // An error answers a whole command, however many confirmations it would have had.
    if (pending_.empty()) return {Outcome::Kind::unexpected};
    Pending& head = pending_.front();
    std::vector<Waiter> refused;
    if (head.kind == Pending::Kind::subscribe) {
        // A channel Redis will not subscribe (an ACL) leaves the set: retrying it after every
        // reconnect would only be refused again.
        for (std::size_t i = head.confirmed; i < head.channels.size(); ++i) {
            auto found = channels_.find(head.channels[i]);
            if (found == channels_.end() || found->second.latest_command != head.id) continue;
            for (auto& waiter : found->second.waiters)
                refused.push_back(std::move(waiter));
            channels_.erase(found);
        }
    } else if (head.kind == Pending::Kind::ping) {
        --pings_in_flight_;
    }
    if (head.done) refused.push_back(std::move(head.done));
    Outcome outcome = finish_head();
    outcome.refusal = text;
    complete_all(std::move(refused), RedisError::refused);
    return outcome;
}

SubscriptionState::Outcome SubscriptionState::finish_head() {
    Pending done = std::move(pending_.front());
    pending_.pop_front();
    Outcome outcome;
    if (done.round && --round_left_ == 0) outcome.kind = Outcome::Kind::resubscribed;
    complete(done.done, {});
    return outcome;
}

std::optional<Clock::time_point> SubscriptionState::head_deadline() const {
    if (pending_.empty()) return std::nullopt;
    return pending_.front().deadline;
}

bool SubscriptionState::subscribed(std::string_view channel) const {
    auto found = channels_.find(channel);
    return found != channels_.end() && found->second.state == Channel::State::subscribed;
}

}  // namespace herald::redis
