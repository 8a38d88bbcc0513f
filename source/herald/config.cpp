#include "herald/config.hpp"

#include <sched.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include <boost/asio/ip/address.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/program_options.hpp>

extern char** environ;

namespace herald {
namespace po = boost::program_options;
namespace json = boost::json;
namespace {

constexpr Duration longest_duration = std::chrono::hours(24 * 365);
constexpr std::size_t largest_header = 1024 * 1024;

struct Unit {
    std::string_view suffix;
    std::uint64_t factor;
};

// Splits "64KiB" into 64 and the factor of its unit; the units are tried in order.
template <std::size_t N>
boost::system::result<std::uint64_t, std::string> parse_scaled(std::string_view text,
                                                               const Unit (&units)[N],
                                                               std::string_view what) {
    std::uint64_t number = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (error != std::errc{} || end == text.data())
        return "not a " + std::string(what) + ": '" + std::string(text) + "'";
    std::string_view suffix(end, text.data() + text.size() - end);
    for (const auto& unit : units) {
        if (suffix != unit.suffix) continue;
        if (unit.factor != 0 && number > UINT64_MAX / unit.factor)
            return std::string(what) + " too large: '" + std::string(text) + "'";
        return number * unit.factor;
    }
    return "unknown unit in " + std::string(what) + ": '" + std::string(text) + "'";
}

constexpr std::size_t kibibyte = 1024;
constexpr std::size_t mebibyte = 1024 * 1024;
// A config file or key file larger than this is a mistake (a log named by accident, /dev/zero).
constexpr std::size_t largest_read_file = mebibyte;

// The whole file, if it can be read and is not larger than `limit`.
std::optional<std::string> read_file(const std::string& path, std::size_t limit) {
    std::ifstream file(path, std::ios::binary);
    if (!file) return std::nullopt;
    std::string text;
    char chunk[4096];
    while (file.read(chunk, sizeof chunk) || file.gcount() > 0) {
        text.append(chunk, static_cast<std::size_t>(file.gcount()));
        if (text.size() > limit) return std::nullopt;
    }
    if (file.bad()) return std::nullopt;
    return text;
}

// Splits a comma-separated environment variable; empty items are dropped.
std::vector<std::string> split_list(std::string_view rest) {
    std::vector<std::string> items;
    while (!rest.empty()) {
        auto comma = rest.find(',');
        auto item = rest.substr(0, comma);
        if (!item.empty()) items.emplace_back(item);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    return items;
}

template <typename Number>
boost::system::result<Number, std::string> parse_number(std::string_view text, Number min,
                                                        Number max) {
    Number number{};
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (error != std::errc{} || end != text.data() + text.size() || number < min || number > max)
        return "expected a number from " + std::to_string(min) + " to " + std::to_string(max) +
               ", got '" + std::string(text) + "'";
    return number;
}

// The cores this process may run on: a server pinned to one core (taskset, a container's cpuset)
// gains nothing from a second thread but the cost of waking it.
unsigned available_cores() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return static_cast<unsigned>(CPU_COUNT(&set));
    return std::max(1u, std::thread::hardware_concurrency());
}

// Durations and sizes back to the text a flag takes, in the largest unit that is exact, so that
// --help shows "25s" and check-config's output reads back as a config file.
std::string format_duration(Duration duration) {
    auto millis = duration.count();
    if (millis != 0 && millis % 60'000 == 0) return std::to_string(millis / 60'000) + "m";
    if (millis != 0 && millis % 1000 == 0) return std::to_string(millis / 1000) + "s";
    return std::to_string(millis) + "ms";
}

std::string format_size(std::size_t bytes) {
    if (bytes != 0 && bytes % mebibyte == 0) return std::to_string(bytes / mebibyte) + "MiB";
    if (bytes != 0 && bytes % kibibyte == 0) return std::to_string(bytes / kibibyte) + "KiB";
    return std::to_string(bytes);
}

// ---- The table of flags: it drives the command line, the environment, the file, --help and
// check-config, so that a flag is declared once.

using Values = std::vector<std::string>;
using Problem = std::optional<std::string>;

// Where a flag may be set.
enum Sources : unsigned {
    command_line_only = 1,
    environment_only = 2,
    file_only = 4,
    anywhere = command_line_only | environment_only | file_only,
};

struct Flag {
    std::string_view name;
    std::string_view value_name;  // empty: a boolean, where `--name` alone means true
    std::string_view help;
    bool repeatable = false;
    unsigned sources = anywhere;
    // Sets the flag's target from its values (exactly one, unless repeatable); the problem says
    // what is wrong with them, and the caller says where they came from.
    std::function<Problem(Config&, const Values&)> apply;
    // The target's value as JSON: what check-config prints, and, taken from a default Config, the
    // default that --help prints.
    std::function<json::value(const Config&)> value;
};

template <typename T>
using Target = T Config::*;

Flag text_flag(std::string_view name, std::string_view value_name, Target<std::string> target,
               std::string_view help) {
    return {name,
            value_name,
            help,
            false,
            anywhere,
            [target](Config& config, const Values& values) -> Problem {
                config.*target = values.front();
                return {};
            },
            [target](const Config& config) { return json::value(config.*target); }};
}

// A secret shows as "***" (or "" when unset), never as itself.
Flag secret_flag(std::string_view name, std::string_view value_name, Target<std::string> target,
                 std::string_view help, unsigned sources = anywhere) {
    Flag flag = text_flag(name, value_name, target, help);
    flag.sources = sources;
    flag.value = [target](const Config& config) {
        return json::value((config.*target).empty() ? "" : "***");
    };
    return flag;
}

Flag list_flag(std::string_view name, std::string_view value_name,
               Target<std::vector<std::string>> target, std::string_view help,
               bool secret = false) {
    return {name,
            value_name,
            help,
            true,
            anywhere,
            [target](Config& config, const Values& values) -> Problem {
                for (const auto& value : values)
                    if (value.empty()) return "a value must not be empty";
                config.*target = values;
                return {};
            },
            [target, secret](const Config& config) {
                json::array items;
                for (const auto& item : config.*target)
                    items.emplace_back(secret ? std::string_view("***") : std::string_view(item));
                return json::value(std::move(items));
            }};
}

template <typename Number>
Flag number_flag(std::string_view name, Target<Number> target, Number min, Number max,
                 std::string_view help) {
    return {name,
            "N",
            help,
            false,
            anywhere,
            [target, min, max](Config& config, const Values& values) -> Problem {
                auto number = parse_number<Number>(values.front(), min, max);
                if (!number) return number.error();
                config.*target = *number;
                return {};
            },
            [target](const Config& config) { return json::value(config.*target); }};
}

// `zero`: whether 0 is a value (a delay that may be none), or must be positive (a timeout).
Flag duration_flag(std::string_view name, Target<Duration> target, std::string_view help,
                   bool zero = false) {
    return {
        name,
        "TIME",
        help,
        false,
        anywhere,
        [target, zero](Config& config, const Values& values) -> Problem {
            auto duration = parse_duration(values.front());
            if (!duration) return duration.error();
            if (duration->count() < 0 || (duration->count() == 0 && !zero))
                return zero ? "must not be negative" : "must be positive";
            // Deadlines are now + duration on a clock counted in nanoseconds: far past a
            // year, that overflows and every deadline would lie in the past.
            if (*duration > longest_duration) return "at most 365 days";
            config.*target = *duration;
            return {};
        },
        [target](const Config& config) { return json::value(format_duration(config.*target)); }};
}

Flag size_flag(std::string_view name, Target<std::size_t> target, std::string_view help,
               std::size_t largest = SIZE_MAX) {
    return {name,
            "SIZE",
            help,
            false,
            anywhere,
            [target, largest](Config& config, const Values& values) -> Problem {
                auto size = parse_size(values.front());
                if (!size) return size.error();
                if (*size == 0) return "must be positive";
                if (*size > largest) return "at most " + format_size(largest);
                config.*target = *size;
                return {};
            },
            [target](const Config& config) { return json::value(format_size(config.*target)); }};
}

Flag boolean_flag(std::string_view name, Target<bool> target, std::string_view help) {
    return {name,
            "",
            help,
            false,
            anywhere,
            [target](Config& config, const Values& values) -> Problem {
                if (values.front() != "true" && values.front() != "false")
                    return "expected true or false, got '" + values.front() + "'";
                config.*target = values.front() == "true";
                return {};
            },
            [target](const Config& config) { return json::value(config.*target); }};
}

Flag log_level_flag() {
    return {"log-level",
            "LEVEL",
            "debug, info, warn or error",
            false,
            anywhere,
            [](Config& config, const Values& values) -> Problem {
                auto level = parse_log_level(values.front());
                if (!level)
                    return "expected debug, info, warn or error, got '" + values.front() + "'";
                config.log_level = *level;
                return {};
            },
            [](const Config& config) { return json::value(log_level_name(config.log_level)); }};
}

Flag log_format_flag() {
    return {"log-format",
            "FORMAT",
            "text (time level event key=value) or json (one JSON object a line)",
            false,
            anywhere,
            [](Config& config, const Values& values) -> Problem {
                auto format = parse_log_format(values.front());
                if (!format) return "expected text or json, got '" + values.front() + "'";
                config.log_format = *format;
                return {};
            },
            [](const Config& config) { return json::value(log_format_name(config.log_format)); }};
}

// A redis:// URL with the password of its user info, if any, replaced by "***".
std::string redact_password(const std::string& url) {
    auto scheme = url.find("://");
    if (scheme == std::string::npos) return url;
    auto host_start = scheme + 3;
    auto at = url.find('@', host_start);
    auto path = url.find('/', host_start);
    if (at == std::string::npos || (path != std::string::npos && path < at)) return url;
    auto colon = url.find(':', host_start);
    if (colon == std::string::npos || colon > at) return url;
    return url.substr(0, colon + 1) + "***" + url.substr(at);
}

const std::vector<Flag>& flags() {
    static const std::vector<Flag> table = [] {
        std::vector<Flag> table;
        Flag config_file = text_flag("config", "FILE", &Config::config_file,
                                     "JSON file of settings, keyed by flag name; flags and "
                                     "HERALD_* variables take precedence over it");
        config_file.sources = command_line_only | environment_only;
        table.push_back(std::move(config_file));
        Flag address =
            text_flag("address", "ADDR", &Config::address, "IPv4 or IPv6 address to listen on");
        address.apply = [](Config& config, const Values& values) -> Problem {
            error_code error;
            boost::asio::ip::make_address(values.front(), error);
            if (error) return "not an IP address: '" + values.front() + "'";
            config.address = values.front();
            return {};
        };
        table.push_back(std::move(address));
        table.push_back(number_flag<std::uint16_t>("port", &Config::port, 0, 65535,
                                                   "port to listen on; 0 picks a free port"));
        table.push_back(
            number_flag<unsigned>("threads", &Config::threads, 0, 1024,
                                  "I/O threads; 0 means one per core this process may run on"));
        table.push_back(log_level_flag());
        table.push_back(log_format_flag());
        table.push_back(boolean_flag("log-timestamps", &Config::log_timestamps,
                                     "start text lines with their time; false for journald, "
                                     "which stamps lines itself (json lines keep their ts)"));
        table.push_back(duration_flag("login-timeout", &Config::login_timeout,
                                      "time a new WebSocket has to send its login frame"));
        table.push_back(size_flag("max-message-size", &Config::max_message_size,
                                  "largest inbound WebSocket message; larger closes with 1009"));
        table.push_back(number_flag<unsigned>("max-inbound-rate", &Config::max_inbound_rate, 1,
                                              1'000'000,
                                              "WebSocket frames per second a connection may "
                                              "send (bursts of twice that); more closes with "
                                              "1008"));
        table.push_back(duration_flag("ping-interval", &Config::ping_interval,
                                      "time between keep-alive pings"));
        table.push_back(duration_flag("pong-timeout", &Config::pong_timeout,
                                      "a connection silent this long after a ping is closed"));
        table.push_back(duration_flag("close-timeout", &Config::close_timeout,
                                      "time a closing handshake, a stuck write, or the lingering "
                                      "close after an early HTTP refusal may take"));
        table.push_back(number_flag<std::size_t>(
            "send-queue", &Config::send_queue, 1, 1'000'000,
            "messages queued per connection before it is closed as a slow consumer"));
        table.push_back(
            size_flag("send-queue-bytes", &Config::send_queue_bytes,
                      "bytes queued per connection before it is closed as a slow consumer"));
        table.push_back(number_flag<std::size_t>(
            "max-connections", &Config::max_connections, 0, 100'000'000,
            "WebSocket connections in all; more get 503 (0: as descriptors allow)"));
        table.push_back(number_flag<std::size_t>(
            "max-connections-per-ip", &Config::max_connections_per_ip, 0, 100'000'000,
            "WebSocket connections per client address; more get 429 (0: no limit)"));
        table.push_back(number_flag<std::size_t>(
            "history-size", &Config::history_size, 0, 1'000'000,
            "messages kept per user for offline delivery and resume; 0: none"));
        table.push_back(
            duration_flag("history-ttl", &Config::history_ttl, "how long a kept message stays"));
        table.push_back(size_flag("history-max-bytes", &Config::history_max_bytes,
                                  "all kept messages together; the oldest go first"));
        table.push_back(size_flag("max-body", &Config::max_body,
                                  "largest HTTP request body; larger is refused with 413"));
        // Beast's parser takes the head limit as 32 bits; no real request head comes near 1 MiB.
        table.push_back(size_flag("max-header-size", &Config::max_header_size,
                                  "largest HTTP request head; larger is refused with 431",
                                  largest_header));
        table.push_back(duration_flag(
            "http-timeout", &Config::http_timeout,
            "time to receive one HTTP request, and idle time of a keep-alive connection"));
        table.push_back(
            duration_flag("shutdown-timeout", &Config::shutdown_timeout,
                          "on SIGINT or SIGTERM, time to close connections before exiting"));
        table.push_back(duration_flag("drain-delay", &Config::drain_delay,
                                      "on SIGINT or SIGTERM, time to go on serving with /readyz "
                                      "answering 503 before the shutdown starts (a second "
                                      "signal starts it at once)",
                                      true));
        table.push_back(secret_flag("token-secret", "SECRET", &Config::token_secret,
                                    "HS256 key: logins must carry a JWT (HERALD_TOKEN_SECRET "
                                    "keeps it out of process listings)"));
        table.push_back(text_flag("token-public-key", "FILE", &Config::token_public_key,
                                  "PEM public key (RSA for RS256, P-256 for ES256): logins must "
                                  "carry a JWT"));
        table.push_back(text_flag("token-audience", "AUD", &Config::token_audience,
                                  "required aud claim of login tokens"));
        table.push_back(text_flag("token-issuer", "ISS", &Config::token_issuer,
                                  "required iss claim of login tokens"));
        table.push_back(boolean_flag("token-require-exp", &Config::token_require_exp,
                                     "refuse login tokens without an exp claim; false allows "
                                     "them (their connections never expire)"));
        table.push_back(list_flag("api-key", "KEY", &Config::api_keys,
                                  "key that /send and /stats require (repeatable; "
                                  "HERALD_API_KEYS=k1,k2 keeps keys out of process listings)",
                                  true));
        table.push_back(text_flag("tls-cert", "FILE", &Config::tls_cert,
                                  "PEM certificate chain: the port then serves https:// and "
                                  "wss:// only"));
        table.push_back(
            text_flag("tls-key", "FILE", &Config::tls_key, "PEM private key of --tls-cert"));
        table.push_back(list_flag("allowed-origin", "ORIGIN", &Config::allowed_origins,
                                  "Origin allowed to open a WebSocket (repeatable; exact, or "
                                  "*.example.com); none: any"));
        Flag no_web = boolean_flag("no-web", &Config::web,
                                   "serve no web pages: neither /demo nor /js/herald.js");
        // The flag says what it turns off; the setting says what is on.
        no_web.apply = [](Config& config, const Values& values) -> Problem {
            if (values.front() != "true" && values.front() != "false")
                return "expected true or false, got '" + values.front() + "'";
            config.web = values.front() == "false";
            return {};
        };
        no_web.value = [](const Config& config) { return json::value(!config.web); };
        table.push_back(std::move(no_web));
        table.push_back(duration_flag("idempotency-ttl", &Config::idempotency_ttl,
                                      "how long a retried /send with the same Idempotency-Key "
                                      "gets the first attempt's answer"));
        table.push_back(number_flag<std::size_t>(
            "idempotency-max-keys", &Config::idempotency_max_keys, 0, 100'000'000,
            "Idempotency-Keys a single node remembers at most (the oldest go first)"));
        table.push_back(duration_flag("max-ack-wait", &Config::max_ack_wait,
                                      "the longest a /send with wait=ack waits for an "
                                      "acknowledgement (its timeout_ms is clamped to it)"));
        table.push_back(number_flag<std::size_t>(
            "max-batch", &Config::max_batch, 1, 1'000'000,
            "entries a batch publish (POST /send with \"messages\") may hold at most"));
        table.push_back(number_flag<std::size_t>(
            "max-ack-waiters", &Config::max_ack_waiters, 0, 10'000'000,
            "publishers that may wait for an acknowledgement at once; over it, 503"));
        Flag redis = text_flag("redis", "URL", &Config::redis,
                               "redis://[[user]:password@]host:port[/db]: run as a node of the "
                               "cluster that shares this Redis");
        // check-config shows where the cluster's Redis is, never its password.
        redis.value = [](const Config& config) {
            return json::value(redact_password(config.redis));
        };
        table.push_back(std::move(redis));
        // A password has no flag: it would show in process listings.
        table.push_back(
            secret_flag("redis-password", "PASSWORD", &Config::redis_password,
                        "password of the cluster's Redis, for a --redis URL without one",
                        environment_only | file_only));
        table.push_back(text_flag("node-id", "NAME", &Config::node_id,
                                  "this node's name in logs, /stats and Redis (default: the host "
                                  "name and a random suffix)"));
        table.push_back(duration_flag("redis-timeout", &Config::redis_timeout,
                                      "the longest any one Redis operation may take"));
        table.push_back(duration_flag("redis-probe-interval", &Config::redis_probe_interval,
                                      "how often a node sends itself a probe through Redis's "
                                      "pub/sub, to find a subscription that stopped delivering"));
        table.push_back(number_flag<unsigned>("redis-subscribers", &Config::redis_subscribers, 1,
                                              64,
                                              "Redis subscriber connections that a node spreads "
                                              "its users over"));
        table.push_back(number_flag<std::size_t>(
            "redis-max-joins", &Config::redis_max_joins, 1, 100'000,
            "logins (subscribe, then read the stream) a node has under way in Redis at once; "
            "more wait their turn, so that a storm of logins queues instead of timing out"));
        return table;
    }();
    return table;
}

const Flag* find_flag(std::string_view name) {
    for (const auto& flag : flags())
        if (flag.name == name) return &flag;
    return nullptr;
}

// HERALD_ + the flag's name in upper snake case: --max-body is HERALD_MAX_BODY.
std::string environment_name(std::string_view flag) {
    std::string name = "HERALD_";
    for (char c : flag)
        name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return name;
}

// A variable that works under another name than the rule gives: the name of the keys' list
// before there was a rule.
constexpr std::string_view api_keys_variable = "HERALD_API_KEYS";

// ---- The three sources. Each gives the values it has for each flag, as text, and where it got
// them; nothing is converted until the sources are merged.

struct Setting {
    Values values;
    std::string source;  // `--port`, `HERALD_PORT` or `FILE: port`, for messages
};
using Settings = std::map<std::string, Setting, std::less<>>;
using Problems = std::vector<std::string>;

Settings settings_from_arguments(int argc, const char* const* argv, bool& show_help,
                                 Problems& problems) {
    Settings settings;
    for (int i = 1; i < argc; ++i) {
        std::string_view argument = argv[i];
        if (argument == "-h" || argument == "--help") {
            show_help = true;
            continue;
        }
        if (!argument.starts_with("--")) {
            std::string problem = "unexpected argument '" + std::string(argument) + "'";
            if (argument == "true" || argument == "false")
                problem += " (a boolean flag takes --flag=" + std::string(argument) + ")";
            problems.push_back(std::move(problem));
            continue;
        }
        argument.remove_prefix(2);
        auto equals = argument.find('=');
        std::string_view name = argument.substr(0, equals);
        std::optional<std::string_view> inline_value;
        if (equals != std::string_view::npos) inline_value = argument.substr(equals + 1);
        const Flag* flag = find_flag(name);
        if (!flag || !(flag->sources & command_line_only)) {
            problems.push_back("unknown flag --" + std::string(name));
            continue;
        }
        std::string value;
        if (inline_value) {
            value = *inline_value;
        } else if (flag->value_name.empty()) {
            value = "true";
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            problems.push_back("--" + std::string(name) + " needs a value");
            continue;
        }
        Setting& setting = settings[std::string(name)];
        if (!setting.values.empty() && !flag->repeatable) {
            problems.push_back("--" + std::string(name) + " is given more than once");
            continue;
        }
        setting.source = "--" + std::string(name);
        setting.values.push_back(std::move(value));
    }
    return settings;
}

Settings settings_from_environment(const Environment& environment, Problems& problems) {
    Settings settings;
    for (const auto& [name, value] : environment) {
        if (!name.starts_with("HERALD_")) continue;
        // Set but empty counts as unset: an EnvironmentFile line left blank, `HERALD_X= cmd`.
        if (value.empty()) continue;
        const Flag* flag = nullptr;
        if (name == api_keys_variable) {
            flag = find_flag("api-key");
        } else {
            for (const auto& candidate : flags())
                if ((candidate.sources & environment_only) &&
                    environment_name(candidate.name) == name)
                    flag = &candidate;
        }
        if (!flag) {
            problems.push_back(name + ": no such setting (HERALD_* variables name flags)");
            continue;
        }
        auto [entry, inserted] = settings.try_emplace(std::string(flag->name));
        if (!inserted) {
            problems.push_back(name + " and " + entry->second.source + " are both set");
            continue;
        }
        entry->second.source = name;
        entry->second.values = flag->repeatable ? split_list(value) : Values{std::string(value)};
    }
    return settings;
}

// One JSON scalar as the text a flag would take, into `text`.
Problem text_of(const json::value& value, std::string& text) {
    switch (value.kind()) {
        case json::kind::string:
            text = value.get_string();
            return {};
        case json::kind::int64:
            text = std::to_string(value.get_int64());
            return {};
        case json::kind::uint64:
            text = std::to_string(value.get_uint64());
            return {};
        case json::kind::bool_:
            text = value.get_bool() ? "true" : "false";
            return {};
        case json::kind::double_:
            return "expected a whole number or a string, got a fraction";
        default:
            return "expected a string, a number or a boolean";
    }
}

Settings settings_from_json(std::string_view text, std::string_view file_name, Problems& problems) {
    Settings settings;
    std::string where(file_name);
    error_code error;
    json::value document = json::parse(text, error);
    if (error) {
        problems.push_back(where + ": not valid JSON (" + error.message() + ")");
        return settings;
    }
    if (!document.is_object()) {
        problems.push_back(where + ": expected a JSON object of flag names and values");
        return settings;
    }
    for (const auto& [key, value] : document.get_object()) {
        std::string source = where + ": " + std::string(key);
        const Flag* flag = find_flag(key);
        if (!flag || !(flag->sources & file_only)) {
            problems.push_back(where + ": unknown key '" + std::string(key) + "'");
            continue;
        }
        Values values;
        bool bad = false;
        auto add = [&](const json::value& item) {
            std::string item_text;
            if (auto problem = text_of(item, item_text)) {
                problems.push_back(source + ": " + *problem);
                bad = true;
                return;
            }
            values.push_back(std::move(item_text));
        };
        if (value.is_array()) {
            if (!flag->repeatable) {
                problems.push_back(source + ": takes one value, not a list");
                continue;
            }
            for (const auto& item : value.get_array())
                if (!bad) add(item);
        } else {
            add(value);  // a single value of a repeatable flag is a list of one
        }
        if (bad) continue;
        settings[std::string(key)] = Setting{std::move(values), std::move(source)};
    }
    return settings;
}

// ---- Merging: per flag, the first source that has it, in the order given.

struct Resolved {
    Config config;
    std::map<std::string_view, std::string> source_of;  // flags that were set, and where
};

Resolved resolve(std::initializer_list<const Settings*> by_precedence, Problems& problems) {
    Resolved resolved;
    for (const auto& flag : flags()) {
        for (const Settings* settings : by_precedence) {
            auto found = settings->find(flag.name);
            if (found == settings->end()) continue;
            const Setting& setting = found->second;
            // An empty list from the environment (HERALD_API_KEYS=",") counts as unset.
            if (setting.values.empty()) continue;
            if (auto problem = flag.apply(resolved.config, setting.values))
                problems.push_back(setting.source + ": " + *problem);
            resolved.source_of[flag.name] = setting.source;
            break;
        }
    }
    bool has_cert = !resolved.config.tls_cert.empty(), has_key = !resolved.config.tls_key.empty();
    if (has_cert != has_key) problems.push_back("--tls-cert and --tls-key go together");
    return resolved;
}

std::string joined(const Problems& problems) {
    std::string text;
    for (const auto& problem : problems) {
        if (!text.empty()) text += '\n';
        text += problem;
    }
    return text;
}

// What --help shows as a flag's default: nothing for an empty text or list.
std::string default_text(const Flag& flag) {
    static const Config defaults;
    json::value value = flag.value(defaults);
    if (value.is_string()) return std::string(value.get_string());
    if (value.is_array()) return {};
    return json::serialize(value);
}

// Appends `text` wrapped at 100 columns, every line after the first indented by `indent`.
void append_wrapped(std::string& out, std::string_view text, std::size_t column,
                    std::size_t indent) {
    constexpr std::size_t width = 100;
    while (!text.empty()) {
        std::size_t room = width > column ? width - column : 20;
        std::size_t take = text.size();
        if (take > room) {
            take = text.rfind(' ', room);
            if (take == std::string_view::npos || take == 0) take = text.find(' ');
            if (take == std::string_view::npos) take = text.size();
        }
        std::size_t line_start = out.size();
        out.append(text.substr(0, take));
        std::replace(out.begin() + static_cast<std::ptrdiff_t>(line_start), out.end(), '\x01', ' ');
        text.remove_prefix(take);
        while (text.starts_with(' '))
            text.remove_prefix(1);
        if (!text.empty()) {
            out += '\n';
            out.append(indent, ' ');
            column = indent;
        }
    }
    out += '\n';
}

}  // namespace

boost::system::result<Duration, std::string> parse_duration(std::string_view text) {
    static constexpr Unit units[] = {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"", 1000}};
    auto millis = parse_scaled(text, units, "duration");
    if (!millis) return millis.error();
    return Duration(static_cast<Duration::rep>(*millis));
}

