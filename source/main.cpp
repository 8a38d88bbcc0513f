// herald: a WebSocket push center. See README.md.
#include <csignal>
#include <cstdio>
#include <exception>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "herald/config.hpp"
#include "herald/log.hpp"
#include "herald/server.hpp"

int main(int argc, char** argv) {
    namespace asio = boost::asio;
    auto command_line = herald::parse_command_line(argc, argv);
    if (!command_line) {
        std::fprintf(stderr, "herald: %s\nTry 'herald --help'.\n", command_line.error().c_str());
        return 2;
    }
    if (command_line->show_help) {
        std::fputs(herald::usage().c_str(), stdout);
        return 0;
    }
    const herald::Config& config = command_line->config;
    herald::set_log_level(config.log_level);

    // Installed before the server starts, so that an early SIGTERM is a graceful one too.
    asio::io_context signal_context(1);
    asio::signal_set signals(signal_context, SIGINT, SIGTERM);

    herald::Server server(config);
    try {
        server.start();
    } catch (const std::exception& error) {
        herald::log_error("start_failed", {{"error", error.what()}});
        return 1;
    }
    signals.async_wait([&server](herald::error_code error, int signal) {
        if (error) return;
        herald::log_info("signal", {{"signal", signal == SIGINT ? "SIGINT" : "SIGTERM"}});
        server.stop();
    });
    signal_context.run();
    server.wait();
    return 0;
}
