// herald: a WebSocket push center. See README.md.
#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "herald/access.hpp"
#include "herald/config.hpp"
#include "herald/log.hpp"
#include "herald/protocol.hpp"
#include "herald/redis/url.hpp"
#include "herald/server.hpp"
#include "herald/tls.hpp"
#include "herald/token.hpp"

namespace {

// `herald token ...`: prints a login token.
int mint_token(int argc, const char* const* argv) {
    auto command = herald::parse_token_command(argc, argv);
    if (!command) {
        std::fprintf(stderr, "herald token: %s\nTry 'herald token --help'.\n",
                     command.error().c_str());
        return 2;
    }
    if (command->show_help) {
        std::fputs(herald::token_usage().c_str(), stdout);
        return 0;
    }
    if (auto problem = herald::uid_error(command->uid)) {
        std::fprintf(stderr, "herald token: --uid: %.*s\n", static_cast<int>(problem->size()),
                     problem->data());
        return 2;
    }
    std::string token =
        herald::mint_hs256_token(command->secret, command->uid, command->ttl,
                                 herald::seconds_since_epoch(), command->audience, command->issuer);
    std::printf("%s\n", token.c_str());
    return 0;
}

// Prints each line of `problems` after `prefix`, on stderr.
void print_problems(const char* prefix, const std::string& problems) {
    std::string_view rest = problems;
    while (!rest.empty()) {
        auto end = rest.find('\n');
        auto line = rest.substr(0, end);
        std::fprintf(stderr, "%s: %.*s\n", prefix, static_cast<int>(line.size()), line.data());
        if (end == std::string_view::npos) break;
        rest.remove_prefix(end + 1);
    }
}

// `herald check-config [options]`: what the server would refuse before binding (values, files,
// keys, the certificate), without binding. Prints the effective settings as one JSON object and
// exits 0, or the problems and exits 2: a unit's ExecStartPre, or a check before a deploy.
int check_config(int argc, const char* const* argv) {
    auto command_line = herald::parse_command_line(argc, argv);
    if (!command_line) {
        print_problems("herald check-config", command_line.error());
        return 2;
    }
    if (command_line->show_help) {
        std::fputs(herald::usage().c_str(), stdout);
        return 0;
    }
    const herald::Config& config = command_line->config;
    std::string problems;
    if (auto access = herald::Access::create(config); !access) problems += access.error() + "\n";
    if (!config.tls_cert.empty()) {
        try {
            herald::make_tls_context(config.tls_cert, config.tls_key);
        } catch (const std::invalid_argument& error) {
            problems += std::string(error.what()) + "\n";
        }
    }
    if (!config.redis.empty()) {
        std::optional<std::string> password;
        if (!config.redis_password.empty()) password = config.redis_password;
        if (auto redis = herald::redis::parse_redis_url(config.redis, password); !redis)
            problems += "--redis: " + redis.error() + "\n";
    }
    if (!problems.empty()) {
        problems.pop_back();
        print_problems("herald check-config", problems);
        return 2;
    }
    std::printf("%s\n", herald::describe_config(config).c_str());
    return 0;
}

// SIGINT or SIGTERM: with --drain-delay, the server first drains (goes on serving, /readyz
// answers 503, so that load balancers take it out of rotation) and stops when the delay is over
// or at a second signal; without, it stops at once. Runs on the signal thread's io_context,
// which runs out of work once the server is told to stop.
class Shutdown {
  public:
    Shutdown(herald::Server& server, boost::asio::signal_set& signals, herald::Duration delay)
        : server_(server), signals_(signals), delay_(delay), timer_(signals.get_executor()) {}

    void start() { wait_for_signal(); }

  private:
    void wait_for_signal() {
        signals_.async_wait([this](herald::error_code error, int signal) {
            if (error) return;
            herald::log_info("signal", {{"signal", signal == SIGINT ? "SIGINT" : "SIGTERM"}});
            if (draining_ || delay_.count() == 0) return stop();
            draining_ = true;
            herald::log_info("draining", {{"delay_ms", delay_.count()}});
            server_.drain();
            timer_.expires_after(delay_);
            timer_.async_wait([this](herald::error_code error) {
                if (!error) stop();
            });
            wait_for_signal();  // a second signal cuts the delay short
        });
    }
    void stop() {
        timer_.cancel();
        signals_.cancel();
        server_.stop();
    }

    herald::Server& server_;
    boost::asio::signal_set& signals_;
    herald::Duration delay_;
    boost::asio::steady_timer timer_;
    bool draining_ = false;
};

}  // namespace

int main(int argc, char** argv) {
    namespace asio = boost::asio;
    if (argc > 1 && std::string_view(argv[1]) == "token") return mint_token(argc - 1, argv + 1);
    if (argc > 1 && std::string_view(argv[1]) == "check-config")
        return check_config(argc - 1, argv + 1);

    auto command_line = herald::parse_command_line(argc, argv);
    if (!command_line) {
        print_problems("herald", command_line.error());
        std::fputs("Try 'herald --help'.\n", stderr);
        return 2;
    }
    if (command_line->show_help) {
        std::fputs(herald::usage().c_str(), stdout);
        return 0;
    }
    const herald::Config& config = command_line->config;
    herald::set_log_level(config.log_level);
    herald::set_log_format(config.log_format, config.log_timestamps);
    // One I/O thread allocates from the main arena, which grows by brk() with a 128 KiB pad; an
    // arena of its own would grow by one mprotect() per page (1.7 system calls per connection).
    // Several I/O threads keep an arena each, rather than share one lock. Set before any thread
    // starts: a thread picks its arena at its first allocation.
    if (config.threads == 1) mallopt(M_ARENA_MAX, 1);

    // Installed before the server starts, so that an early SIGTERM is a graceful one too.
    asio::io_context signal_context(1);
    asio::signal_set signals(signal_context, SIGINT, SIGTERM);

    std::optional<herald::Server> server;
    try {
        server.emplace(config);
    } catch (const std::invalid_argument& error) {
        // A log line, so that a json log stays all JSON.
        herald::log_error("invalid_config", {{"error", error.what()}});
        return 2;
    }
    try {
        server->start();
    } catch (const std::exception& error) {
        herald::log_error("start_failed", {{"error", error.what()}});
        return 1;
    }
    Shutdown shutdown(*server, signals, config.drain_delay);
    shutdown.start();
    signal_context.run();
    server->wait();
    return 0;
}