boost::system::result<std::size_t, std::string> parse_size(std::string_view text) {
    static constexpr Unit units[] = {{"", 1},
                                     {"K", 1024},
                                     {"KB", 1024},
                                     {"KiB", 1024},
                                     {"M", 1024 * 1024},
                                     {"MB", 1024 * 1024},
                                     {"MiB", 1024 * 1024}};
    auto bytes = parse_scaled(text, units, "size");
    if (!bytes) return bytes.error();
    return static_cast<std::size_t>(*bytes);
}

namespace {

po::options_description describe_token_options() {
    po::options_description options("Options");
    // clang-format off
    options.add_options()
        ("help,h", "print this help and exit")
        ("secret", po::value<std::string>()->value_name("SECRET"), "HS256 key (or HERALD_TOKEN_SECRET)")
        ("uid", po::value<std::string>()->value_name("UID"), "the user the token logs in (its sub)")
        ("ttl", po::value<std::string>()->value_name("TIME")->default_value("3600"), "validity, e.g. 3600, 15m")
        ("audience", po::value<std::string>()->value_name("AUD"), "aud claim")
        ("issuer", po::value<std::string>()->value_name("ISS"), "iss claim");
    // clang-format on
    return options;
}

}  // namespace

std::string token_usage() {
    std::ostringstream text;
    text << "Usage: herald token --secret SECRET --uid UID [--ttl 3600]\n"
            "Prints an HS256 login token for a server started with the same --token-secret.\n\n"
         << describe_token_options();
    return text.str();
}

