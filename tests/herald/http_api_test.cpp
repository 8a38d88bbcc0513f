#include "herald/http_api.hpp"

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/test/unit_test.hpp>

using namespace herald;

namespace {

// Reads a rendered answer back with Beast's parser: what a real client would make of it.
http::response<http::string_body> parse_rendered(const Response& response) {
    std::string text = "what an earlier answer left";
    response.render(text);
    http::response_parser<http::string_body> parser;
    parser.eager(true);
    boost::beast::error_code error;
    std::size_t used = parser.put(boost::asio::buffer(text), error);
    BOOST_REQUIRE_MESSAGE(!error, error.message());
    BOOST_REQUIRE(parser.is_done());
    BOOST_TEST(used == text.size());  // nothing after the body
    return parser.release();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(http_api)

BOOST_AUTO_TEST_CASE(an_answer_renders_as_one_valid_http_message) {
    Response response(http::status::ok, R"({"delivered":1,"seq":7})", 11);
    auto parsed = parse_rendered(response);
    BOOST_TEST(parsed.result_int() == 200);
    BOOST_TEST(parsed.version() == 11u);
    BOOST_TEST(parsed.reason() == "OK");
    BOOST_TEST(parsed[http::field::content_type] == "application/json");
    BOOST_TEST(parsed[http::field::server] == "herald");
    BOOST_TEST(parsed[http::field::cache_control] == "no-store");
    BOOST_TEST(parsed.body() == R"({"delivered":1,"seq":7})");
    BOOST_TEST(parsed.keep_alive());
}

BOOST_AUTO_TEST_CASE(an_answer_that_ends_the_connection_says_so) {
    Response response = error_response(http::status::payload_too_large, "too large", 11);
    response.keep_alive(false);
    auto parsed = parse_rendered(response);
    BOOST_TEST(parsed.result_int() == 413);
    BOOST_TEST(!parsed.keep_alive());
    BOOST_TEST(parsed.body() == R"({"error":"too large"})");
}

BOOST_AUTO_TEST_CASE(http_1_0_keeps_the_connection_only_when_asked) {
    Response closing(http::status::ok, "{}", 10);
    closing.keep_alive(false);
    auto parsed = parse_rendered(closing);
    BOOST_TEST(parsed.version() == 10u);
    BOOST_TEST(!parsed.keep_alive());
    BOOST_TEST(parsed.count(http::field::connection) == 0u);

    Response kept(http::status::ok, "{}", 10);
    kept.keep_alive(true);
    BOOST_TEST(parse_rendered(kept).keep_alive());
}

BOOST_AUTO_TEST_CASE(extra_headers_come_with_the_answer) {
    Response response = error_response(http::status::method_not_allowed, "method", 11);
    response.set(http::field::allow, "GET, POST");
    response.set(http::field::www_authenticate, "Bearer");
    auto parsed = parse_rendered(response);
    BOOST_TEST(parsed[http::field::allow] == "GET, POST");
    BOOST_TEST(parsed[http::field::www_authenticate] == "Bearer");
    BOOST_TEST(parsed[http::field::content_length] == "18");  // {"error":"method"}
}

BOOST_AUTO_TEST_CASE(a_static_body_follows_the_head_uncopied) {
    static constexpr std::string_view page = "<!doctype html><title>x</title>";
    Response response = Response::static_content(http::status::ok, "text/html; charset=utf-8",
                                                 "no-cache", page, 11);
    response.set("X-Content-Type-Options", "nosniff");
    BOOST_TEST(response.static_body().data() == page.data());  // the bytes themselves
    std::string head;
    response.render(head);
    BOOST_TEST(head.find(page) == std::string::npos);
    http::response_parser<http::string_body> parser;
    parser.eager(true);
    boost::beast::error_code error;
    std::string wire = head + std::string(page);
    parser.put(boost::asio::buffer(wire), error);
    BOOST_REQUIRE(!error);
    BOOST_REQUIRE(parser.is_done());
    auto parsed = parser.release();
    BOOST_TEST(parsed[http::field::content_type] == "text/html; charset=utf-8");
    BOOST_TEST(parsed[http::field::cache_control] == "no-cache");
    BOOST_TEST(parsed["X-Content-Type-Options"] == "nosniff");
    BOOST_TEST(parsed.body() == page);
}

BOOST_AUTO_TEST_SUITE_END()
