#include "herald/config.hpp"

#include <boost/test/unit_test.hpp>

using namespace herald;
using namespace std::chrono_literals;

namespace {
boost::system::result<CommandLine, std::string> parse(std::vector<const char*> args) {
    args.insert(args.begin(), "herald");
    return parse_command_line(static_cast<int>(args.size()), args.data());
}
}  // namespace

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(defaults_are_those_of_the_readme) {
    auto parsed = parse({});
    BOOST_REQUIRE(parsed.has_value());
    const Config& config = parsed->config;
    BOOST_TEST(config.address == "0.0.0.0");
    BOOST_TEST(config.port == 8181);
    BOOST_TEST(config.threads >= 1u);
    BOOST_TEST((config.login_timeout == 10s));
    BOOST_TEST(config.max_message_size == 64u * 1024);
    BOOST_TEST((config.ping_interval == 25s));
    BOOST_TEST((config.pong_timeout == 10s));
    BOOST_TEST(config.send_queue == 1024u);
    BOOST_TEST(config.send_queue_bytes == 1024u * 1024);
    BOOST_TEST(config.max_body == 1024u * 1024);
    BOOST_TEST((config.shutdown_timeout == 5s));
}

BOOST_AUTO_TEST_CASE(flags_set_every_limit) {
    auto parsed = parse({"--address",
                         "127.0.0.1",
                         "--port",
                         "0",
                         "--threads",
                         "3",
                         "--log-level",
                         "debug",
                         "--login-timeout",
                         "250ms",
                         "--max-message-size",
                         "8KiB",
                         "--ping-interval",
                         "2m",
                         "--pong-timeout",
                         "3",
                         "--send-queue",
                         "16",
                         "--send-queue-bytes",
                         "2M",
                         "--max-body",
                         "100",
                         "--shutdown-timeout",
                         "1s",
                         "--close-timeout",
                         "1500ms",
                         "--http-timeout",
                         "7s",
                         "--max-header-size",
                         "4K",
                         "--history-size",
                         "0"});
    BOOST_REQUIRE(parsed.has_value());
    const Config& config = parsed->config;
    BOOST_TEST(config.address == "127.0.0.1");
    BOOST_TEST(config.port == 0);
    BOOST_TEST(config.threads == 3u);
    BOOST_TEST((config.log_level == LogLevel::debug));
    BOOST_TEST((config.login_timeout == 250ms));
    BOOST_TEST(config.max_message_size == 8192u);
    BOOST_TEST((config.ping_interval == 120s));
    BOOST_TEST((config.pong_timeout == 3s));
    BOOST_TEST(config.send_queue == 16u);
    BOOST_TEST(config.send_queue_bytes == 2u * 1024 * 1024);
    BOOST_TEST(config.max_body == 100u);
    BOOST_TEST((config.shutdown_timeout == 1s));
    BOOST_TEST((config.close_timeout == 1500ms));
    BOOST_TEST((config.http_timeout == 7s));
    BOOST_TEST(config.max_header_size == 4096u);
    BOOST_TEST(config.history_size == 0u);
}

BOOST_AUTO_TEST_CASE(bad_values_name_their_flag) {
    BOOST_TEST(parse({"--port", "70000"}).error().find("--port") != std::string::npos);
    BOOST_TEST(parse({"--port", "80x"}).error().find("--port") != std::string::npos);
    BOOST_TEST(parse({"--login-timeout", "soon"}).error().find("--login-timeout") !=
               std::string::npos);
    BOOST_TEST(parse({"--login-timeout", "0s"}).error().find("must be positive") !=
               std::string::npos);
    BOOST_TEST(parse({"--max-body", "1TB"}).error().find("unknown unit") != std::string::npos);
    BOOST_TEST(parse({"--send-queue", "0"}).error().find("--send-queue") != std::string::npos);
    BOOST_TEST(parse({"--history-size", "some"}).error().find("--history-size") !=
               std::string::npos);
    // Past what the clock and Beast's parser can hold: refused, not wrapped around.
    BOOST_TEST(parse({"--http-timeout", "9999999999"}).error().find("at most 365 days") !=
               std::string::npos);
    BOOST_TEST(parse({"--max-header-size", "4096M"}).error().find("at most 1MiB") !=
               std::string::npos);
    BOOST_TEST(parse({"--log-level", "loud"}).error().find("--log-level") != std::string::npos);
    BOOST_TEST(parse({"--no-such-flag"}).has_error());
}

BOOST_AUTO_TEST_CASE(help_is_recognised_and_lists_every_flag) {
    auto parsed = parse({"--help"});
    BOOST_REQUIRE(parsed.has_value());
    BOOST_TEST(parsed->show_help);
    std::string text = usage();
    for (const char* flag : {"--address", "--port", "--threads", "--log-level", "--login-timeout",
                             "--max-message-size", "--ping-interval", "--pong-timeout",
                             "--close-timeout", "--send-queue", "--send-queue-bytes", "--max-body",
                             "--max-header-size", "--http-timeout", "--shutdown-timeout"})
        BOOST_TEST(text.find(flag) != std::string::npos, flag);
}

BOOST_AUTO_TEST_CASE(web_pages_are_on_unless_no_web) {
    BOOST_TEST(parse({})->config.web);
    BOOST_TEST(!parse({"--no-web"})->config.web);
}

BOOST_AUTO_TEST_CASE(durations_and_sizes_read_their_units) {
    BOOST_TEST((*parse_duration("15") == 15s));
    BOOST_TEST((*parse_duration("15ms") == 15ms));
    BOOST_TEST((*parse_duration("2m") == 120s));
    BOOST_TEST(parse_duration("-1s").has_error());
    BOOST_TEST(parse_duration("1h").has_error());
    BOOST_TEST(*parse_size("64KiB") == 65536u);
    BOOST_TEST(*parse_size("1MB") == 1048576u);
    BOOST_TEST(*parse_size("7") == 7u);
    BOOST_TEST(parse_size("99999999999999999999").has_error());
    BOOST_TEST(parse_size("99999999999999M").has_error());
}

BOOST_AUTO_TEST_SUITE_END()
