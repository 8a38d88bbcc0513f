#include "scenario.hpp"

#include <unistd.h>

#include <csignal>
#include <cstring>
#include <iostream>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace herald::bench {

ScenarioContext::ScenarioContext(const Invocation& invocation)
    : invocation(invocation),
      common(invocation.common),
      adapter(invocation.common),
      server(invocation.common.pids),
      uid_prefix(invocation.common.uid_prefix.empty() ? random_uid_prefix()
                                                      : invocation.common.uid_prefix) {}

namespace {
void on_watchdog(int) {
    const char message[] = "herald-bench: watchdog: --max-time reached, exiting\n";
    [[maybe_unused]] auto written = ::write(2, message, sizeof message - 1);
    ::_exit(3);
}
}  // namespace

void arm_watchdog(Duration max_time) {
    std::signal(SIGALRM, on_watchdog);
    auto seconds = std::chrono::ceil<std::chrono::seconds>(max_time).count();
    ::alarm(static_cast<unsigned>(std::max<std::int64_t>(1, seconds)));
}

int run_scenario(const Invocation& invocation, ScenarioBody body) {
    arm_watchdog(invocation.common.max_time);
    raise_descriptor_limit();
    asio::io_context io_context(1);
    ScenarioContext context(invocation);
    std::exception_ptr failure;
    auto on_end = [&failure](std::exception_ptr error) { failure = error; };
    asio::co_spawn(io_context, body(context), on_end);
    io_context.run();
    if (failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& error) {
            std::cerr << "herald-bench " << invocation.command << ": " << error.what() << '\n';
        }
        return 2;
    }
    context.result["server_alive"] = context.server.alive();
    if (!context.server.alive()) context.ok = false;
    context.result["errors"] = context.errors.to_json();
    context.result["ok"] = context.ok;
    publish_result(context.result, context.common,
                   context.summary + (context.ok ? "" : "  [NOT OK: see errors]"));
    return context.ok ? 0 : 1;
}

void put_usage(boost::json::object& result, const CpuWindow::Usage& usage) {
    result["window_sec"] = usage.wall_seconds;
    result["server_cpu_sec"] = usage.server_seconds;
    result["server_cpu_sec_schedstat"] = usage.server_scheduled_seconds;
    result["server_cpu_pct"] =
        usage.wall_seconds > 0 ? 100 * usage.server_seconds / usage.wall_seconds : 0.0;
    result["bench_cpu_sec"] = usage.own_seconds;
    result["bench_cpu_pct"] =
        usage.wall_seconds > 0 ? 100 * usage.own_seconds / usage.wall_seconds : 0.0;
    result["machine_busy_cores"] = usage.machine_busy_cores;
    result["other_busy_cores"] = usage.other_busy_cores;
}

void put_receive_stats(ScenarioContext& context, const ReceiveStats& stats) {
    auto& result = context.result;
    result["frames"] = stats.frames;
    result["malformed"] = stats.malformed;
    result["misrouted"] = stats.misrouted;
    result["dropped_connections"] = stats.dropped;
    if (stats.malformed) context.errors.add("receive", "malformed messages", stats.malformed);
    if (stats.misrouted) context.errors.add("receive", "probes at the wrong uid", stats.misrouted);
    if (stats.dropped)
        context.errors.add("receive", "connections closed by the server", stats.dropped);
    if (stats.malformed || stats.misrouted || stats.dropped) context.ok = false;
}

}  // namespace herald::bench
