// The server's settings: every limit has a flag and a default a real deployment would pick.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

#include "herald/log.hpp"

namespace herald {

using Duration = std::chrono::milliseconds;

struct Config {
    std::string address = "0.0.0.0";
    std::uint16_t port = 8181;
    unsigned threads = 0;  // 0: one per core
    LogLevel log_level = LogLevel::info;

    // WebSocket connections.
    Duration login_timeout = std::chrono::seconds(10);
    std::size_t max_message_size = 64 * 1024;
    // 25 s stays under the 60 s idle timeout of common proxies and load balancers.
    Duration ping_interval = std::chrono::seconds(25);
    Duration pong_timeout = std::chrono::seconds(10);
    // How long a closing handshake, or a write stuck on a peer that stopped reading, may take
    // before the socket is dropped.
    Duration close_timeout = std::chrono::seconds(5);
    std::size_t send_queue = 1024;
    std::size_t send_queue_bytes = 1024 * 1024;

    // HTTP requests.
    std::size_t max_body = 1024 * 1024;
    std::size_t max_header_size = 16 * 1024;
    Duration http_timeout = std::chrono::seconds(30);

    Duration shutdown_timeout = std::chrono::seconds(5);
};

struct CommandLine {
    Config config;
    bool show_help = false;
};

// Parses argv. An error is a one-line message naming the flag at fault.
boost::system::result<CommandLine, std::string> parse_command_line(int argc,
                                                                   const char* const* argv);

// The text of `herald --help`.
std::string usage();

// "250ms", "10s", "5m", or a bare number of seconds.
boost::system::result<Duration, std::string> parse_duration(std::string_view text);
// "65536", "64KiB", "1MiB" (K/KB/KiB and M/MB/MiB all mean powers of 1024).
boost::system::result<std::size_t, std::string> parse_size(std::string_view text);

}  // namespace herald