boost::system::result<TokenCommand, std::string> parse_token_command(int argc,
                                                                     const char* const* argv) {
    po::variables_map values;
    try {
        po::store(po::parse_command_line(argc, argv, describe_token_options()), values);
        po::notify(values);
    } catch (const po::error& error) {
        return std::string(error.what());
    }
    TokenCommand command;
    if (values.count("help")) {
        command.show_help = true;
        return command;
    }
    if (values.count("secret"))
        command.secret = values["secret"].as<std::string>();
    else if (const char* secret = std::getenv("HERALD_TOKEN_SECRET"))
        command.secret = secret;
    if (command.secret.empty()) return std::string("--secret (or HERALD_TOKEN_SECRET) is required");
    if (!values.count("uid")) return std::string("--uid is required");
    command.uid = values["uid"].as<std::string>();
    auto ttl = parse_duration(values["ttl"].as<std::string>());
    if (!ttl || ttl->count() <= 0) return std::string("--ttl: expected a positive duration");
    command.ttl = std::chrono::duration_cast<std::chrono::seconds>(*ttl);
    if (values.count("audience")) command.audience = values["audience"].as<std::string>();
    if (values.count("issuer")) command.issuer = values["issuer"].as<std::string>();
    return command;
}

Environment process_environment() {
    Environment environment;
    for (char** entry = environ; entry && *entry; ++entry) {
        std::string_view text(*entry);
        auto equals = text.find('=');
        if (equals == std::string_view::npos) continue;
        environment.emplace_back(text.substr(0, equals), text.substr(equals + 1));
    }
    return environment;
}

