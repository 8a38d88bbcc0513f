#include "herald/config.hpp"

#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <map>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

using namespace herald;
using namespace std::chrono_literals;

namespace {
// Parses flags with a given environment (none by default), never the test process's own.
boost::system::result<CommandLine, std::string> parse(std::vector<const char*> args,
                                                      const Environment& environment = {}) {
    args.insert(args.begin(), "herald");
    return parse_command_line(static_cast<int>(args.size()), args.data(), environment);
}

// A --config file in the temporary directory, removed with this object.
class ConfigFile {
  public:
    explicit ConfigFile(std::string_view text) {
        char name[] = "/tmp/herald-config-test-XXXXXX";
        int fd = mkstemp(name);
        BOOST_REQUIRE(fd >= 0);
        close(fd);
        path_ = name;
        std::ofstream(path_) << text;
    }
    ~ConfigFile() { std::remove(path_.c_str()); }
    const char* path() const { return path_.c_str(); }

  private:
    std::string path_;
};

bool mentions(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
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
    BOOST_TEST(
        mentions(parse({"--address", "example.com"}).error(), "--address: not an IP address"));
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

BOOST_AUTO_TEST_CASE(drain_delay_is_none_by_default_and_may_be_zero_but_not_negative) {
    BOOST_TEST((parse({})->config.drain_delay == 0ms));
    BOOST_TEST((parse({"--drain-delay", "15s"})->config.drain_delay == 15s));
    BOOST_TEST((parse({"--drain-delay", "0"})->config.drain_delay == 0ms));
    BOOST_TEST(parse({"--drain-delay", "-1s"}).has_error());
    // A timeout still may not be 0.
    BOOST_TEST(parse({"--shutdown-timeout", "0"}).has_error());
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

BOOST_AUTO_TEST_CASE(every_flag_also_comes_from_its_environment_variable) {
    auto parsed = parse({}, {{"HERALD_MAX_CONNECTIONS_PER_IP", "7"},
                             {"HERALD_HISTORY_TTL", "10m"},
                             {"HERALD_LOG_FORMAT", "json"},
                             {"HERALD_ALLOWED_ORIGIN", "https://a.example,https://b.example"},
                             {"HERALD_TOKEN_SECRET", "s,with,commas"},
                             {"PATH", "/usr/bin"}});
    BOOST_REQUIRE_MESSAGE(parsed.has_value(), parsed.error());
    const Config& config = parsed->config;
    BOOST_TEST(config.max_connections_per_ip == 7u);
    BOOST_TEST((config.history_ttl == 10min));
    BOOST_TEST((config.log_format == LogFormat::json));
    BOOST_TEST(config.allowed_origins ==
                   (std::vector<std::string>{"https://a.example", "https://b.example"}),
               boost::test_tools::per_element());
    // Only a repeatable flag's variable is a list: a secret may hold commas.
    BOOST_TEST(config.token_secret == "s,with,commas");
}

BOOST_AUTO_TEST_CASE(every_setting_has_its_variable_named_after_the_flag) {
    // Each key check-config prints, set through HERALD_ + its upper snake case name to a value
    // other than its default, comes back.
    const std::map<std::string, std::string> values{{"address", "127.0.0.1"},
                                                    {"port", "9001"},
                                                    {"threads", "3"},
                                                    {"log-level", "debug"},
                                                    {"log-format", "json"},
                                                    {"log-timestamps", "false"},
                                                    {"login-timeout", "11s"},
                                                    {"max-message-size", "2KiB"},
                                                    {"max-inbound-rate", "21"},
                                                    {"ping-interval", "26s"},
                                                    {"pong-timeout", "12s"},
                                                    {"close-timeout", "6s"},
                                                    {"send-queue", "7"},
                                                    {"send-queue-bytes", "3KiB"},
                                                    {"max-connections", "8"},
                                                    {"max-connections-per-ip", "9"},
                                                    {"history-size", "10"},
                                                    {"history-ttl", "7m"},
                                                    {"history-max-bytes", "5MiB"},
                                                    {"max-body", "4KiB"},
                                                    {"max-header-size", "6KiB"},
                                                    {"http-timeout", "31s"},
                                                    {"shutdown-timeout", "4s"},
                                                    {"drain-delay", "3s"},
                                                    {"token-secret", "s"},
                                                    {"token-audience", "aud"},
                                                    {"token-issuer", "iss"},
                                                    {"token-require-exp", "false"},
                                                    {"api-key", "k1,k2"},
                                                    {"allowed-origin", "https://a.example"},
                                                    {"no-web", "true"},
                                                    {"idempotency-ttl", "2m"},
                                                    {"idempotency-max-keys", "77"},
                                                    {"max-ack-wait", "9s"},
                                                    {"max-ack-waiters", "55"},
                                                    {"max-batch", "12"},
                                                    {"redis", "redis://127.0.0.1:6390/2"},
                                                    {"node-id", "node-a"},
                                                    {"redis-timeout", "3s"},
                                                    {"redis-probe-interval", "7s"},
                                                    {"redis-subscribers", "3"},
                                                    {"redis-max-joins", "64"},
                                                    {"redis-password", "p"}};
    auto described = boost::json::parse(describe_config(Config{})).as_object();
    Environment environment;
    for (const auto& [key, value] : described) {
        // Files are left out: they would be read.
        if (key == "config" || key == "token-public-key" || key == "tls-cert" || key == "tls-key")
            continue;
        BOOST_TEST_CONTEXT(key) {
            BOOST_REQUIRE(values.count(key) == 1u);
            std::string name = "HERALD_";
            for (char c : std::string_view(key))
                name += c == '-' ? '_' : static_cast<char>(std::toupper(c));
            environment.emplace_back(name, values.at(key));
        }
    }
    BOOST_TEST(environment.size() == values.size());
    auto parsed = parse({}, environment);
    BOOST_REQUIRE_MESSAGE(parsed.has_value(), parsed.error());
    auto from_environment = boost::json::parse(describe_config(parsed->config)).as_object();
    for (const auto& [key, text] : values) {
        BOOST_TEST_CONTEXT(key) {
            const auto& value = from_environment.at(key);
            if (value.is_string())
                BOOST_TEST((value.as_string() == text || value.as_string() == "***"));
            else if (value.is_array())
                BOOST_TEST(value.as_array().size() == (key == "api-key" ? 2u : 1u));
            else
                BOOST_TEST(boost::json::serialize(value) == text);
        }
    }
}

BOOST_AUTO_TEST_CASE(flags_win_over_the_environment_which_wins_over_the_file) {
    ConfigFile file(R"({"port": 9000, "history-ttl": "10m", "max-body": 2048, "address": "::1"})");
    auto parsed = parse({"--config", file.path(), "--port", "9100"},
                        {{"HERALD_PORT", "9200"}, {"HERALD_HISTORY_TTL", "20s"}});
    BOOST_REQUIRE_MESSAGE(parsed.has_value(), parsed.error());
    const Config& config = parsed->config;
    BOOST_TEST(config.port == 9100);            // flag over environment and file
    BOOST_TEST((config.history_ttl == 20s));    // environment over file
    BOOST_TEST(config.max_body == 2048u);       // the file over the default
    BOOST_TEST(config.address == "::1");        // the file over the default
    BOOST_TEST((config.login_timeout == 10s));  // the default
    BOOST_TEST(config.config_file == file.path());

    // The file may be named in the environment too.
    auto from_environment = parse({}, {{"HERALD_CONFIG", file.path()}});
    BOOST_REQUIRE_MESSAGE(from_environment.has_value(), from_environment.error());
    BOOST_TEST(from_environment->config.port == 9000);
}

BOOST_AUTO_TEST_CASE(a_list_from_a_higher_source_replaces_the_lower_one) {
    ConfigFile file(R"({"api-key": ["file1", "file2"], "allowed-origin": "https://f.example"})");
    auto only_file = parse({"--config", file.path()});
    BOOST_REQUIRE_MESSAGE(only_file.has_value(), only_file.error());
    BOOST_TEST(only_file->config.api_keys == (std::vector<std::string>{"file1", "file2"}),
               boost::test_tools::per_element());
    // A single value for a repeatable key is a list of one.
    BOOST_TEST(only_file->config.allowed_origins == (std::vector<std::string>{"https://f.example"}),
               boost::test_tools::per_element());

    auto environment = parse({"--config", file.path()}, {{"HERALD_API_KEYS", "env1,env2"}});
    BOOST_REQUIRE(environment.has_value());
    BOOST_TEST(environment->config.api_keys == (std::vector<std::string>{"env1", "env2"}),
               boost::test_tools::per_element());

    // Flags and HERALD_API_KEYS used to add up; now the flags' list is the list.
    auto flags = parse({"--config", file.path(), "--api-key", "flag1", "--api-key", "flag2"},
                       {{"HERALD_API_KEYS", "env1,env2"}, {"HERALD_ALLOWED_ORIGIN", "https://e"}});
    BOOST_REQUIRE(flags.has_value());
    BOOST_TEST(flags->config.api_keys == (std::vector<std::string>{"flag1", "flag2"}),
               boost::test_tools::per_element());
    BOOST_TEST(flags->config.allowed_origins == (std::vector<std::string>{"https://e"}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(booleans_are_true_or_false_in_flags_environment_and_file) {
    BOOST_TEST(parse({})->config.log_timestamps);
    BOOST_TEST(!parse({"--log-timestamps=false"})->config.log_timestamps);
    BOOST_TEST(parse({})->config.token_require_exp);
    BOOST_TEST(!parse({"--token-require-exp=false"})->config.token_require_exp);
    BOOST_TEST(parse({"--log-timestamps"})->config.log_timestamps);
    BOOST_TEST(parse({"--log-timestamps=true"}, {{"HERALD_LOG_TIMESTAMPS", "false"}})
                   ->config.log_timestamps);
    BOOST_TEST(!parse({}, {{"HERALD_LOG_TIMESTAMPS", "false"}})->config.log_timestamps);
    ConfigFile file(R"({"log-timestamps": false})");
    BOOST_TEST(!parse({"--config", file.path()})->config.log_timestamps);
    ConfigFile as_text(R"({"log-timestamps": "false"})");
    BOOST_TEST(!parse({"--config", as_text.path()})->config.log_timestamps);

    BOOST_TEST(mentions(parse({"--log-timestamps=no"}).error(),
                        "--log-timestamps: expected true or false"));
    BOOST_TEST(mentions(parse({}, {{"HERALD_LOG_TIMESTAMPS", "1"}}).error(),
                        "HERALD_LOG_TIMESTAMPS: expected true or false"));
    // `--flag false` would leave "false" behind as an argument: refused with a hint.
    BOOST_TEST(mentions(parse({"--log-timestamps", "false"}).error(), "--flag=false"));
}

BOOST_AUTO_TEST_CASE(unknown_keys_and_variables_are_errors_that_name_them) {
    ConfigFile file(R"({"port": 1, "max-bodies": 5})");
    auto unknown_key = parse({"--config", file.path()});
    BOOST_REQUIRE(unknown_key.has_error());
    BOOST_TEST(mentions(unknown_key.error(), "unknown key 'max-bodies'"));
    BOOST_TEST(mentions(unknown_key.error(), file.path()));

    auto unknown_variable = parse({}, {{"HERALD_MAX_BODIES", "5"}, {"HERALDRY", "x"}});
    BOOST_REQUIRE(unknown_variable.has_error());
    BOOST_TEST(mentions(unknown_variable.error(), "HERALD_MAX_BODIES"));
    BOOST_TEST(!mentions(unknown_variable.error(), "HERALDRY"));
    // A variable's name is exactly the flag's: not another case, not the help.
    BOOST_TEST(parse({}, {{"HERALD_port", "1"}}).has_error());
    BOOST_TEST(parse({}, {{"HERALD_HELP", "true"}}).has_error());
    // --config names the file; a file cannot name another.
    ConfigFile nested(R"({"config": "/etc/other.json"})");
    BOOST_TEST(mentions(parse({"--config", nested.path()}).error(), "unknown key 'config'"));

    // Every problem is reported, one line each.
    auto several = parse({"--port", "x", "--bogus"}, {{"HERALD_THREADS", "many"}});
    BOOST_REQUIRE(several.has_error());
    BOOST_TEST(mentions(several.error(), "--port: expected a number"));
    BOOST_TEST(mentions(several.error(), "unknown flag --bogus"));
    BOOST_TEST(mentions(several.error(), "HERALD_THREADS: expected a number"));
}

BOOST_AUTO_TEST_CASE(the_variables_of_before_keep_working) {
    auto parsed = parse({}, {{"HERALD_API_KEYS", "k1,,k2"},
                             {"HERALD_TOKEN_SECRET", "secret"},
                             {"HERALD_REDIS_PASSWORD", "hunter2"},
                             // set but empty: as if unset
                             {"HERALD_TOKEN_AUDIENCE", ""}});
    BOOST_REQUIRE_MESSAGE(parsed.has_value(), parsed.error());
    BOOST_TEST(parsed->config.api_keys == (std::vector<std::string>{"k1", "k2"}),
               boost::test_tools::per_element());
    BOOST_TEST(parsed->config.token_secret == "secret");
    BOOST_TEST(parsed->config.redis_password == "hunter2");
    BOOST_TEST(parse({}, {{"HERALD_API_KEY", "k"}})->config.api_keys.size() == 1u);
    BOOST_TEST(mentions(parse({}, {{"HERALD_API_KEY", "a"}, {"HERALD_API_KEYS", "b"}}).error(),
                        "are both set"));
    // A password has no flag: it would show in process listings.
    BOOST_TEST(mentions(parse({"--redis-password", "x"}).error(), "unknown flag --redis-password"));
}

BOOST_AUTO_TEST_CASE(config_file_errors_say_what_and_where) {
    BOOST_TEST(mentions(parse({"--config", "/nonexistent/herald.json"}).error(),
                        "--config: cannot read '/nonexistent/herald.json'"));
    BOOST_TEST(mentions(parse({}, {{"HERALD_CONFIG", "/nonexistent/h.json"}}).error(),
                        "HERALD_CONFIG: cannot read"));
    ConfigFile not_json("{port: 1}");
    BOOST_TEST(mentions(parse({"--config", not_json.path()}).error(), "not valid JSON"));
    ConfigFile not_object("[1, 2]");
    BOOST_TEST(mentions(parse({"--config", not_object.path()}).error(), "expected a JSON object"));
    ConfigFile bad_value(R"({"port": 1.5})");
    BOOST_TEST(
        mentions(parse({"--config", bad_value.path()}).error(), ": port: expected a whole number"));
    ConfigFile bad_list(R"({"port": [1, 2]})");
    BOOST_TEST(mentions(parse({"--config", bad_list.path()}).error(),
                        "port: takes one value, not a list"));
    ConfigFile nested_value(R"({"api-key": [{"k": 1}]})");
    BOOST_TEST(
        mentions(parse({"--config", nested_value.path()}).error(), "api-key: expected a string"));
    ConfigFile out_of_range(R"({"max-header-size": "2MiB"})");
    BOOST_TEST(mentions(parse({"--config", out_of_range.path()}).error(),
                        "max-header-size: at most 1MiB"));
    BOOST_TEST(mentions(parse({"--config", "/dev/zero"}).error(), "larger than 1MiB"));
    BOOST_TEST(mentions(parse({"--config"}).error(), "--config needs a value"));
    BOOST_TEST(mentions(parse({"--port", "1", "--port", "2"}).error(), "more than once"));
}

BOOST_AUTO_TEST_CASE(the_described_configuration_hides_secrets_and_reads_back_as_a_file) {
    auto parsed = parse({"--port", "9001", "--history-ttl", "90s", "--max-body", "1536",
                         "--allowed-origin", "https://a.example", "--log-timestamps=false"},
                        {{"HERALD_API_KEYS", "key-one,key-two"},
                         {"HERALD_TOKEN_SECRET", "the-secret"},
                         {"HERALD_REDIS_PASSWORD", "the-password"}});
    BOOST_REQUIRE_MESSAGE(parsed.has_value(), parsed.error());
    std::string described = describe_config(parsed->config);
    for (const char* secret : {"key-one", "key-two", "the-secret", "the-password"})
        BOOST_TEST(!mentions(described, secret), secret);
    auto json = boost::json::parse(described).as_object();
    BOOST_TEST(json.at("token-secret") == "***");
    BOOST_TEST(json.at("redis-password") == "***");
    BOOST_TEST(json.at("api-key") == boost::json::parse(R"(["***","***"])"));
    BOOST_TEST(json.at("port") == 9001);
    BOOST_TEST(json.at("history-ttl") == "90s");
    BOOST_TEST(json.at("max-body") == "1536");
    BOOST_TEST(json.at("log-timestamps") == false);
    BOOST_TEST(json.at("threads").as_int64() >= 1);  // the effective count, not 0

    // Without its secrets, the description is a config file for the same settings.
    json.erase("token-secret");
    json.erase("redis-password");
    json.erase("api-key");
    json.erase("config");
    auto reread = config_from_json(boost::json::serialize(json));
    BOOST_REQUIRE_MESSAGE(reread.has_value(), reread.error());
    auto described_again = boost::json::parse(describe_config(*reread)).as_object();
    for (const auto& [key, value] : json)
        BOOST_TEST(described_again.at(key) == value, key);
}

BOOST_AUTO_TEST_CASE(help_shows_each_default_from_the_config_struct) {
    std::string text = usage();
    Config defaults;
    BOOST_TEST(defaults.ping_interval.count() == 25'000);
    BOOST_TEST(mentions(text, "(default: 25s)"));
    BOOST_TEST(mentions(text, "(default: 64KiB)"));
    BOOST_TEST(mentions(text, "(default: 8181)"));
    BOOST_TEST(mentions(text, "--log-format FORMAT"));
    BOOST_TEST(mentions(text, "--config FILE"));
    BOOST_TEST(mentions(text, "HERALD_REDIS_PASSWORD"));
}

BOOST_AUTO_TEST_SUITE_END()
