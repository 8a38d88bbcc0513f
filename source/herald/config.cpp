#include "herald/config.hpp"

#include <sched.h>

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <thread>

#include <boost/program_options.hpp>

namespace herald {
namespace po = boost::program_options;
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

po::options_description describe_options() {
    po::options_description options("Options");
    // Every value is read as text and converted below, so that units and errors are ours.
    auto text = [](const char* name, const char* fallback) {
        return po::value<std::string>()->value_name(name)->default_value(fallback);
    };
    auto optional_text = [](const char* name) {
        return po::value<std::string>()->value_name(name);
    };
    auto list = [](const char* name) {
        return po::value<std::vector<std::string>>()->value_name(name)->composing();
    };
    // clang-format off
    options.add_options()
        ("help,h", "print this help and exit")
        ("address", text("ADDR", "0.0.0.0"), "address to listen on")
        ("port", text("N", "8181"), "port to listen on; 0 picks a free port")
        ("threads", text("N", "0"), "I/O threads; 0 means one per core this process may run on")
        ("log-level", text("LEVEL", "info"), "debug, info, warn or error")
        ("login-timeout", text("TIME", "10s"), "time a new WebSocket has to send its login frame")
        ("max-message-size", text("SIZE", "64KiB"), "largest inbound WebSocket message; larger closes with 1009")
        ("max-inbound-rate", text("N", "20"),
         "WebSocket frames per second a connection may send (bursts of twice that); more closes with 1008")
        ("ping-interval", text("TIME", "25s"), "time between keep-alive pings")
        ("pong-timeout", text("TIME", "10s"), "a connection silent this long after a ping is closed")
        ("close-timeout", text("TIME", "5s"),
         "time a closing handshake or a stuck write may take before the socket is dropped")
        ("send-queue", text("N", "1024"), "messages queued per connection before it is closed as a slow consumer")
        ("send-queue-bytes", text("SIZE", "1MiB"),
         "bytes queued per connection before it is closed as a slow consumer")
        ("max-connections", text("N", "0"), "WebSocket connections in all; more get 503 (0: as descriptors allow)")
        ("max-connections-per-ip", text("N", "0"), "WebSocket connections per client address; more get 429 (0: no limit)")
        ("history-size", text("N", "100"), "messages kept per user for offline delivery and resume; 0: none")
        ("history-ttl", text("TIME", "5m"), "how long a kept message stays")
        ("history-max-bytes", text("SIZE", "64MiB"), "all kept messages together; the oldest go first")
        ("max-body", text("SIZE", "1MiB"), "largest HTTP request body; larger is refused with 413")
        ("max-header-size", text("SIZE", "16KiB"), "largest HTTP request head; larger is refused with 431")
        ("http-timeout", text("TIME", "30s"),
         "time to receive one HTTP request, and idle time of a keep-alive connection")
        ("shutdown-timeout", text("TIME", "5s"), "on SIGINT or SIGTERM, time to close connections before exiting")
        ("token-secret", optional_text("SECRET"),
         "HS256 key: logins must carry a JWT (also from HERALD_TOKEN_SECRET, which keeps it out of ps)")
        ("token-public-key", optional_text("FILE"), "PEM public key (RSA for RS256, P-256 for ES256): logins must carry a JWT")
        ("token-audience", optional_text("AUD"), "required aud claim of login tokens")
        ("token-issuer", optional_text("ISS"), "required iss claim of login tokens")
        ("api-key", list("KEY"),
         "key that /send and /stats require (repeatable; also HERALD_API_KEYS, comma-separated)")
        ("tls-cert", optional_text("FILE"), "PEM certificate chain: the port then serves https:// and wss:// only")
        ("tls-key", optional_text("FILE"), "PEM private key of --tls-cert")
        ("allowed-origin", list("ORIGIN"),
         "Origin allowed to open a WebSocket (repeatable; exact, or *.example.com); default: any")
        ("no-web", "serve no web pages: neither /demo nor /js/herald.js");
    // clang-format on
    return options;
}

std::optional<std::string> read_file(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) return std::nullopt;
    return std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
}

