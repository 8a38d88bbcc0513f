// The scenarios, and the frame they share: one io_context on one thread, the server's
// processes for /proc sampling, and the result being built.
#pragma once

#include <string>

#include <boost/json/object.hpp>

#include "adapter.hpp"
#include "options.hpp"
#include "proc_stats.hpp"
#include "result.hpp"
#include "subscriber.hpp"

namespace herald::bench {

struct ScenarioContext {
    explicit ScenarioContext(const Invocation& invocation);

    const Invocation& invocation;
    const CommonOptions& common;
    Adapter adapter;
    ServerProcesses server;
    std::string uid_prefix;
    boost::json::object result;
    ErrorCounter errors;
    std::string summary;  // one line for stderr
    bool ok = true;       // everything sent arrived and nothing failed
};

using ScenarioBody = awaitable<void> (*)(ScenarioContext& context);

// Runs `body` on a fresh single-threaded io_context, then publishes its result. Returns the
// process exit status: 0 when ok, 1 when something was lost or failed, 2 when it crashed.
int run_scenario(const Invocation& invocation, ScenarioBody body);

// fanout (closed loop) and latency (open loop at a fixed rate), after invocation.command.
awaitable<void> publish_scenario(ScenarioContext& context);
awaitable<void> multicast_scenario(ScenarioContext& context);
// connections, churn and publishing for a long time, sampled into a CSV (scenario_soak.cpp).
awaitable<void> soak_scenario(ScenarioContext& context);
// conns (and scale, conns over the nodes of a cluster) forks its client processes, so it runs
// outside any io_context.
int run_conns(const Invocation& invocation);
int run_report(const ReportOptions& options);

// Ends the process after `max_time` whatever happens (a hung server must not hang CI).
void arm_watchdog(Duration max_time);

// Adds the CPU figures of a measured window to `result`.
void put_usage(boost::json::object& result, const CpuWindow::Usage& usage);
// Adds what the subscribers received, and notes in `context` what went wrong.
void put_receive_stats(ScenarioContext& context, const ReceiveStats& stats);

}  // namespace herald::bench