std::string usage() {
    constexpr std::size_t help_column = 34;
    std::string text =
        "Usage: herald [options]\n"
        "       herald check-config [options]   check the settings, print them as JSON\n"
        "       herald token --secret SECRET --uid UID [--ttl 3600]   (see herald token "
        "--help)\n"
        "A WebSocket push center: clients connect to /ws and log in with {\"uid\":\"...\"};\n"
        "backends push with GET or POST /send. See README.md.\n\n"
        "Every option may also be set in the environment as HERALD_ and its name in upper snake\n"
        "case (--max-body: HERALD_MAX_BODY; a list comma-separated) or in the --config file.\n"
        "Flags win over the environment, which wins over the file; a list replaces, never adds.\n\n"
        "Options:\n"
        "  -h, --help";
    text.append(help_column - 12, ' ');
    text += "print this help and exit\n";
    std::string environment_text;
    for (const auto& flag : flags()) {
        bool environment_only_flag = !(flag.sources & command_line_only);
        std::string line = "  ";
        if (environment_only_flag) {
            line += environment_name(flag.name);
        } else {
            line += "--" + std::string(flag.name);
            line += flag.value_name.empty() ? std::string("[=BOOL]")
                                            : " " + std::string(flag.value_name);
        }
        if (line.size() + 2 > help_column) {
            line += '\n';
            line.append(help_column, ' ');
        } else {
            line.append(help_column - line.size(), ' ');
        }
        std::string help(flag.help);
        if (std::string fallback = default_text(flag); !fallback.empty())
            help += " (default:\x01" + fallback + ")";  // \x01: a space the lines never break at
        std::string& out = environment_only_flag ? environment_text : text;
        out += line;
        append_wrapped(out, help, help_column, help_column);
    }
    if (!environment_text.empty()) text += "\nEnvironment or file only:\n" + environment_text;
    return text;
}