// Splits a comma-separated environment variable; empty items are dropped.
std::vector<std::string> split_list(const char* text) {
    std::vector<std::string> items;
    if (text == nullptr) return items;
    std::string_view rest(text);
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
boost::system::result<Number, std::string> parse_number(std::string_view text,
                                                        std::string_view flag, Number min,
                                                        Number max) {
    Number number{};
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (error != std::errc{} || end != text.data() + text.size() || number < min || number > max)
        return "--" + std::string(flag) + ": expected a number from " + std::to_string(min) +
               " to " + std::to_string(max) + ", got '" + std::string(text) + "'";
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

std::string usage() {
    std::ostringstream text;
    text << "Usage: herald [options]\n"
            "       herald token --secret SECRET --uid UID [--ttl 3600]   (see herald token "
            "--help)\n"
            "A WebSocket push center: clients connect to /ws and log in with {\"uid\":\"...\"};\n"
            "backends push with GET or POST /send. See README.md.\n\n"
         << describe_options();
    return text.str();
}

boost::system::result<CommandLine, std::string> parse_command_line(int argc,
                                                                   const char* const* argv) {
    po::variables_map values;
    try {
        po::store(po::parse_command_line(argc, argv, describe_options()), values);
        po::notify(values);
    } catch (const po::error& error) {
        return std::string(error.what());
    }

    CommandLine result;
    if (values.count("help")) {
        result.show_help = true;
        return result;
    }
    auto text = [&](const char* flag) { return values[flag].as<std::string>(); };
    Config& config = result.config;

    config.address = text("address");
    auto port = parse_number<std::uint16_t>(text("port"), "port", 0, 65535);
    if (!port) return port.error();
    config.port = *port;
    auto threads = parse_number<unsigned>(text("threads"), "threads", 0, 1024);
    if (!threads) return threads.error();
    config.threads = *threads != 0 ? *threads : available_cores();
    auto level = parse_log_level(text("log-level"));
    if (!level)
        return "--log-level: expected debug, info, warn or error, got '" + text("log-level") + "'";
    config.log_level = *level;

    struct DurationFlag {
        const char* flag;
        Duration* target;
    };
    for (auto [flag, target] : {DurationFlag{"login-timeout", &config.login_timeout},
                                DurationFlag{"ping-interval", &config.ping_interval},
                                DurationFlag{"pong-timeout", &config.pong_timeout},
                                DurationFlag{"close-timeout", &config.close_timeout},
                                DurationFlag{"http-timeout", &config.http_timeout},
                                DurationFlag{"history-ttl", &config.history_ttl},
                                DurationFlag{"shutdown-timeout", &config.shutdown_timeout}}) {
        auto duration = parse_duration(text(flag));
        if (!duration) return "--" + std::string(flag) + ": " + duration.error();
        if (duration->count() <= 0) return "--" + std::string(flag) + ": must be positive";
        // Deadlines are now + duration on a clock counted in nanoseconds: far past a year, that
        // overflows and every deadline would lie in the past.
        if (*duration > longest_duration) return "--" + std::string(flag) + ": at most 365 days";
        *target = *duration;
    }

    struct SizeFlag {
        const char* flag;
        std::size_t* target;
    };
    for (auto [flag, target] : {SizeFlag{"max-message-size", &config.max_message_size},
                                SizeFlag{"send-queue-bytes", &config.send_queue_bytes},
                                SizeFlag{"max-body", &config.max_body},
                                SizeFlag{"max-header-size", &config.max_header_size},
                                SizeFlag{"history-max-bytes", &config.history_max_bytes}}) {
        auto size = parse_size(text(flag));
        if (!size) return "--" + std::string(flag) + ": " + size.error();
        if (*size == 0) return "--" + std::string(flag) + ": must be positive";
        *target = *size;
    }
    // Beast's parser takes the head limit as 32 bits; no real request head comes near 1 MiB.
    if (config.max_header_size > largest_header)
        return std::string("--max-header-size: at most 1MiB");
    auto send_queue = parse_number<std::size_t>(text("send-queue"), "send-queue", 1, 1'000'000);
    if (!send_queue) return send_queue.error();
    config.send_queue = *send_queue;
    auto history_size =
        parse_number<std::size_t>(text("history-size"), "history-size", 0, 1'000'000);
    if (!history_size) return history_size.error();
    config.history_size = *history_size;
    auto max_connections =
        parse_number<std::size_t>(text("max-connections"), "max-connections", 0, 100'000'000);
    if (!max_connections) return max_connections.error();
    config.max_connections = *max_connections;
    auto per_ip = parse_number<std::size_t>(text("max-connections-per-ip"),
                                            "max-connections-per-ip", 0, 100'000'000);
    if (!per_ip) return per_ip.error();
    config.max_connections_per_ip = *per_ip;
    auto inbound_rate =
        parse_number<unsigned>(text("max-inbound-rate"), "max-inbound-rate", 1, 1'000'000);
    if (!inbound_rate) return inbound_rate.error();
    config.max_inbound_rate = *inbound_rate;

    // Secrets may come from the environment, so that they do not show in process listings.
    if (values.count("token-secret"))
        config.token_secret = text("token-secret");
    else if (const char* secret = std::getenv("HERALD_TOKEN_SECRET"))
        config.token_secret = secret;
    if (values.count("token-public-key")) {
        auto pem = read_file(text("token-public-key"));
        if (!pem) return "--token-public-key: cannot read '" + text("token-public-key") + "'";
        config.token_public_key_pem = std::move(*pem);
    }
    if (values.count("token-audience")) config.token_audience = text("token-audience");
    if (values.count("token-issuer")) config.token_issuer = text("token-issuer");
    if (values.count("api-key")) config.api_keys = values["api-key"].as<std::vector<std::string>>();
    for (auto& key : split_list(std::getenv("HERALD_API_KEYS")))
        config.api_keys.push_back(std::move(key));
    for (const auto& key : config.api_keys)
        if (key.empty()) return std::string("--api-key: a key must not be empty");
    if (values.count("tls-cert") != values.count("tls-key"))
        return std::string("--tls-cert and --tls-key go together");
    if (values.count("tls-cert")) {
        config.tls_cert = text("tls-cert");
        config.tls_key = text("tls-key");
    }
    if (values.count("allowed-origin"))
        config.allowed_origins = values["allowed-origin"].as<std::vector<std::string>>();
    config.web = values.count("no-web") == 0;
    return result;
}

}  // namespace herald
