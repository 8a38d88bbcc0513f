#include "herald/config.hpp"

#include <sched.h>

#include <charconv>
#include <sstream>
#include <thread>

#include <boost/program_options.hpp>

namespace herald {
namespace po = boost::program_options;
namespace {

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
    options.add_options()("help,h", "print this help and exit")(
        "address", po::value<std::string>()->value_name("ADDR")->default_value("0.0.0.0"),
        "address to listen on")("port",
                                po::value<std::string>()->value_name("N")->default_value("8181"),
                                "port to listen on; 0 picks a free port")(
        "threads", po::value<std::string>()->value_name("N")->default_value("0"),
        "I/O threads; 0 means one per core this process may run on")(
        "log-level", po::value<std::string>()->value_name("LEVEL")->default_value("info"),
        "debug, info, warn or error")(
        "login-timeout", po::value<std::string>()->value_name("TIME")->default_value("10s"),
        "time a new WebSocket has to send its login frame")(
        "max-message-size", po::value<std::string>()->value_name("SIZE")->default_value("64KiB"),
        "largest inbound WebSocket message; larger closes with 1009")(
        "ping-interval", po::value<std::string>()->value_name("TIME")->default_value("25s"),
        "time between keep-alive pings")(
        "pong-timeout", po::value<std::string>()->value_name("TIME")->default_value("10s"),
        "a connection silent this long after a ping is closed")(
        "close-timeout", po::value<std::string>()->value_name("TIME")->default_value("5s"),
        "time a closing handshake or a stuck write may take before the socket is dropped")(
        "send-queue", po::value<std::string>()->value_name("N")->default_value("1024"),
        "messages queued per connection before it is closed as a slow consumer")(
        "send-queue-bytes", po::value<std::string>()->value_name("SIZE")->default_value("1MiB"),
        "bytes queued per connection before it is closed as a slow consumer")(
        "max-body", po::value<std::string>()->value_name("SIZE")->default_value("1MiB"),
        "largest HTTP request body; larger is refused with 413")(
        "max-header-size", po::value<std::string>()->value_name("SIZE")->default_value("16KiB"),
        "largest HTTP request head; larger is refused with 431")(
        "http-timeout", po::value<std::string>()->value_name("TIME")->default_value("30s"),
        "time to receive one HTTP request, and idle time of a keep-alive connection")(
        "shutdown-timeout", po::value<std::string>()->value_name("TIME")->default_value("5s"),
        "on SIGINT or SIGTERM, time to close connections before exiting");
    return options;
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

std::string usage() {
    std::ostringstream text;
    text << "Usage: herald [options]\n"
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
                                DurationFlag{"shutdown-timeout", &config.shutdown_timeout}}) {
        auto duration = parse_duration(text(flag));
        if (!duration) return "--" + std::string(flag) + ": " + duration.error();
        if (duration->count() <= 0) return "--" + std::string(flag) + ": must be positive";
        *target = *duration;
    }

    struct SizeFlag {
        const char* flag;
        std::size_t* target;
    };
    for (auto [flag, target] : {SizeFlag{"max-message-size", &config.max_message_size},
                                SizeFlag{"send-queue-bytes", &config.send_queue_bytes},
                                SizeFlag{"max-body", &config.max_body},
                                SizeFlag{"max-header-size", &config.max_header_size}}) {
        auto size = parse_size(text(flag));
        if (!size) return "--" + std::string(flag) + ": " + size.error();
        if (*size == 0) return "--" + std::string(flag) + ": must be positive";
        *target = *size;
    }
    auto send_queue = parse_number<std::size_t>(text("send-queue"), "send-queue", 1, 1'000'000);
    if (!send_queue) return send_queue.error();
    config.send_queue = *send_queue;
    return result;
}

}  // namespace herald
