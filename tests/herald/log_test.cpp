#include "herald/log.hpp"

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

using namespace herald;

namespace {
// Sets a log format for one test and puts text back after it.
struct FormatForTest {
    explicit FormatForTest(LogFormat format, bool timestamps = true) {
        set_log_format(format, timestamps);
    }
    ~FormatForTest() { set_log_format(LogFormat::text); }
};
}  // namespace

BOOST_AUTO_TEST_SUITE(logs)

BOOST_AUTO_TEST_CASE(a_json_line_has_ts_level_event_first_and_numbers_as_numbers) {
    FormatForTest json(LogFormat::json);
    tcp::endpoint remote(asio::ip::make_address("::1"), 50312);
    std::string line =
        format_log_line(LogLevel::warn, "slow_consumer",
                        {{"conn", 17}, {"uid", "u\"1\\"}, {"remote", remote}, {"delta", -3}});
    BOOST_TEST(line.back() == '\n');
    BOOST_TEST(line.find('\n') == line.size() - 1);  // one line
    BOOST_TEST(line.starts_with(R"({"ts":")"));
    auto object = boost::json::parse(line).as_object();
    BOOST_TEST(object.at("level") == "warn");
    BOOST_TEST(object.at("event") == "slow_consumer");
    BOOST_TEST(object.at("conn") == 17);
    BOOST_TEST(object.at("delta") == -3);
    BOOST_TEST(object.at("uid") == "u\"1\\");
    BOOST_TEST(object.at("remote") == "[::1]:50312");
    std::string ts(object.at("ts").as_string());
    BOOST_TEST(ts.size() == 24u);  // 2026-11-25T10:54:15.811Z
    BOOST_TEST(ts.back() == 'Z');
}

BOOST_AUTO_TEST_CASE(client_text_cannot_break_a_json_line) {
    FormatForTest json(LogFormat::json);
    // A newline, a control character, and bytes that are not UTF-8 (a lone continuation byte,
    // an overlong slash, a surrogate), beside valid UTF-8.
    std::string nasty =
        "a\nb\x01"
        "c\x80"
        "d\xc0\xaf"
        "e\xed\xa0\x80"
        "f\xe2\x9c\x93";
    std::string line = format_log_line(LogLevel::info, "login", {{"uid", nasty}});
    BOOST_TEST(line.find('\n') == line.size() - 1);
    auto object = boost::json::parse(line).as_object();
    BOOST_TEST(object.at("uid") ==
               "a\nb\x01"
               "c\xef\xbf\xbd"
               "d\xef\xbf\xbd\xef\xbf\xbd"
               "e\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
               "f\xe2\x9c\x93");
}

BOOST_AUTO_TEST_CASE(text_lines_may_leave_their_time_to_journald) {
    {
        FormatForTest text(LogFormat::text, false);
        BOOST_TEST(format_log_line(LogLevel::info, "signal", {{"signal", "SIGTERM"}}) ==
                   "info signal signal=SIGTERM\n");
    }
    std::string stamped = format_log_line(LogLevel::info, "signal", {{"signal", "SIGTERM"}});
    BOOST_TEST(stamped.ends_with("Z info signal signal=SIGTERM\n"));
}

BOOST_AUTO_TEST_CASE(formats_and_levels_read_their_names) {
    BOOST_TEST((parse_log_format("json") == LogFormat::json));
    BOOST_TEST((parse_log_format("text") == LogFormat::text));
    BOOST_TEST(!parse_log_format("JSON").has_value());
    BOOST_TEST(log_format_name(LogFormat::json) == "json");
    BOOST_TEST(log_level_name(LogLevel::warn) == "warn");
}

BOOST_AUTO_TEST_SUITE_END()
