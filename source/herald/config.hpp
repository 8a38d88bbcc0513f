// The server's settings: every limit has a flag and a default a real deployment would pick.
// The member initializers below are the one place a default is stated: --help and
// `herald check-config` print them from a default-constructed Config.
//
// Each flag may also come from the environment (HERALD_ + the flag in upper snake case) and from
// a JSON file (--config FILE); flags win over the environment, which wins over the file.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
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
    LogFormat log_format = LogFormat::text;
    bool log_timestamps = true;  // false: text lines without their time (journald adds its own)
    std::string config_file;     // the --config file these settings were read from, if any

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
    // A browser app sends a frame now and then (a token refresh); a flood is abuse.
    unsigned max_inbound_rate = 20;   // frames per second, in bursts of up to twice that
    std::size_t max_connections = 0;  // 0: as many as descriptors allow
    std::size_t max_connections_per_ip =
        0;  // 0: no limit (clients behind one proxy share an address)

    // History: each user's last messages, for offline delivery and resume.
    std::size_t history_size = 100;  // messages per user; 0 turns history off
    Duration history_ttl = std::chrono::minutes(5);
    std::size_t history_max_bytes = 64 * 1024 * 1024;

    // HTTP requests.
    std::size_t max_body = 1024 * 1024;
    std::size_t max_header_size = 16 * 1024;
    Duration http_timeout = std::chrono::seconds(30);

    Duration shutdown_timeout = std::chrono::seconds(5);
    // After SIGTERM, how long the server goes on serving while /readyz says 503, so that load
    // balancers take it out of rotation before it stops accepting (0: stop at once).
    Duration drain_delay = Duration(0);

    // Security. With no token key and no API key, logins and publishes are unauthenticated,
    // as in the seed (dev mode).
    std::string token_secret;          // HS256
    std::string token_public_key_pem;  // RS256 or ES256: the text of token_public_key
    std::string token_public_key;      // the PEM file's path
    std::string token_audience;
    std::string token_issuer;
    // Once a token key is set, a token without `exp` (valid for ever) is refused: a leaked one
    // could never be outlived. False lets such tokens in (and their connections never expire).
    bool token_require_exp = true;
    std::vector<std::string> api_keys;
    std::vector<std::string> allowed_origins;  // empty: any origin
    std::string tls_cert;  // PEM certificate chain; with tls_key, the port speaks only TLS
    std::string tls_key;
    // Idempotency-Key on /send: how long a retry gets the first attempt's answer, and, on a
    // single node (a cluster keeps them in Redis, within its maxmemory), how many keys at most.
    Duration idempotency_ttl = std::chrono::minutes(5);
    std::size_t idempotency_max_keys = 100'000;
    // wait=ack on /send: the longest a publisher may wait for an acknowledgement (timeout_ms is
    // clamped to it; 5 s when not given, within it), and how many may wait at once.
    Duration max_ack_wait = std::chrono::seconds(30);
    std::size_t max_ack_waiters = 10'000;
    // POST /send with "messages": entries per request at most.
    std::size_t max_batch = 1000;

    // The cluster: every node given the same Redis is one Herald (README "Running a cluster").
    std::string redis;           // redis://[[user]:password@]host:port[/db]; empty: one node
    std::string redis_password;  // HERALD_REDIS_PASSWORD: for a URL that does not carry it
    std::string node_id;         // names the node in logs, /stats and Redis; empty: host-random
    Duration redis_timeout = std::chrono::seconds(2);         // any one Redis operation
    Duration redis_probe_interval = std::chrono::seconds(5);  // a probe through pub/sub
    unsigned redis_subscribers = 2;     // subscriber connections users are spread over
    std::size_t redis_max_joins = 256;  // logins a node has in Redis at once; more wait their turn

    bool web = true;  // serve /demo and /js/herald.js (--no-web turns them off)

    bool tokens_required() const { return !token_secret.empty() || !token_public_key_pem.empty(); }
};

struct CommandLine {
    Config config;
    bool show_help = false;
};

// Environment variables as (name, value) pairs.
using Environment = std::vector<std::pair<std::string, std::string>>;
// This process's environment.
Environment process_environment();

// The configuration from argv, the environment and the --config file (which it reads, as it
// reads the --token-public-key file), over the defaults. An error is one line per problem, each
// naming where it was found: `--port`, `HERALD_PORT` or `FILE: port`.
boost::system::result<CommandLine, std::string> parse_command_line(int argc,
                                                                   const char* const* argv);
boost::system::result<CommandLine, std::string> parse_command_line(int argc,
                                                                   const char* const* argv,
                                                                   const Environment& environment);

// A --config file's text applied over the defaults, with no flag and no environment, and no file
// named in it read: the file reader on its own (the fuzz target's entry).
boost::system::result<Config, std::string> config_from_json(std::string_view text);

// The effective configuration as one line of JSON keyed by flag name, secrets as "***": what
// `herald check-config` prints. Without secrets it is itself a valid --config file.
std::string describe_config(const Config& config);

// The text of `herald --help`.
std::string usage();

// `herald token ...`: mints an HS256 login token, for development and for backends.
struct TokenCommand {
    TokenCommand() =
        default;  // not an aggregate, so that a result<> of it takes a string as its error
    std::string secret;
    std::string uid;
    std::chrono::seconds ttl{3600};
    std::string audience;
    std::string issuer;
    bool show_help = false;
};
// Parses the arguments after `token`. The secret may come from HERALD_TOKEN_SECRET instead.
boost::system::result<TokenCommand, std::string> parse_token_command(int argc,
                                                                     const char* const* argv);
std::string token_usage();

// "250ms", "10s", "5m", or a bare number of seconds.
boost::system::result<Duration, std::string> parse_duration(std::string_view text);
// "65536", "64KiB", "1MiB" (K/KB/KiB and M/MB/MiB all mean powers of 1024).
boost::system::result<std::size_t, std::string> parse_size(std::string_view text);

}  // namespace herald
