// conns: N idle logged-in connections; the server's memory per connection and the connect rate.
// scale: the same over the nodes of a cluster (worker i dials node i % n), every connection
// probed through the next node, so that each probe crosses Redis; memory per node.
//
// One process may hold at most 20,000 descriptors here (a hard limit no one can raise), so the
// connections are spread over forked worker processes, each dialing from its own loopback
// source address (127.0.0.2, .3, ...). The parent only coordinates and samples the server:
//
//   parent                                   worker i (its own io_context, one thread)
//   fork; wait for "ready"          <-----   opens its probe publisher first (a server out of
//                                            descriptors could not accept it later)
//   sample server memory; "dial"    ----->   dials its share, 200 in flight, until done, the
//                                   <-----   dial budget ends, or too many dials failed
//   settle, sample memory; "verify K" --->   publishes probes to K random uids of its own
//                  (or "verify all")  <---   (or to all of them) and counts arrivals
//   "close"                         ----->   RST every connection, report its own CPU, exit
//
// Commands are text lines on a pipe to each worker; reports are JSON lines on a pipe back.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "audience.hpp"
#include "payload.hpp"
#include "scenario.hpp"

namespace herald::bench {
namespace {

struct WorkerPlan {
    int index = 0;
    std::size_t node = 0;  // scale: the index in --ports of the node it dials
    int first = 0;         // its uids are <prefix><first> ... <prefix><first + count - 1>
    int count = 0;
    std::optional<asio::ip::address> source;
    int max_failures = 0;
};

// ---- the worker process ----------------------------------------------------------------

// Up to `count` of the connected subscribers, picked at random.
std::vector<Subscriber*> random_sample(std::vector<Subscriber>& subscribers, std::size_t count) {
    std::vector<Subscriber*> connected;
    for (auto& subscriber : subscribers)
        if (subscriber.connection) connected.push_back(&subscriber);
    std::mt19937 random(std::random_device{}());
    std::shuffle(connected.begin(), connected.end(), random);
    connected.resize(std::min(count, connected.size()));
    return connected;
}

void write_report(int fd, const boost::json::object& report) {
    std::string line = boost::json::serialize(report) + "\n";
    for (std::size_t written = 0; written < line.size();) {
        ssize_t n = ::write(fd, line.data() + written, line.size() - written);
        if (n <= 0) return;  // the parent is gone; the worker ends at its next command
        written += std::size_t(n);
    }
}

awaitable<std::string> next_command(asio::posix::stream_descriptor& commands, std::string& buffer) {
    auto [error, size] =
        co_await asio::async_read_until(commands, asio::dynamic_buffer(buffer), '\n', use_nothrow);
    if (error) co_return std::string("close");  // the parent is gone
    std::string line = buffer.substr(0, size - 1);
    buffer.erase(0, size);
    co_return line;
}

// Keeps the probe publisher's connection from idling out (herald closes an idle keep-alive
// after 30 s) while the dialing runs, which takes longer once the server is out of descriptors.
struct KeepAlive {
    explicit KeepAlive(asio::any_io_executor executor) : wakeup(executor), running(executor) {}
    bool stop = false;
    Wakeup wakeup;
    WaitGroup running;
};

awaitable<void> keep_alive(std::vector<RawHttpConnection*> publishers, const Adapter& adapter,
                           std::string idle_uid, KeepAlive& keep) {
    std::string message = "idle";
    while (!keep.stop) {
        const auto next = Clock::now() + std::chrono::seconds(5);
        co_await keep.wakeup.sleep_until(next);
        for (RawHttpConnection* publisher : publishers) {
            if (keep.stop) break;
            publisher->request().clear();
            adapter.append_publish(publisher->request(), idle_uid, message);
            co_await publisher->exchange();  // a failure reconnects on the next exchange
        }
    }
}

// Probe publishers of a worker: one for a sample, a few when every connection is probed.
constexpr int probe_connections_for_all = 4;

awaitable<void> worker_session(const Invocation& invocation, WorkerPlan plan, int command_fd,
                               int report_fd) {
    auto executor = co_await asio::this_coro::executor;
    const CommonOptions& common = invocation.common;
    const ConnsOptions& options = invocation.conns;
    Adapter adapter(common);
    ErrorCounter errors;
    asio::posix::stream_descriptor commands(executor, command_fd);
    std::string command_buffer;
    boost::json::object report;

    // Probes go to --publish-port when set (scale: the next node), else to the node dialed.
    PublisherPool pool(executor, common.publisher(), common.dial_timeout);
    const int probe_count = options.verify_all ? probe_connections_for_all : 1;
    for (int i = 0; i < probe_count; ++i) {
        if (auto error = co_await pool.add().connect(); error)
            errors.add("publisher connect", error);
    }
    report["phase"] = "ready";
    write_report(report_fd, report);

    std::string command = co_await next_command(commands, command_buffer);
    std::vector<Subscriber> subscribers =
        make_subscribers(common.uid_prefix, plan.first, plan.count);
    ReceiveStats stats;
    if (command == "dial") {
        DialPlan dial;
        dial.server = common.server();
        dial.source = plan.source;
        dial.timeout = common.dial_timeout;
        dial.concurrency = common.dial_concurrency;
        dial.max_failures = plan.max_failures;
        dial.give_up_at = Clock::now() + options.dial_budget;
        KeepAlive keep(executor);
        keep.running.add();
        auto on_keep_alive_end = [&keep](std::exception_ptr) { keep.running.done(); };
        asio::co_spawn(executor, keep_alive(pool.all(), adapter, common.uid_prefix + "idle", keep),
                       on_keep_alive_end);
        DialOutcome outcome = co_await dial_all(subscribers, adapter, dial, stats, errors);
        keep.stop = true;
        keep.wakeup.notify();
        co_await keep.running.wait();
        report = {};
        report["phase"] = "dialed";
        report["connected"] = outcome.connected;
        report["failed"] = outcome.failed;
        report["skipped"] = outcome.skipped;
        report["started_ns"] = outcome.started_ns;
        report["last_connected_ns"] = outcome.last_connected_ns;
        report["finished_ns"] = outcome.finished_ns;
        report["errors"] = errors.to_json();
        write_report(report_fd, report);
        command = co_await next_command(commands, command_buffer);
    }

    if (command.rfind("verify ", 0) == 0) {
        const std::string count = command.substr(7);
        const bool all = count == "all";
        std::vector<Subscriber*> connected =
            random_sample(subscribers, all ? subscribers.size() : std::size_t(std::stoul(count)));
        ErrorCounter probe_errors;
        const std::int64_t probes_started_ns = now_ns();
        // A probe's answer says whether it reached a connection of its user. One that reached
        // none met a login still joining (in seed mode a client is not told when it is in: a
        // storm of logins joins seconds after the last is sent), so it is sent again a moment
        // later, until the deadline; one that reached someone and never arrives is lost.
        const auto deadline = Clock::now() + std::chrono::seconds(all ? 60 : 20);
        std::set<Subscriber*> answered_reached, probed_again;
        std::vector<Subscriber*> pending = connected;
        for (bool first = true; !pending.empty() && Clock::now() < deadline; first = false) {
            if (!first) {
                probed_again.insert(pending.begin(), pending.end());
                co_await sleep_for(std::chrono::milliseconds(200));
            }
            std::vector<Subscriber*> reached =
                co_await publish_probes(pending, pool.all(), adapter, probe_errors);
            answered_reached.insert(reached.begin(), reached.end());
            std::erase_if(pending, [&answered_reached](Subscriber* subscriber) {
                return subscriber->ready || answered_reached.count(subscriber) != 0;
            });
        }
        co_await wait_for_arrivals(stats, 0, connected.size(), deadline);
        const double probe_seconds = double(now_ns() - probes_started_ns) / 1e9;
        std::size_t verified = 0, late = 0;
        for (Subscriber* subscriber : connected) {
            verified += subscriber->ready ? 1 : 0;
            if (subscriber->ready && probed_again.count(subscriber) != 0) ++late;
            if (subscriber->ready) continue;
            probe_errors.add(answered_reached.count(subscriber) != 0
                                 ? "lost: a probe answered as delivered never arrived"
                                 : "never joined: every probe reached no connection",
                             subscriber->uid);
        }
        report = {};
        report["phase"] = "verified";
        report["verified"] = verified;
        report["tried"] = connected.size();
        report["late"] = late;
        report["probe_sec"] = probe_seconds;
        report["errors"] = probe_errors.to_json();
        write_report(report_fd, report);
        command = co_await next_command(commands, command_buffer);
    }

    // "close", or the parent is gone.
    std::uint64_t alive = stats.open;
    std::uint64_t dropped = stats.dropped;
    co_await close_all(subscribers, stats);
    co_await pool.stop();
    report = {};
    report["phase"] = "closed";
    report["alive"] = alive;
    report["dropped"] = dropped;
    report["cpu_sec"] = own_cpu_seconds();
    report["rss_kb"] = own_rss_kib();
    write_report(report_fd, report);
}

int worker_main(const Invocation& invocation, WorkerPlan plan, int command_fd, int report_fd) {
    arm_watchdog(invocation.common.max_time);
    raise_descriptor_limit();
    asio::io_context io_context(1);
    int status = 0;
    auto on_end = [&status, &plan](std::exception_ptr failure) {
        if (!failure) return;
        status = 2;
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& error) {
            std::cerr << "herald-bench conns worker " << plan.index << ": " << error.what() << '\n';
        }
    };
    asio::co_spawn(io_context, worker_session(invocation, plan, command_fd, report_fd), on_end);
    io_context.run();
    return status;
}

// ---- the parent -------------------------------------------------------------------------

struct Worker {
    pid_t pid = -1;
    std::size_t node = 0;
    int command_fd = -1;  // parent writes
    int report_fd = -1;   // parent reads
    std::string received;
    bool alive = true;
};

void send_command(Worker& worker, const std::string& line) {
    std::string text = line + "\n";
    if (::write(worker.command_fd, text.data(), text.size()) != ssize_t(text.size()))
        worker.alive = false;
}

// The worker's next report, or nothing after `timeout`.
std::optional<boost::json::object> read_report(Worker& worker, Duration timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        auto newline = worker.received.find('\n');
        if (newline != std::string::npos) {
            std::string line = worker.received.substr(0, newline);
            worker.received.erase(0, newline + 1);
            error_code error;
            auto parsed = boost::json::parse(line, error);
            if (error || !parsed.is_object()) return std::nullopt;
            return parsed.as_object();
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (!worker.alive || left.count() <= 0) return std::nullopt;
        pollfd poll_fd{worker.report_fd, POLLIN, 0};
        if (::poll(&poll_fd, 1, int(left.count())) <= 0) continue;
        char chunk[4096];
        ssize_t n = ::read(worker.report_fd, chunk, sizeof chunk);
        if (n <= 0) {
            worker.alive = false;
            return std::nullopt;
        }
        worker.received.append(chunk, std::size_t(n));
    }
}

std::int64_t number(const boost::json::object& report, const char* key) {
    const auto* value = report.if_contains(key);
    return value && value->is_number() ? value->to_number<std::int64_t>() : 0;
}

void reap(Worker& worker) {
    ::close(worker.command_fd);
    ::close(worker.report_fd);
    for (int i = 0; i < 100; ++i) {
        if (::waitpid(worker.pid, nullptr, WNOHANG) == worker.pid) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(worker.pid, SIGKILL);
    ::waitpid(worker.pid, nullptr, 0);
}

// The one server (conns), or a node of the cluster (scale): its processes, and what the
// connections of its workers came to.
struct NodeTally {
    std::uint16_t port = 0;
    ServerProcesses processes;
    Memory before, after;
    std::int64_t connected = 0, verified = 0, tried = 0;
};

double bytes_per_connection(std::int64_t before_kib, std::int64_t after_kib,
                            std::int64_t connections) {
    return connections > 0 ? double(after_kib - before_kib) * 1024 / double(connections) : 0.0;
}

}  // namespace

int run_conns(const Invocation& original) {
    Invocation invocation = original;
    CommonOptions& common = invocation.common;
    const ConnsOptions& options = invocation.conns;
    const bool scale = invocation.command == "scale";
    arm_watchdog(common.max_time);
    if (common.uid_prefix.empty()) common.uid_prefix = random_uid_prefix();
    const int total = options.connections;

    // The nodes (conns: the one server). With a PID per node, memory is sampled per node; the
    // PIDs after the nodes' (redis-server) count in the totals only.
    std::vector<NodeTally> nodes;
    for (std::uint16_t port : options.ports.empty() ? std::vector{common.port} : options.ports)
        nodes.push_back(NodeTally{port, {}, {}, {}, 0, 0, 0});
    const int node_count = int(nodes.size());
    const bool per_node_memory = scale && common.pids.size() >= nodes.size();
    std::vector<int> other_pids;
    if (per_node_memory) {
        for (std::size_t i = 0; i < common.pids.size(); ++i) {
            if (i < nodes.size())
                nodes[i].processes = ServerProcesses({common.pids[i]});
            else
                other_pids.push_back(common.pids[i]);
        }
    }
    ServerProcesses others(other_pids);

    int workers =
        options.workers > 0
            ? options.workers
            : std::max(2, (total + options.per_worker - 1) / std::max(1, options.per_worker));
    // As many workers for every node: worker i dials node i % n.
    workers = (workers + node_count - 1) / node_count * node_count;
    const int most_workers = 250 - 250 % node_count;  // 127.0.0.2 ... 127.0.0.251
    workers = std::min({workers, total, most_workers});

    // Fork before any io_context or thread exists: each worker starts from a clean slate.
    std::vector<Worker> children;
    std::vector<int> parent_fds;
    std::cout.flush();
    std::cerr.flush();
    for (int i = 0, first = 0; i < workers; ++i) {
        WorkerPlan plan;
        plan.index = i;
        plan.node = std::size_t(i % node_count);
        plan.first = first;
        plan.count = total / workers + (i < total % workers ? 1 : 0);
        first += plan.count;
        plan.max_failures = (options.max_fail + workers - 1) / workers;
        if (options.spread_sources)
            plan.source = asio::ip::make_address_v4("127.0.0." + std::to_string(2 + i));
        // A worker dials its node and, in a cluster, probes through the next one.
        Invocation worker_invocation = invocation;
        worker_invocation.common.port = nodes[plan.node].port;
        if (scale && node_count > 1)
            worker_invocation.common.publish_port = nodes[(plan.node + 1) % nodes.size()].port;
        int commands[2], reports[2];
        if (::pipe(commands) != 0 || ::pipe(reports) != 0) {
            std::cerr << "herald-bench conns: pipe failed\n";
            return 2;
        }
        pid_t pid = ::fork();
        if (pid < 0) {
            std::cerr << "herald-bench conns: fork failed\n";
            return 2;
        }
        if (pid == 0) {
            for (int fd : parent_fds)
                ::close(fd);
            ::close(commands[1]);
            ::close(reports[0]);
            int status = worker_main(worker_invocation, plan, commands[0], reports[1]);
            std::cerr.flush();
            ::_exit(status);
        }
        ::close(commands[0]);
        ::close(reports[1]);
        parent_fds.push_back(commands[1]);
        parent_fds.push_back(reports[0]);
        Worker worker;
        worker.pid = pid;
        worker.node = plan.node;
        worker.command_fd = commands[1];
        worker.report_fd = reports[0];
        children.push_back(std::move(worker));
    }

    ErrorCounter errors;
    boost::json::object result;
    result["scenario"] = invocation.command;
    result["target"] = total;
    result["workers"] = workers;
    result["nodes"] = node_count;
    std::ostringstream params;
    params << "n=" << total << " workers=" << workers;
    if (scale)
        params << " nodes=" << node_count
               << (node_count > 1 ? " probes through the next node" : " probes through the node")
               << (options.verify_all ? " to every connection" : "");
    params << " dial_concurrency=" << common.dial_concurrency << "/worker";
    result["params"] = params.str();
    for (auto& worker : children)
        if (!read_report(worker, std::chrono::seconds(30))) errors.add("worker", "never ready");

    // Dial.
    ServerProcesses server(common.pids);
    Memory before = server.memory();
    for (NodeTally& node : nodes)
        node.before = node.processes.memory();
    const Memory others_before = others.memory();
    CpuWindow window(server);
    const std::int64_t started_ns = now_ns();
    for (auto& worker : children)
        send_command(worker, "dial");
    std::int64_t connected = 0, failed = 0, skipped = 0, last_connected_ns = started_ns,
                 finished_ns = started_ns;
    const Duration dial_wait = options.dial_budget + 2 * common.dial_timeout + Duration(30000);
    for (auto& worker : children) {
        auto report = read_report(worker, dial_wait);
        if (!report) {
            errors.add("worker", "no dial report");
            continue;
        }
        connected += number(*report, "connected");
        nodes[worker.node].connected += number(*report, "connected");
        failed += number(*report, "failed");
        skipped += number(*report, "skipped");
        last_connected_ns = std::max(last_connected_ns, number(*report, "last_connected_ns"));
        finished_ns = std::max(finished_ns, number(*report, "finished_ns"));
        if (const auto* lines = report->if_contains("errors"); lines && lines->is_array())
            errors.merge(lines->as_array());
    }
    const double dial_seconds = double(finished_ns - started_ns) / 1e9;
    const double connect_seconds = double(last_connected_ns - started_ns) / 1e9;
    std::cerr << invocation.command << ": " << connected << "/" << total << " connected in "
              << dial_seconds << " s (" << workers << " workers)\n";
    std::this_thread::sleep_for(options.settle);
    Memory after = server.memory();
    for (NodeTally& node : nodes)
        node.after = node.processes.memory();
    const Memory others_after = others.memory();
    CpuWindow::Usage usage = window.end();

    // Verify: probes to a sample of each worker's connections, or to all of them.
    std::int64_t verified = 0, tried = 0, late = 0;
    double probe_seconds = 0;
    for (auto& worker : children) {
        int share = (options.verify + workers - 1) / workers;
        send_command(worker, options.verify_all ? "verify all" : "verify " + std::to_string(share));
    }
    for (auto& worker : children) {
        auto report = read_report(worker, std::chrono::seconds(options.verify_all ? 300 : 60));
        if (!report) {
            errors.add("worker", "no verify report");
            continue;
        }
        verified += number(*report, "verified");
        tried += number(*report, "tried");
        late += number(*report, "late");
        nodes[worker.node].verified += number(*report, "verified");
        nodes[worker.node].tried += number(*report, "tried");
        if (const auto* seconds = report->if_contains("probe_sec"); seconds && seconds->is_number())
            probe_seconds = std::max(probe_seconds, seconds->to_number<double>());
        if (const auto* lines = report->if_contains("errors"); lines && lines->is_array())
            errors.merge(lines->as_array());
    }
    std::cerr << invocation.command << ": " << verified << "/" << tried << " verified in "
              << probe_seconds << " s (" << late
              << " on a later probe: their logins were still joining)\n";
    // Holding: what the idle connections cost the server (keep-alive pings, a cluster's
    // presence refreshes).
    CpuWindow hold_window(server);
    std::this_thread::sleep_for(options.hold);
    CpuWindow::Usage hold_usage = hold_window.end();

    // Close: RST everything, then the workers exit.
    std::int64_t alive = 0, dropped = 0, bench_rss_kib = 0;
    for (auto& worker : children)
        send_command(worker, "close");
    for (auto& worker : children) {
        auto report = read_report(worker, std::chrono::seconds(60));
        if (report) {
            alive += number(*report, "alive");
            dropped += number(*report, "dropped");
            bench_rss_kib += number(*report, "rss_kb");
        } else {
            errors.add("worker", "no close report");
        }
        reap(worker);
    }
    std::this_thread::sleep_for(options.settle);
    Memory closed = server.memory();

    result["connected"] = connected;
    result["failed"] = failed;
    result["skipped"] = skipped;
    result["verified"] = verified;
    result["verify_tried"] = tried;
    result["verified_late"] = late;
    result["probe_sec"] = probe_seconds;
    result["alive_at_end"] = alive;
    result["dropped_connections"] = dropped;
    result["dial_sec"] = dial_seconds;
    result["connect_sec"] = connect_seconds;
    // Connections completed per second of dialing, up to the last that succeeded: a server out
    // of descriptors leaves dials to time out after that, which is not connecting.
    const double rate = connect_seconds > 0 ? double(connected) / connect_seconds : 0.0;
    result["conns_per_sec"] = rate;
    result["rss_before_kb"] = before.rss_kib;
    result["rss_after_kb"] = after.rss_kib;
    result["pss_before_kb"] = before.pss_kib;
    result["pss_after_kb"] = after.pss_kib;
    result["rss_closed_kb"] = closed.rss_kib;
    const double rss_per_conn = bytes_per_connection(before.rss_kib, after.rss_kib, connected);
    const double pss_per_conn = bytes_per_connection(before.pss_kib, after.pss_kib, connected);
    result["rss_per_conn_b"] = rss_per_conn;
    result["pss_per_conn_b"] = pss_per_conn;
    if (per_node_memory) {
        boost::json::array per_node;
        for (const NodeTally& node : nodes) {
            boost::json::object entry;
            entry["port"] = node.port;
            entry["connected"] = node.connected;
            entry["verified"] = node.verified;
            entry["verify_tried"] = node.tried;
            entry["rss_before_kb"] = node.before.rss_kib;
            entry["rss_after_kb"] = node.after.rss_kib;
            entry["pss_before_kb"] = node.before.pss_kib;
            entry["pss_after_kb"] = node.after.pss_kib;
            entry["rss_per_conn_b"] =
                bytes_per_connection(node.before.rss_kib, node.after.rss_kib, node.connected);
            entry["pss_per_conn_b"] =
                bytes_per_connection(node.before.pss_kib, node.after.pss_kib, node.connected);
            per_node.push_back(std::move(entry));
        }
        result["per_node"] = std::move(per_node);
        if (others.enabled()) {
            // redis-server: its share of every connection (a subscription, a presence field).
            result["others_pss_before_kb"] = others_before.pss_kib;
            result["others_pss_after_kb"] = others_after.pss_kib;
            result["others_pss_per_conn_b"] =
                bytes_per_connection(others_before.pss_kib, others_after.pss_kib, connected);
        }
    }
    put_usage(result, usage);
    // The workers are reaped by now: their CPU is this process's children's.
    result["bench_cpu_sec"] = own_cpu_seconds() + children_cpu_seconds();
    result.erase("bench_cpu_pct");  // the window's share would leave the workers out
    result["bench_rss_kb"] = bench_rss_kib;
    result["server_cpu_us_per_conn"] =
        connected > 0 ? usage.server_seconds * 1e6 / double(connected) : 0.0;
    if (options.hold > Duration::zero()) {
        result["hold_sec"] = hold_usage.wall_seconds;
        result["hold_server_cpu_pct"] =
            hold_usage.wall_seconds > 0 ? 100 * hold_usage.server_seconds / hold_usage.wall_seconds
                                        : 0.0;
    }
    const bool server_alive = server.alive();
    result["server_alive"] = server_alive;
    result["errors"] = errors.to_json();
    const bool all_verified = options.verify_all ? tried == connected : tried > 0;
    const bool ok =
        server_alive && connected == total && verified == tried && all_verified && dropped == 0;
    result["ok"] = ok;

    std::ostringstream summary;
    summary.precision(4);
    summary << invocation.command << ": " << connected << "/" << total << " connected, " << verified
            << "/" << tried << " verified, " << rate << " conns/s; server RSS "
            << rss_per_conn / 1024 << " KiB/conn, PSS " << pss_per_conn / 1024 << " KiB/conn";
    if (per_node_memory) {
        summary << "; PSS per node, KiB/conn:";
        for (const NodeTally& node : nodes)
            summary << " "
                    << bytes_per_connection(node.before.pss_kib, node.after.pss_kib,
                                            node.connected) /
                           1024;
        if (others.enabled())
            summary << "; others (redis) "
                    << bytes_per_connection(others_before.pss_kib, others_after.pss_kib,
                                            connected) /
                           1024;
    }
    summary << (ok ? "" : "  [NOT OK: see errors]");
    publish_result(result, common, summary.str());
    return ok ? 0 : 1;
}

}  // namespace herald::bench
