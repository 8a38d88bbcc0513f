#include "herald/redis/subscription_state.hpp"

#include <map>

#include <boost/asio/error.hpp>
#include <boost/test/unit_test.hpp>

#include "herald/redis/error.hpp"

using namespace herald::redis;
using boost::system::error_code;
using Kind = SubscriptionState::Outcome::Kind;
using std::chrono::seconds;

namespace {

// A command's encoding, callable inside test macros (whose arguments split at bare commas).
std::string encoded(std::vector<std::string> arguments) {
    return Command(std::span<const std::string>(arguments)).wire();
}

const Clock::time_point start{};

Reply text(std::string value) {
    return Reply::string(std::move(value));
}
Reply subscribed(std::string channel, int count) {
    return Reply::array({text("subscribe"), text(std::move(channel)), Reply::number(count)});
}
Reply unsubscribed(std::string channel, int count) {
    return Reply::array({text("unsubscribe"), text(std::move(channel)), Reply::number(count)});
}
Reply message(std::string channel, std::string payload) {
    return Reply::array({text("message"), text(std::move(channel)), text(std::move(payload))});
}

// Waiters that note what they completed with, by name; a name absent has not completed.
struct Waiters {
    std::map<std::string, error_code> done;

    SubscriptionState::Waiter make(std::string name) {
        return [this, name](error_code result) {
            BOOST_TEST(!done.contains(name), name << " completed twice");
            done[name] = result;
        };
    }
    bool succeeded(const std::string& name) const {
        auto found = done.find(name);
        return found != done.end() && !found->second;
    }
};

// A state whose link is up (handshake of one PING answered), with its writes taken.
struct UpState {
    explicit UpState(std::size_t batch = 512) : state({seconds(2), batch}) {
        state.begin_handshake({Command{"PING"}}, start);
        state.take_writes();
        auto outcome = state.push_reply(Reply::status("PONG"), start);
        BOOST_REQUIRE((outcome.kind == Kind::connected));
    }
    SubscriptionState state;
    Waiters waiters;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(redis_subscription_state)

BOOST_AUTO_TEST_CASE(the_link_is_up_once_every_handshake_reply_is_in) {
    SubscriptionState state({seconds(2), 512});
    BOOST_TEST((state.phase() == SubscriptionState::Phase::down));
    state.begin_handshake({Command{"AUTH", "pw"}, Command{"PING"}}, start);
    BOOST_TEST(state.take_writes() == encoded({"AUTH", "pw"}) + encoded({"PING"}));
    BOOST_TEST((state.head_deadline() == start + seconds(2)));
    BOOST_TEST((state.push_reply(Reply::status("OK"), start).kind == Kind::none));
    BOOST_TEST((state.phase() == SubscriptionState::Phase::handshaking));
    BOOST_TEST((state.push_reply(Reply::status("PONG"), start).kind == Kind::connected));
    BOOST_TEST((state.phase() == SubscriptionState::Phase::up));
    BOOST_TEST(!state.resubscribing());  // nothing to resubscribe
    BOOST_TEST(!state.head_deadline().has_value());
}

BOOST_AUTO_TEST_CASE(a_refused_handshake_says_why) {
    SubscriptionState state({seconds(2), 512});
    state.begin_handshake({Command{"AUTH", "pw"}, Command{"PING"}}, start);
    auto refusal = Reply::error("WRONGPASS invalid password");
    auto outcome = state.push_reply(refusal, start);
    BOOST_TEST((outcome.kind == Kind::handshake_refused));
    BOOST_TEST(outcome.refusal == "WRONGPASS invalid password");
}

BOOST_AUTO_TEST_CASE(a_subscribe_completes_only_when_redis_confirms_it) {
    UpState up;
    auto& state = up.state;
    state.subscribe("a", up.waiters.make("first"), start + seconds(1));
    BOOST_TEST(state.take_writes() == encoded({"SUBSCRIBE", "a"}));
    BOOST_TEST((state.head_deadline() == start + seconds(3)));
    state.subscribe("a", up.waiters.make("second"), start + seconds(1));  // joins the first
    BOOST_TEST(!state.has_writes());
    BOOST_TEST(up.waiters.done.empty());
    BOOST_TEST(!state.subscribed("a"));

    BOOST_TEST((state.push_reply(subscribed("a", 1), start).kind == Kind::none));
    BOOST_TEST(up.waiters.succeeded("first"));
    BOOST_TEST(up.waiters.succeeded("second"));
    BOOST_TEST(state.subscribed("a"));
    // Already subscribed: at once, nothing written.
    state.subscribe("a", up.waiters.make("third"), start);
    BOOST_TEST(up.waiters.succeeded("third"));
    BOOST_TEST(!state.has_writes());
}

BOOST_AUTO_TEST_CASE(messages_are_handed_over_for_wanted_channels_only) {
    UpState up;
    auto& state = up.state;
    state.subscribe("a", {}, start);
    // A message may come before the confirmation (published between the two).
    auto frame = message("a", "one");  // the outcome's views point into it
    auto early = state.push_reply(frame, start);
    BOOST_TEST((early.kind == Kind::message));
    BOOST_TEST(early.channel == "a");
    BOOST_TEST(early.payload == "one");
    state.push_reply(subscribed("a", 1), start);
    BOOST_TEST((state.push_reply(message("other", "x"), start).kind == Kind::none));
}

BOOST_AUTO_TEST_CASE(a_subscribe_while_down_fails_but_the_channel_is_resubscribed_later) {
    SubscriptionState state({seconds(2), 512});
    Waiters waiters;
    state.subscribe("a", waiters.make("a"), start);
    BOOST_TEST(waiters.done.at("a") == make_error_code(RedisError::not_connected));
    BOOST_TEST(state.wants("a"));
    BOOST_TEST(!state.has_writes());

    state.begin_handshake({Command{"PING"}}, start);
    state.take_writes();
    BOOST_TEST((state.push_reply(Reply::status("PONG"), start).kind == Kind::connected));
    BOOST_TEST(state.resubscribing());
    BOOST_TEST(state.take_writes() == encoded({"SUBSCRIBE", "a"}));
    BOOST_TEST((state.push_reply(subscribed("a", 1), start).kind == Kind::resubscribed));
    BOOST_TEST(!state.resubscribing());
}

BOOST_AUTO_TEST_CASE(a_subscribe_during_the_handshake_waits_for_the_resubscription) {
    SubscriptionState state({seconds(2), 512});
    Waiters waiters;
    state.begin_handshake({Command{"PING"}}, start);
    state.take_writes();
    state.subscribe("a", waiters.make("a"), start);
    BOOST_TEST(waiters.done.empty());
    BOOST_TEST(!state.has_writes());  // not before the handshake is done
    state.push_reply(Reply::status("PONG"), start);
    BOOST_TEST(state.take_writes() == encoded({"SUBSCRIBE", "a"}));
    BOOST_TEST(waiters.done.empty());
    state.push_reply(subscribed("a", 1), start);
    BOOST_TEST(waiters.succeeded("a"));

    // And a handshake that fails fails it too.
    state.on_link_lost(RedisError::connection_lost);
    state.begin_handshake({Command{"PING"}}, start);
    state.subscribe("b", waiters.make("b"), start);
    state.on_link_lost(RedisError::timeout);
    BOOST_TEST(waiters.done.at("b") == make_error_code(RedisError::timeout));
}

BOOST_AUTO_TEST_CASE(resubscription_goes_in_batches_and_ends_after_the_last_confirmation) {
    SubscriptionState state({seconds(2), 2});
    for (std::string channel : {"a", "b", "c", "d", "e"})
        state.subscribe(channel, {}, start);
    state.begin_handshake({Command{"PING"}}, start);
    state.take_writes();
    state.push_reply(Reply::status("PONG"), start);

    // Five channels in SUBSCRIBEs of at most two; the set's order is the map's, so read it
    // back from the wire.
    std::string wire = state.take_writes();
    std::vector<std::string> order;
    for (std::size_t at = 0; (at = wire.find("*", at)) != std::string::npos; ++at) {
        int arguments = wire[at + 1] - '0';
        BOOST_TEST((arguments == 3 || arguments == 2));
        std::size_t cursor = wire.find("SUBSCRIBE\r\n", at) + 11;
        for (int i = 1; i < arguments; ++i) {
            cursor = wire.find("\r\n", cursor) + 2;  // past $<len>
            order.push_back(wire.substr(cursor, 1));
            cursor += 3;
        }
    }
    BOOST_REQUIRE_EQUAL(order.size(), 5u);

    for (std::size_t i = 0; i < order.size(); ++i) {
        // Messages may come between confirmations.
        BOOST_TEST((state.push_reply(message(order[0], "m"), start).kind == Kind::message));
        auto outcome = state.push_reply(subscribed(order[i], static_cast<int>(i + 1)), start);
        BOOST_TEST((outcome.kind == (i + 1 == order.size() ? Kind::resubscribed : Kind::none)));
    }
    for (const auto& channel : order)
        BOOST_TEST(state.subscribed(channel));
}

BOOST_AUTO_TEST_CASE(a_confirmation_that_fits_no_command_is_out_of_step) {
    UpState up;
    auto& state = up.state;
    BOOST_TEST((state.push_reply(subscribed("a", 1), start).kind == Kind::unexpected));
    state.subscribe("a", {}, start);
    BOOST_TEST((state.push_reply(subscribed("b", 1), start).kind == Kind::unexpected));
    BOOST_TEST((state.push_reply(unsubscribed("a", 0), start).kind == Kind::unexpected));
    BOOST_TEST((state.push_reply(Reply::status("OK"), start).kind == Kind::unexpected));
    BOOST_TEST((state.push_reply(Reply::status("PONG"), start).kind == Kind::unexpected));
}

BOOST_AUTO_TEST_CASE(an_unsubscribe_stops_messages_at_once_and_completes_on_confirmation) {
    UpState up;
    auto& state = up.state;
    state.subscribe("a", {}, start);
    state.push_reply(subscribed("a", 1), start);
    state.take_writes();

    state.unsubscribe("a", up.waiters.make("unsubscribe"), start);
    BOOST_TEST(state.take_writes() == encoded({"UNSUBSCRIBE", "a"}));
    BOOST_TEST(!state.wants("a"));
    BOOST_TEST((state.push_reply(message("a", "late"), start).kind == Kind::none));
    BOOST_TEST(up.waiters.done.empty());
    state.push_reply(unsubscribed("a", 0), start);
    BOOST_TEST(up.waiters.succeeded("unsubscribe"));

    state.unsubscribe("never", up.waiters.make("never"), start);  // not in the set: at once
    BOOST_TEST(up.waiters.succeeded("never"));
    BOOST_TEST(!state.has_writes());
}

BOOST_AUTO_TEST_CASE(a_subscribe_after_an_unsubscribe_waits_for_its_own_confirmation) {
    UpState up;
    auto& state = up.state;
    state.subscribe("a", up.waiters.make("first"), start);
    state.unsubscribe("a", up.waiters.make("unsubscribe"), start);
    // The withdrawn subscribe does not wait for a confirmation that no longer means anything.
    BOOST_TEST(up.waiters.done.at("first") == boost::asio::error::operation_aborted);
    state.subscribe("a", up.waiters.make("second"), start);
    BOOST_TEST(state.take_writes() == encoded({"SUBSCRIBE", "a"}) + encoded({"UNSUBSCRIBE", "a"}) +
                                          encoded({"SUBSCRIBE", "a"}));

    state.push_reply(subscribed("a", 1), start);
    BOOST_TEST(!up.waiters.done.contains("second"));  // the first SUBSCRIBE's confirmation
    state.push_reply(unsubscribed("a", 0), start);
    BOOST_TEST(up.waiters.succeeded("unsubscribe"));
    BOOST_TEST(!state.subscribed("a"));
    state.push_reply(subscribed("a", 1), start);
    BOOST_TEST(up.waiters.succeeded("second"));
    BOOST_TEST(state.subscribed("a"));
}

BOOST_AUTO_TEST_CASE(a_ping_completes_on_either_form_of_pong) {
    UpState up;
    auto& state = up.state;
    state.ping(up.waiters.make("status"), start);
    BOOST_TEST(state.ping_in_flight());
    BOOST_TEST(state.take_writes() == encoded({"PING"}));
    state.push_reply(Reply::status("PONG"), start);  // no subscription: RESP2's plain answer
    BOOST_TEST(up.waiters.succeeded("status"));
    BOOST_TEST(!state.ping_in_flight());

    state.subscribe("a", {}, start);
    state.push_reply(subscribed("a", 1), start);
    state.ping(up.waiters.make("array"), start);
    state.push_reply(Reply::array({text("pong"), text("")}), start);
    BOOST_TEST(up.waiters.succeeded("array"));
}

BOOST_AUTO_TEST_CASE(losing_the_link_fails_the_waiters_and_keeps_the_set) {
    UpState up;
    auto& state = up.state;
    state.subscribe("kept", {}, start);
    state.push_reply(subscribed("kept", 1), start);
    state.subscribe("pending", up.waiters.make("subscribe"), start);
    state.unsubscribe("kept", up.waiters.make("unsubscribe"), start);
    state.ping(up.waiters.make("ping"), start);
    state.subscribe("kept", {}, start);  // back in the set, with a SUBSCRIBE in flight

    state.on_link_lost(RedisError::timeout);
    BOOST_TEST((state.phase() == SubscriptionState::Phase::down));
    BOOST_TEST(up.waiters.done.at("subscribe") == make_error_code(RedisError::timeout));
    BOOST_TEST(up.waiters.done.at("ping") == make_error_code(RedisError::timeout));
    // Unsubscribed either way: the link that held the subscription is gone.
    BOOST_TEST(up.waiters.succeeded("unsubscribe"));
    BOOST_TEST(!state.has_writes());
    BOOST_TEST(!state.head_deadline().has_value());
    BOOST_TEST(state.channels() == 2u);
    BOOST_TEST(!state.subscribed("kept"));

    // The next link subscribes both again.
    state.begin_handshake({Command{"PING"}}, start);
    state.take_writes();
    state.push_reply(Reply::status("PONG"), start);
    std::string wire = state.take_writes();
    BOOST_TEST((wire == encoded({"SUBSCRIBE", "kept", "pending"}) ||
                wire == encoded({"SUBSCRIBE", "pending", "kept"})));
}

BOOST_AUTO_TEST_CASE(a_refused_subscribe_fails_its_waiters_and_leaves_the_set) {
    UpState up;
    auto& state = up.state;
    state.subscribe("forbidden", up.waiters.make("subscribe"), start);
    auto refusal = Reply::error("NOPERM no permissions");
    auto outcome = state.push_reply(refusal, start);
    BOOST_TEST((outcome.kind == Kind::none));
    BOOST_TEST(outcome.refusal == "NOPERM no permissions");
    BOOST_TEST(up.waiters.done.at("subscribe") == make_error_code(RedisError::refused));
    BOOST_TEST(!state.wants("forbidden"));
    BOOST_TEST(!state.head_deadline().has_value());
}

BOOST_AUTO_TEST_CASE(requests_while_down_fail_at_once) {
    SubscriptionState state({seconds(2), 512});
    Waiters waiters;
    state.ping(waiters.make("ping"), start);
    BOOST_TEST(waiters.done.at("ping") == make_error_code(RedisError::not_connected));
    state.subscribe("a", {}, start);
    state.unsubscribe("a", waiters.make("unsubscribe"), start);
    BOOST_TEST(waiters.succeeded("unsubscribe"));
    BOOST_TEST(!state.has_writes());
}

BOOST_AUTO_TEST_SUITE_END()
