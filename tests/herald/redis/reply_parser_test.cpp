#include "herald/redis/reply_parser.hpp"

#include <boost/test/unit_test.hpp>

#include "herald/redis/error.hpp"

using namespace herald::redis;

namespace {

// Every reply that `bytes` holds, fed in one piece; fails the test on a parse error.
std::vector<Reply> parse_all(std::string_view bytes) {
    ReplyParser parser;
    parser.feed(bytes);
    std::vector<Reply> replies;
    for (;;) {
        auto next = parser.next();
        BOOST_REQUIRE_MESSAGE(next.has_value(), parser.error_text());
        if (!*next) return replies;
        replies.push_back(std::move(**next));
    }
}

Reply parse_one(std::string_view bytes) {
    auto replies = parse_all(bytes);
    BOOST_REQUIRE_EQUAL(replies.size(), 1u);
    return replies.front();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(redis_reply_parser)

BOOST_AUTO_TEST_CASE(each_resp2_type_becomes_its_reply) {
    BOOST_TEST(parse_one("+OK\r\n") == Reply::status("OK"));
    BOOST_TEST(parse_one("-ERR wrong\r\n") == Reply::error("ERR wrong"));
    BOOST_TEST(parse_one(":-42\r\n") == Reply::number(-42));
    BOOST_TEST(parse_one(":9223372036854775807\r\n") == Reply::number(INT64_MAX));
    BOOST_TEST(parse_one("$5\r\nhello\r\n") == Reply::string("hello"));
    BOOST_TEST(parse_one("$0\r\n\r\n") == Reply::string(""));
    BOOST_TEST(parse_one("$-1\r\n") == Reply::nil());
    BOOST_TEST(parse_one("*-1\r\n") == Reply::nil());
    BOOST_TEST(parse_one("*0\r\n") == Reply::array({}));
}

BOOST_AUTO_TEST_CASE(bulk_strings_are_binary_safe) {
    using namespace std::string_literals;
    BOOST_TEST(parse_one("$7\r\na\r\nb\0c\xff\r\n"s) == Reply::string("a\r\nb\0c\xff"s));
}

BOOST_AUTO_TEST_CASE(nested_arrays_keep_their_shape_and_order) {
    auto reply = parse_one("*4\r\n:1\r\n*2\r\n$1\r\na\r\n*1\r\n$-1\r\n*0\r\n-ERR in array\r\n");
    auto expected = Reply::array({Reply::number(1),
                                  Reply::array({Reply::string("a"), Reply::array({Reply::nil()})}),
                                  Reply::array({}), Reply::error("ERR in array")});
    BOOST_TEST(reply == expected);
}

BOOST_AUTO_TEST_CASE(a_reply_split_anywhere_comes_out_whole_once_its_last_byte_arrives) {
    const std::string bytes = "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n:7\r\n";
    ReplyParser parser;
    std::vector<Reply> replies;
    for (char byte : bytes) {
        parser.feed(std::string_view(&byte, 1));
        auto next = parser.next();
        BOOST_REQUIRE(next.has_value());
        if (*next) replies.push_back(std::move(**next));
    }
    BOOST_REQUIRE_EQUAL(replies.size(), 2u);
    BOOST_TEST(replies[0] == Reply::array({Reply::string("message"), Reply::string("ch"),
                                           Reply::string("hello")}));
    BOOST_TEST(replies[1] == Reply::number(7));
}

BOOST_AUTO_TEST_CASE(many_replies_in_one_read_come_out_in_order) {
    auto replies = parse_all("+OK\r\n:1\r\n$1\r\nx\r\n-ERR no\r\n");
    BOOST_REQUIRE_EQUAL(replies.size(), 4u);
    BOOST_TEST(replies[0] == Reply::status("OK"));
    BOOST_TEST(replies[3] == Reply::error("ERR no"));
}

BOOST_AUTO_TEST_CASE(a_byte_that_is_not_resp2_fails_for_good) {
    ReplyParser parser;
    parser.feed("+OK\r\n%2\r\n");
    auto first = parser.next();
    BOOST_REQUIRE(first.has_value());
    BOOST_TEST(**first == Reply::status("OK"));
    auto second = parser.next();
    BOOST_REQUIRE(second.has_error());
    BOOST_TEST(second.error() == make_error_code(RedisError::protocol_error));
    BOOST_TEST(parser.error_text().find("Protocol error") != std::string_view::npos);
    // Sticky: more good bytes do not bring the reader back.
    parser.feed("+OK\r\n");
    BOOST_TEST(parser.next().has_error());
}

BOOST_AUTO_TEST_CASE(bad_lengths_and_numbers_are_protocol_errors) {
    for (std::string_view bytes : {":12a\r\n", "$-2\r\n", "*-5\r\n", "$x\r\n", "*99999999999\r\n",
                                   ":99999999999999999999\r\n"}) {
        ReplyParser parser;
        parser.feed(bytes);
        BOOST_TEST(parser.next().has_error(), "bytes " << bytes);
    }
}

BOOST_AUTO_TEST_CASE(arrays_nested_deeper_than_hiredis_allows_are_a_protocol_error) {
    ReplyParser parser;
    std::string bytes;
    for (int depth = 0; depth < 9; ++depth)
        bytes += "*1\r\n";
    bytes += ":1\r\n";
    parser.feed(bytes);
    BOOST_TEST(parser.next().has_error());
}

BOOST_AUTO_TEST_CASE(a_huge_announced_array_costs_nothing_until_its_elements_come) {
    // hiredis's own builder would allocate 16 GiB here; Herald's waits for the elements.
    ReplyParser parser;
    parser.feed("*2147483647\r\n:1\r\n:2\r\n");
    auto next = parser.next();
    BOOST_REQUIRE(next.has_value());
    BOOST_TEST(!next->has_value());
}

BOOST_AUTO_TEST_CASE(a_reply_growing_past_the_limit_is_a_protocol_error) {
    ReplyParser parser(64);
    parser.feed("$100\r\n");
    BOOST_TEST(parser.next().has_value());
    parser.feed(std::string(80, 'x'));
    BOOST_TEST(parser.next().has_error());
    BOOST_TEST(parser.error_text() == "Reply larger than the limit");
}

BOOST_AUTO_TEST_CASE(an_error_replys_code_is_its_first_word) {
    BOOST_TEST(Reply::error("NOSCRIPT No matching script.").error_code() == "NOSCRIPT");
    BOOST_TEST(Reply::error("ERR").error_code() == "ERR");
    BOOST_TEST(Reply::string("NOSCRIPT x").error_code().empty());
}

BOOST_AUTO_TEST_SUITE_END()
