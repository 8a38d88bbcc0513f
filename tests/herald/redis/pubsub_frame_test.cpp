#include "herald/redis/pubsub_frame.hpp"

#include <boost/test/unit_test.hpp>

using namespace herald::redis;
using Kind = PubSubFrame::Kind;

namespace {

Reply frame(std::vector<Reply> parts) {
    return Reply::array(std::move(parts));
}
Reply text(std::string value) {
    return Reply::string(std::move(value));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(redis_pubsub_frame)

BOOST_AUTO_TEST_CASE(a_message_names_its_channel_and_payload) {
    auto reply = frame({text("message"), text("herald:{u:1}"), text("hello")});
    auto classified = classify_pubsub_frame(reply);
    BOOST_TEST((classified.kind == Kind::message));
    BOOST_TEST(classified.channel == "herald:{u:1}");
    BOOST_TEST(classified.payload == "hello");
}

BOOST_AUTO_TEST_CASE(confirmations_name_their_channel_and_the_count) {
    auto subscribed = frame({text("subscribe"), text("a"), Reply::number(3)});
    auto classified = classify_pubsub_frame(subscribed);
    BOOST_TEST((classified.kind == Kind::subscribe));
    BOOST_TEST(classified.channel == "a");
    BOOST_TEST(classified.count == 3);
    auto unsubscribed = frame({text("unsubscribe"), text("b"), Reply::number(0)});
    classified = classify_pubsub_frame(unsubscribed);
    BOOST_TEST((classified.kind == Kind::unsubscribe));
    BOOST_TEST(classified.channel == "b");
    BOOST_TEST(classified.count == 0);
}

BOOST_AUTO_TEST_CASE(a_pong_comes_as_an_array_while_subscribed_and_as_a_status_otherwise) {
    auto subscribed = frame({text("pong"), text("")});
    BOOST_TEST((classify_pubsub_frame(subscribed).kind == Kind::pong));
    BOOST_TEST((classify_pubsub_frame(Reply::status("PONG")).kind == Kind::pong));
}

BOOST_AUTO_TEST_CASE(an_error_reply_carries_its_text) {
    auto reply = Reply::error("NOPERM this user has no permissions to access one of the channels");
    auto classified = classify_pubsub_frame(reply);
    BOOST_TEST((classified.kind == Kind::error));
    BOOST_TEST(classified.payload.starts_with("NOPERM"));
}

BOOST_AUTO_TEST_CASE(anything_else_is_unexpected) {
    const Reply unexpected[] = {
        Reply::status("OK"),
        Reply::number(1),
        Reply::nil(),
        text("message"),
        frame({}),
        frame({text("message"), text("a")}),                           // too short
        frame({text("message"), text("a"), Reply::number(1)}),         // payload not text
        frame({text("subscribe"), text("a"), text("1")}),              // count not a number
        frame({text("subscribe"), text("a"), Reply::number(-1)}),      // negative count
        frame({text("unsubscribe"), Reply::nil(), Reply::number(0)}),  // no channel
        frame({text("pmessage"), text("p*"), text("pa"), text("x")}),  // never psubscribed
        frame({text("smessage"), text("a"), text("x")}),
        frame({text("MESSAGE"), text("a"), text("x")}),
        frame({Reply::number(1), text("a"), text("x")}),
    };
    for (const auto& reply : unexpected)
        BOOST_TEST((classify_pubsub_frame(reply).kind == Kind::unexpected), "reply " << reply);
}

BOOST_AUTO_TEST_SUITE_END()
