#include "herald/cluster/live_message.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/test/unit_test.hpp>

#include "herald/cluster/keys.hpp"

using namespace herald;
using namespace herald::cluster;

namespace {

LiveMessage message_of(std::string uid, std::string_view json) {
    return {std::move(uid), "0123456789abcdef", 17, 1'700'000'000'123,
            make_message(boost::json::parse(json))};
}

// The payload's text, built by hand as the publish script writes it.
std::string payload(std::string_view epoch, std::string_view seq, std::string_view time,
                    std::string_view kind, std::string_view data, std::string_view key = {}) {
    std::string text = "herald2\n";
    text.append(epoch).append("\n").append(seq).append("\n").append(time).append("\n");
    text.append(kind).append("\n").append(key).append("\n").append(data);
    return text;
}

const std::string channel = channel_of("u1");

}  // namespace

BOOST_AUTO_TEST_SUITE(cluster_live_message)

BOOST_AUTO_TEST_CASE(a_string_message_round_trips_with_its_text_decoded) {
    LiveMessage sent = message_of("u1", R"("Hello \"World\" é\n")");
    std::string encoded = encode_live_message(sent);
    BOOST_TEST(encoded ==
               payload("0123456789abcdef", "17", "1700000000123", "s", R"("Hello \"World\" é\n")"));
    auto received = decode_live_message(channel_of("u1"), encoded);
    BOOST_REQUIRE_MESSAGE(received.has_value(), received.error());
    BOOST_TEST(received->uid == "u1");
    BOOST_TEST(received->epoch == sent.epoch);
    BOOST_TEST(received->seq == 17u);
    BOOST_TEST(received->time_ms == 1'700'000'000'123);
    BOOST_TEST(received->body->text == "Hello \"World\" é\n");
    BOOST_TEST(received->body->data_json == sent.body->data_json);
}

BOOST_AUTO_TEST_CASE(a_json_message_round_trips_with_its_json_as_text) {
    for (std::string_view json : {R"({"a":[1,2,{"b":null}],"c":"\n"})", "42", "true", "null", "[]",
                                  R"([" not a string "])"}) {
        LiveMessage sent = message_of("a}:b:é", json);
        auto received = decode_live_message(channel_of("a}:b:é"), encode_live_message(sent));
        BOOST_REQUIRE_MESSAGE(received.has_value(), received.error());
        BOOST_TEST(received->uid == "a}:b:é");
        BOOST_TEST(received->body->data_json == sent.body->data_json);
        BOOST_TEST(received->body->text == sent.body->text);
        BOOST_TEST(received->body->text == received->body->data_json);
    }
}

BOOST_AUTO_TEST_CASE(a_json_body_with_blanks_around_it_is_kept_as_it_came) {
    auto received = decode_live_message(channel, payload("e", "1", "0", "j", " [1] \n"));
    BOOST_REQUIRE_MESSAGE(received.has_value(), received.error());
    BOOST_TEST(received->body->data_json == " [1] \n");
    BOOST_TEST(received->body->text == " [1] \n");
    BOOST_TEST(body_kind(*received->body) == 'j');
}

BOOST_AUTO_TEST_CASE(a_body_with_newlines_is_read_to_the_end_of_the_payload) {
    auto received = decode_live_message(channel, payload("e", "1", "0", "j", "{\n\"a\":\n1\n}"));
    BOOST_REQUIRE_MESSAGE(received.has_value(), received.error());
    BOOST_TEST(received->body->data_json == "{\n\"a\":\n1\n}");
}

BOOST_AUTO_TEST_CASE(the_largest_seq_and_time_are_read_exactly) {
    auto received = decode_live_message(
        channel, payload("e", "18446744073709551615", "9223372036854775807", "j", "1"));
    BOOST_REQUIRE_MESSAGE(received.has_value(), received.error());
    BOOST_TEST(received->seq == 18446744073709551615u);
    BOOST_TEST(received->time_ms == 9223372036854775807);
}

BOOST_AUTO_TEST_CASE(malformed_payloads_are_refused_with_a_reason_and_never_the_body) {
    const std::string secret = R"("secret body")";
    const std::pair<std::string, std::string> cases[] = {
        {"", "unknown payload version"},
        {"herald2", "unknown payload version"},
        {payload("e", "1", "0", "s", secret).replace(0, 7, "herald1"), "unknown payload version"},
        {"herald2\ne\n1\n0\ns\n", "payload header is cut short"},
        {"herald2\ne\n1\n0", "payload header is cut short"},
        {payload("e", "1", "0", "s", secret, "bad\tkey"), "bad key"},
        {payload("", "1", "0", "s", secret), "bad epoch"},
        {payload("a b", "1", "0", "s", secret), "bad epoch"},
        {payload("e\x7f", "1", "0", "s", secret), "bad epoch"},
        {payload(std::string(65, 'e'), "1", "0", "s", secret), "bad epoch"},
        {payload("e", "0", "0", "s", secret), "bad seq"},
        {payload("e", "", "0", "s", secret), "bad seq"},
        {payload("e", "-1", "0", "s", secret), "bad seq"},
        {payload("e", "+1", "0", "s", secret), "bad seq"},
        {payload("e", "1x", "0", "s", secret), "bad seq"},
        {payload("e", "18446744073709551616", "0", "s", secret), "bad seq"},
        {payload("e", "1", "", "s", secret), "bad time"},
        {payload("e", "1", "-5", "s", secret), "bad time"},
        {payload("e", "1", "9223372036854775808", "s", secret), "bad time"},
        {payload("e", "1", "0", "x", secret), "unknown body kind"},
        {payload("e", "1", "0", "", secret), "unknown body kind"},
        {payload("e", "1", "0", "s", R"("unterminated)"), "body is not valid JSON"},
        {payload("e", "1", "0", "j", ""), "body is not valid JSON"},
        {payload("e", "1", "0", "j", "{} {}"), "body is not valid JSON"},
        {payload("e", "1", "0", "s", "\"\xff\""), "body is not valid JSON"},
        {payload("e", "1", "0", "j", secret), "body kind does not match its JSON"},
        {payload("e", "1", "0", "s", "42"), "body kind does not match its JSON"},
        // A string with a blank before it: body_kind() would call it JSON on the next node.
        {payload("e", "1", "0", "s", R"( "x")"), "body kind does not match its JSON"},
    };
    for (const auto& [text, reason] : cases) {
        auto decoded = decode_live_message(channel, text);
        BOOST_REQUIRE_MESSAGE(!decoded.has_value(), text);
        BOOST_TEST(decoded.error() == reason, text);
        BOOST_TEST(decoded.error().find("secret") == std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(a_keyed_message_round_trips_with_its_key) {
    LiveMessage sent{"u1", "e", 3, 0, make_message(boost::json::parse(R"({"p":50})"), "job 7")};
    auto received = decode_live_message(channel_of("u1"), encode_live_message(sent));
    BOOST_REQUIRE_MESSAGE(received.has_value(), received.error());
    BOOST_TEST(received->body->key == "job 7");
    BOOST_TEST(received->body->data_prefix == sent.body->data_prefix);
}

BOOST_AUTO_TEST_CASE(a_payload_on_a_channel_that_is_no_users_is_refused) {
    auto decoded = decode_live_message("herald:{u:u1}:m", payload("e", "1", "0", "j", "1"));
    BOOST_REQUIRE(!decoded.has_value());
    BOOST_TEST(decoded.error() == "not a user's channel");
}

BOOST_AUTO_TEST_CASE(a_body_is_stored_with_the_kind_make_message_implies) {
    BOOST_TEST(body_kind(*make_message(boost::json::parse(R"("text")"))) == 's');
    BOOST_TEST(body_kind(*make_message(boost::json::parse(R"(["text"])"))) == 'j');
    BOOST_TEST(body_kind(*make_message(boost::json::parse("0"))) == 'j');
    auto body = decode_body("s", R"("a\u00e9")");
    BOOST_REQUIRE(body.has_value());
    BOOST_TEST((*body)->text == "aé");
    BOOST_TEST((*body)->data_json == R"("a\u00e9")");  // as stored, not serialized again
}

BOOST_AUTO_TEST_SUITE_END()
