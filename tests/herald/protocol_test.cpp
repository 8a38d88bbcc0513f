#include "herald/protocol.hpp"

#include <limits>

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

using namespace herald;
namespace json = boost::json;

BOOST_AUTO_TEST_SUITE(protocol)

BOOST_AUTO_TEST_CASE(seed_login_gives_the_uid_and_the_seed_protocol) {
    auto login = parse_login(R"({"uid":"123"})");
    BOOST_REQUIRE(login.has_value());
    BOOST_TEST(login->uid == "123");
    BOOST_TEST((login->protocol == Protocol::seed));
}

BOOST_AUTO_TEST_CASE(login_with_v1_opts_into_the_json_protocol) {
    auto login = parse_login(R"({"uid":"u-1","v":1,"unknown":true})");
    BOOST_REQUIRE(login.has_value());
    BOOST_TEST(login->uid == "u-1");
    BOOST_TEST((login->protocol == Protocol::json));
}

BOOST_AUTO_TEST_CASE(bad_logins_are_refused_with_a_reason) {
    struct Case {
        std::string frame;
        std::string_view reason;
    };
    const Case cases[] = {
        {"", "login is not valid JSON"},
        {"{\"uid\":", "login is not valid JSON"},
        {"not json", "login is not valid JSON"},
        {"[\"123\"]", "login must be a JSON object"},
        {"\"123\"", "login must be a JSON object"},
        {"{}", "uid is missing"},
        {R"({"user":"123"})", "uid is missing"},
        {R"({"uid":123})", "uid must be a string"},
        {R"({"uid":null})", "uid must be a string"},
        {R"({"uid":""})", "uid is empty"},
        {"{\"uid\":\"" + std::string(129, 'a') + "\"}", "uid is longer than 128 bytes"},
        {R"({"uid":"a\nb"})", "uid has control characters"},
        {R"({"uid":"a\u0000b"})", "uid has control characters"},
        {R"({"uid":"a\u0085b"})", "uid has control characters"},  // C1: NEL
        {R"({"uid":"a","v":2})", "unsupported protocol version"},
        {R"({"uid":"a","v":"1"})", "unsupported protocol version"},
    };
    for (const auto& each : cases) {
        auto login = parse_login(each.frame);
        BOOST_TEST_CONTEXT("frame " << each.frame) {
            BOOST_REQUIRE(login.has_error());
            BOOST_TEST(login.error()->reason == each.reason);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_login_may_carry_a_token_instead_of_a_uid) {
    auto login = parse_login(R"({"token":"a.b.c","v":1})");
    BOOST_REQUIRE(login.has_value());
    BOOST_TEST(login->token == "a.b.c");
    BOOST_TEST(login->uid.empty());
    BOOST_TEST((login->protocol == Protocol::json));
    BOOST_TEST(parse_login(R"({"token":""})").error()->reason ==
               "token must be a non-empty string");
    BOOST_TEST(parse_login(R"({"token":7})").error()->reason == "token must be a non-empty string");
    BOOST_TEST(parse_login("{\"token\":\"" + std::string(8193, 'x') + "\"}").error()->reason ==
               "token must be a non-empty string");
}

BOOST_AUTO_TEST_CASE(commands_after_the_login_are_parsed_or_ignored) {
    auto refresh = parse_command(R"({"type":"refresh","token":"x.y.z"})");
    BOOST_REQUIRE(refresh.has_value());
    BOOST_TEST((refresh->kind == Command::Kind::refresh));
    BOOST_TEST(refresh->token == "x.y.z");
    auto other = parse_command(R"({"type":"typing"})");
    BOOST_REQUIRE(other.has_value());
    BOOST_TEST((other->kind == Command::Kind::unknown));
    BOOST_TEST(parse_command("nope").has_error());
    BOOST_TEST(parse_command(R"({"token":"x"})").has_error());
    BOOST_TEST(parse_command(R"({"type":"refresh"})").has_error());
}

BOOST_AUTO_TEST_CASE(an_ack_carries_a_whole_seq) {
    auto ack = parse_command(R"({"type":"ack","seq":17})");
    BOOST_REQUIRE(ack.has_value());
    BOOST_TEST((ack->kind == Command::Kind::ack));
    BOOST_TEST(ack->seq == 17u);
    BOOST_TEST(parse_command(R"({"type":"ack"})").has_error());
    BOOST_TEST(parse_command(R"({"type":"ack","seq":"17"})").has_error());
    BOOST_TEST(parse_command(R"({"type":"ack","seq":-1})").has_error());
    BOOST_TEST(parse_command(R"({"type":"ack","seq":1.5})").has_error());
}

BOOST_AUTO_TEST_CASE(uid_limits_are_inclusive) {
    BOOST_TEST(!uid_error(std::string(128, 'x')).has_value());
    BOOST_TEST(uid_error(std::string(129, 'x')).has_value());
    BOOST_TEST(!uid_error("用户-42").has_value());  // any UTF-8 text without control characters
    BOOST_TEST(uid_error("\xff\xfe").has_value());
    BOOST_TEST(uid_error("tab\there").has_value());
    // C1 controls (U+0080 to U+009F) as well as ASCII ones; the letters around them are fine.
    for (const char* c1 : {"a\xc2\x80",
                           "\xc2\x85"
                           "b",
                           "a\xc2\x9f"
                           "b"})
        BOOST_TEST(uid_error(c1).value_or("") == "uid has control characters");
    BOOST_TEST(!uid_error("\xc2\xa0nbsp").has_value());  // U+00A0 is no control
    BOOST_TEST(!uid_error("caf\xc3\xa9").has_value());
}

BOOST_AUTO_TEST_CASE(send_query_decodes_percent_and_plus) {
    auto request = parse_send_query("/send?uid=123&message=Hello%20World+again%21");
    BOOST_REQUIRE(request.has_value());
    BOOST_TEST(request->uids == std::vector<std::string>{"123"}, boost::test_tools::per_element());
    BOOST_TEST(request->message.as_string() == "Hello World again!");
}

BOOST_AUTO_TEST_CASE(send_query_takes_the_first_of_each_name_and_decodes_keys) {
    auto request = parse_send_query("/send?x=1&m%65ssage=first&u%69d=a&uid=b&message=second");
    BOOST_REQUIRE(request.has_value());
    BOOST_TEST(request->uids == std::vector<std::string>{"a"}, boost::test_tools::per_element());
    BOOST_TEST(request->message.as_string() == "first");
}

BOOST_AUTO_TEST_CASE(send_query_reads_only_the_target_it_is_given) {
    // The target is a view into the request head, which goes on after it.
    std::string head = "/send?uid=1&message=hi%21 HTTP/1.1\r\nHost: x&message=no\r\n";
    auto request = parse_send_query(std::string_view(head).substr(0, head.find(' ')));
    BOOST_REQUIRE(request.has_value());
    BOOST_TEST(request->message.as_string() == "hi!");
}

BOOST_AUTO_TEST_CASE(send_query_refuses_missing_or_bad_fields) {
    BOOST_TEST(parse_send_query("/send?message=hi").error() == "uid is missing");
    BOOST_TEST(parse_send_query("/send?uid=1").error() == "message is missing");
    BOOST_TEST(parse_send_query("/send?uid&message=x").error() == "uid is missing");
    BOOST_TEST(parse_send_query("/send?uid=&message=x").error() == "uid is empty");
    BOOST_TEST(parse_send_query("/send?uid=1&message=%FF").error() == "message is not valid UTF-8");
    BOOST_TEST(parse_send_query("/send?uid=a%0Ab&message=x").error() ==
               "uid has control characters");
    BOOST_TEST(parse_send_query("/send?uid=a%C2%85b&message=x").error() ==
               "uid has control characters");
    BOOST_TEST(parse_send_body(R"({"uid":"a\u0090","message":"x"})").error() ==
               "uid has control characters");
    BOOST_TEST(parse_send_query("/send?uid=1&message=%zz").has_error());
}

BOOST_AUTO_TEST_CASE(send_query_allows_an_empty_message) {
    auto request = parse_send_query("/send?uid=1&message=");
    BOOST_REQUIRE(request.has_value());
    BOOST_TEST(request->message.as_string() == "");
}

BOOST_AUTO_TEST_CASE(an_upgrade_asks_for_the_json_protocol_with_exactly_v_1) {
    BOOST_TEST((upgrade_protocol("/ws?v=1") == Protocol::json));
    BOOST_TEST((upgrade_protocol("/ws?a=b&v=1") == Protocol::json));
    BOOST_TEST((upgrade_protocol("/ws") == Protocol::seed));
    BOOST_TEST((upgrade_protocol("/ws?v=10") == Protocol::seed));
    BOOST_TEST((upgrade_protocol("/ws?nav=1") == Protocol::seed));
    BOOST_TEST((upgrade_protocol("/ws?v") == Protocol::seed));
    BOOST_TEST((upgrade_protocol("/ws?v=2&v=1") == Protocol::seed));  // the first v counts
}

BOOST_AUTO_TEST_CASE(send_body_takes_one_uid_or_a_list) {
    auto one = parse_send_body(R"({"uid":"a","message":"hi"})");
    BOOST_REQUIRE(one.has_value());
    BOOST_TEST(one->uids.size() == 1u);
    BOOST_TEST(one->message.as_string() == "hi");

    auto many = parse_send_body(R"({"uids":["a","b","a","c","b"],"message":{"progress":50}})");
    BOOST_REQUIRE(many.has_value());
    BOOST_TEST(many->uids == (std::vector<std::string>{"a", "b", "c"}),
               boost::test_tools::per_element());
    BOOST_TEST(many->message.at("progress").as_int64() == 50);
}

BOOST_AUTO_TEST_CASE(send_body_refuses_what_it_cannot_deliver) {
    struct Case {
        std::string_view body;
        std::string_view error;
    };
    const Case cases[] = {
        {"", "body is not valid JSON"},
        {"{", "body is not valid JSON"},
        {"[1]", "body must be a JSON object"},
        {R"({"message":"x"})", "uid is missing"},
        {R"({"uid":"a"})", "message is missing"},
        {R"({"uid":1,"message":"x"})", "uid must be a string"},
        {R"({"uid":"a","uids":["b"],"message":"x"})", "give uid or uids, not both"},
        {R"({"uids":"a","message":"x"})", "uids must be an array of strings"},
        {R"({"uids":["a",2],"message":"x"})", "uids must be an array of strings"},
        {R"({"uids":[],"message":"x"})", "uids is empty"},
        {R"({"uids":[""],"message":"x"})", "uid is empty"},
    };
    for (const auto& each : cases) {
        BOOST_TEST_CONTEXT("body " << each.body) {
            auto request = parse_send_body(each.body);
            BOOST_REQUIRE(request.has_error());
            BOOST_TEST(request.error() == each.error);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_string_message_is_delivered_as_is_and_anything_else_as_json) {
    auto text = make_message(json::string("Hello World"));
    BOOST_TEST(text->text == "Hello World");
    BOOST_TEST(text->data_json == R"("Hello World")");
    auto object = make_message(json::parse(R"({"job":7,"progress":0.5})"));
    BOOST_TEST(json::parse(object->text) == json::parse(R"({"job":7,"progress":0.5})"));
    BOOST_TEST(object->data_json == object->text);
}

BOOST_AUTO_TEST_CASE(a_delivery_wraps_the_shared_body_in_its_users_envelope) {
    auto body = make_message(json::parse(R"({"progress":30})"));
    auto delivery = make_delivery(body, 17, 1'732'540'000'123);
    std::string envelope;
    for (std::string_view part : delivery->json_parts())
        envelope += part;
    BOOST_TEST(
        json::parse(envelope) ==
        json::parse(R"({"type":"message","seq":17,"time":1732540000123,"data":{"progress":30}})"));
    BOOST_TEST(delivery->size(Protocol::json) == envelope.size());
    BOOST_TEST(delivery->size(Protocol::seed) == body->text.size());
    BOOST_TEST(delivery->body.get() == body.get());  // shared, not copied
}

BOOST_AUTO_TEST_CASE(the_envelope_holds_the_widest_seq_and_time) {
    auto body = make_message(json::parse("1"));
    auto delivery = make_delivery(body, std::numeric_limits<std::uint64_t>::max(),
                                  std::numeric_limits<std::int64_t>::min());
    std::string envelope;
    for (std::string_view part : delivery->json_parts())
        envelope += part;
    json::value parsed = json::parse(envelope);
    BOOST_TEST(parsed.at("seq").as_uint64() == std::numeric_limits<std::uint64_t>::max());
    BOOST_TEST(parsed.at("time").as_int64() == std::numeric_limits<std::int64_t>::min());
}

BOOST_AUTO_TEST_CASE(a_keyed_message_says_its_key_in_the_envelope) {
    auto body = make_message(json::parse(R"({"progress":30})"), "job \"7\"");
    auto delivery = make_delivery(body, 3, 1'732'540'000'123);
    std::string envelope;
    for (std::string_view part : delivery->json_parts())
        envelope += part;
    BOOST_TEST(json::parse(envelope) == json::parse(R"({"type":"message","seq":3,)"
                                                    R"("time":1732540000123,"key":"job \"7\"",)"
                                                    R"("data":{"progress":30}})"));
    BOOST_TEST(delivery->size(Protocol::json) == envelope.size());
    BOOST_TEST(body->key == "job \"7\"");
}

BOOST_AUTO_TEST_CASE(welcome_names_the_uid_and_the_stream_position) {
    BOOST_TEST(
        json::parse(welcome_frame("u\"1", {"e1", 5, std::nullopt}, 25000)) ==
        json::parse(
            R"({"type":"welcome","uid":"u\"1","epoch":"e1","seq":5,"ping_interval_ms":25000})"));
    BOOST_TEST(json::parse(welcome_frame("u", {"e1", 5, false}, 100)) ==
               json::parse(R"({"type":"welcome","uid":"u","epoch":"e1","seq":5,)"
                           R"("recovered":false,"ping_interval_ms":100})"));
}

BOOST_AUTO_TEST_CASE(a_json_login_may_ask_to_resume) {
    auto resume = parse_login(R"({"uid":"u","v":1,"since":{"epoch":"e1","seq":42}})");
    BOOST_REQUIRE(resume.has_value());
    BOOST_REQUIRE(resume->since.has_value());
    BOOST_TEST(*resume->since->epoch == "e1");
    BOOST_TEST(resume->since->seq == 42u);
    auto everything = parse_login(R"({"uid":"u","v":1,"since":{"seq":0}})");
    BOOST_REQUIRE(everything.has_value());
    BOOST_TEST(!everything->since->epoch.has_value());
    BOOST_TEST(parse_login(R"({"uid":"u","since":{"seq":0}})").error()->reason ==
               "since needs the JSON protocol (\"v\":1)");
    BOOST_TEST(parse_login(R"({"uid":"u","v":1,"since":{"seq":-1}})").error()->reason ==
               "since needs a seq");
    BOOST_TEST(parse_login(R"({"uid":"u","v":1,"since":{}})").error()->reason ==
               "since needs a seq");
    BOOST_TEST(parse_login(R"({"uid":"u","v":1,"since":{"seq":1,"epoch":7}})").error()->reason ==
               "since epoch must be a string");
}

BOOST_AUTO_TEST_SUITE_END()