boost::system::result<CommandLine, std::string> parse_command_line(int argc,
                                                                   const char* const* argv) {
    return parse_command_line(argc, argv, process_environment());
}

boost::system::result<CommandLine, std::string> parse_command_line(int argc,
                                                                   const char* const* argv,
                                                                   const Environment& environment) {
    CommandLine result;
    Problems problems;
    Settings from_flags = settings_from_arguments(argc, argv, result.show_help, problems);
    if (result.show_help) return result;
    Settings from_environment = settings_from_environment(environment, problems);

    Settings from_file;
    const Setting* config_file = nullptr;
    if (auto found = from_flags.find("config"); found != from_flags.end())
        config_file = &found->second;
    else if (auto found = from_environment.find("config"); found != from_environment.end())
        config_file = &found->second;
    if (config_file) {
        const std::string& path = config_file->values.front();
        if (auto text = read_file(path, largest_read_file))
            from_file = settings_from_json(*text, path, problems);
        else
            problems.push_back(config_file->source + ": cannot read '" + path +
                               "' (or it is larger than 1MiB)");
    }

    Resolved resolved = resolve({&from_flags, &from_environment, &from_file}, problems);
    Config& config = resolved.config;
    if (config.threads == 0) config.threads = available_cores();
    if (!config.token_public_key.empty()) {
        if (auto pem = read_file(config.token_public_key, largest_read_file))
            config.token_public_key_pem = std::move(*pem);
        else
            problems.push_back(resolved.source_of["token-public-key"] + ": cannot read '" +
                               config.token_public_key + "'");
    }
    if (!problems.empty()) return joined(problems);
    result.config = std::move(config);
    return result;
}

boost::system::result<Config, std::string> config_from_json(std::string_view text) {
    Problems problems;
    Settings from_file = settings_from_json(text, "config", problems);
    Resolved resolved = resolve({&from_file}, problems);
    // Spelled out: a Config is an aggregate that a string could initialise.
    if (!problems.empty())
        return boost::system::result<Config, std::string>(boost::system::in_place_error,
                                                          joined(problems));
    return std::move(resolved.config);
}

std::string describe_config(const Config& config) {
    json::object described;
    for (const auto& flag : flags())
        described[flag.name] = flag.value(config);
    return json::serialize(described);
}

}  // namespace herald
