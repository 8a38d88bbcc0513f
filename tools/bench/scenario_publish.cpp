// fanout: M users, C publishers each on one keep-alive connection, publishing to random users
// as fast as the answers come back (closed loop) for D seconds.
// latency: the same users, an open-loop pacer handing out send times at a fixed rate to 16
// publisher connections; latency counts from the actual send, and the pacer's lag is reported.
// Both then wait (bounded) until every published message arrived: lost = published - received.
#include <memory>
#include <random>
#include <sstream>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include "audience.hpp"
#include "payload.hpp"
#include "scenario.hpp"

namespace herald::bench {
namespace {

using TicketChannel = asio::experimental::channel<void(error_code, std::int64_t)>;

// What the publishers of one run share.
struct PublishRun {
    PublishRun(asio::any_io_executor executor, const Adapter& adapter, PublishOptions options,
               std::vector<Subscriber*> targets, ErrorCounter& errors)
        : adapter(adapter),
          options(options),
          targets(std::move(targets)),
          errors(errors),
          publishers(std::move(executor)) {}

    const Adapter& adapter;
    PublishOptions options;
    std::vector<Subscriber*> targets;
    ErrorCounter& errors;
    Clock::time_point start;
    Clock::time_point end;
    std::uint64_t attempted = 0;
    std::uint64_t published = 0;  // accepted with a 2xx answer
    std::uint64_t unreached = 0;  // accepted, but the server said nobody got it
    std::uint64_t failed = 0;
    std::uint64_t not_sent = 0;  // latency: the publishers fell hopelessly behind the pacer
    LatencySamples round_trips;
    LatencySamples pacer_lag;
    WaitGroup publishers;
};

awaitable<void> publish_one(PublishRun& run, RawHttpConnection& connection,
                            const Subscriber& target, std::string& message) {
    ++run.attempted;
    std::int64_t sent_ns = now_ns();
    write_timed_message(message, sent_ns, run.options.size);
    connection.request().clear();
    run.adapter.append_publish(connection.request(), target.uid, message);
    HttpAnswer answer = co_await connection.exchange();
    run.round_trips.add(now_ns() - sent_ns);
    if (answer.error) {
        ++run.failed;
        run.errors.add("publish", answer.error);
    } else if (!answer.accepted()) {
        ++run.failed;
        run.errors.add("publish", "HTTP " + std::to_string(answer.status));
    } else {
        ++run.published;
        if (!run.adapter.reached_someone(answer.status, answer.body)) ++run.unreached;
    }
}

awaitable<void> publish_closed_loop(std::shared_ptr<PublishRun> run, RawHttpConnection* connection,
                                    std::uint64_t seed) {
    std::mt19937_64 random(seed);
    std::string message;
    while (Clock::now() < run->end &&
           run->attempted < static_cast<std::uint64_t>(run->options.max_messages)) {
        const Subscriber& target = *run->targets[random() % run->targets.size()];
        co_await publish_one(*run, *connection, target, message);
    }
}

awaitable<void> publish_on_tickets(std::shared_ptr<PublishRun> run, RawHttpConnection* connection,
                                   std::shared_ptr<TicketChannel> tickets, std::uint64_t seed) {
    std::mt19937_64 random(seed);
    std::string message;
    for (;;) {
        auto [error, due_ns] = co_await tickets->async_receive(use_nothrow);
        if (error || due_ns < 0) break;
        run->pacer_lag.add(now_ns() - due_ns);
        const Subscriber& target = *run->targets[random() % run->targets.size()];
        co_await publish_one(*run, *connection, target, message);
    }
}

// Hands out one ticket (its due time) per message at the fixed rate, from run->start on; a
// pacer that fell behind catches up at once, as an open loop must. Ends with one stop ticket
// per publisher.
awaitable<void> pace(std::shared_ptr<PublishRun> run, std::shared_ptr<TicketChannel> tickets,
                     int publishers) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const double seconds = std::chrono::duration<double>(run->options.duration).count();
    const auto total = std::min<std::int64_t>(std::int64_t(run->options.rate * seconds),
                                              run->options.max_messages);
    const double interval_ns = 1e9 / run->options.rate;
    const error_code no_error;
    for (std::int64_t i = 0; i < total; ++i) {
        auto due = run->start + std::chrono::nanoseconds(std::int64_t(double(i) * interval_ns));
        if (due > Clock::now()) {
            timer.expires_at(due);
            co_await timer.async_wait(use_nothrow);
        }
        std::int64_t due_ns = std::chrono::nanoseconds(due.time_since_epoch()).count();
        if (!tickets->try_send(no_error, due_ns)) ++run->not_sent;
    }
    const std::int64_t stop_ticket = -1;
    for (int i = 0; i < publishers; ++i) {
        co_await tickets->async_send(no_error, stop_ticket, use_nothrow);
    }
}

}  // namespace

awaitable<void> publish_scenario(ScenarioContext& context) {
    const bool open_loop = context.invocation.command == "latency";
    const PublishOptions& options = context.invocation.publish;
    auto executor = co_await asio::this_coro::executor;
    auto& result = context.result;
    result["scenario"] = context.invocation.command;
    std::ostringstream params;
    params << "m=" << options.users << " c=" << options.concurrency
           << " d=" << options.duration.count() / 1000.0 << "s size=" << options.size;
    if (open_loop) params << " rate=" << options.rate;
    result["params"] = params.str();

    // Subscribers, then probes until the server has registered each of them.
    std::vector<Subscriber> subscribers = make_subscribers(context.uid_prefix, 0, options.users);
    ReceiveStats stats;
    DialPlan plan;
    plan.server = context.common.server();
    plan.timeout = context.common.dial_timeout;
    plan.concurrency = context.common.dial_concurrency;
    plan.give_up_at = Clock::now() + std::chrono::seconds(60);
    DialOutcome dialed =
        co_await dial_all(subscribers, context.adapter, plan, stats, context.errors);
    PublisherPool pool(executor, context.common.publisher(), context.common.dial_timeout);
    std::vector<RawHttpConnection*> probe_connections;
    for (int i = 0; i < 8; ++i)
        probe_connections.push_back(&pool.add());
    const auto probe_deadline = Clock::now() + std::chrono::seconds(30);
    co_await probe_until_ready(subscribers, probe_connections, context.adapter, stats,
                               probe_deadline, context.errors);
    for (RawHttpConnection* connection : probe_connections)
        connection->close();

    std::vector<Subscriber*> targets = ready_subscribers(subscribers);
    result["users"] = options.users;
    result["connected"] = dialed.connected;
    result["ready"] = targets.size();
    result["concurrency"] = options.concurrency;
    result["rate"] = open_loop ? options.rate : 0;
    result["size"] = options.size;
    if (targets.size() < std::size_t(options.users)) {
        context.ok = false;
        context.errors.add("setup", "users not ready",
                           std::uint64_t(options.users) - targets.size());
    }
    if (targets.empty()) {
        context.summary = "no user became ready";
        co_await close_all(subscribers, stats);
        co_await pool.stop();
        co_return;
    }

    // The measured window: publishing, then the drain.
    auto run = std::make_shared<PublishRun>(executor, context.adapter, options, std::move(targets),
                                            context.errors);
    std::vector<RawHttpConnection*> publishers;
    for (int i = 0; i < options.concurrency; ++i)
        publishers.push_back(&pool.add());
    // Connect before the window: the peers' load generator does too, and a connect is not a
    // publish.
    for (RawHttpConnection* publisher : publishers) {
        if (auto error = co_await publisher->connect(); error)
            context.errors.add("publisher connect", error);
    }
    stats.record_latency = true;
    const std::uint64_t timed_before = stats.timed;
    CpuWindow window(context.server);
    run->start = Clock::now();
    run->end = run->start + options.duration;
    std::random_device seeds;
    auto tickets = std::make_shared<TicketChannel>(executor, 100000);
    run->publishers.add(options.concurrency + (open_loop ? 1 : 0));
    auto on_publisher_end = [run](std::exception_ptr failure) {
        if (failure) run->errors.add("publish", "unexpected exception");
        run->publishers.done();
    };
    for (RawHttpConnection* publisher : publishers) {
        std::uint64_t seed = (std::uint64_t(seeds()) << 32) | seeds();
        if (open_loop)
            asio::co_spawn(executor, publish_on_tickets(run, publisher, tickets, seed),
                           on_publisher_end);
        else
            asio::co_spawn(executor, publish_closed_loop(run, publisher, seed), on_publisher_end);
    }
    if (open_loop)
        asio::co_spawn(executor, pace(run, tickets, options.concurrency), on_publisher_end);
    co_await run->publishers.wait();
    const double publish_seconds = std::chrono::duration<double>(Clock::now() - run->start).count();
    const auto drain_deadline = Clock::now() + options.drain;
    co_await wait_for_arrivals(stats, timed_before + run->published, 0, drain_deadline);
    CpuWindow::Usage usage = window.end();
    stats.record_latency = false;

    const std::uint64_t delivered = stats.timed - timed_before;
    const std::int64_t lost = std::int64_t(run->published) - std::int64_t(delivered);
    result["duration_sec"] = publish_seconds;
    result["attempted"] = run->attempted;
    result["published"] = run->published;
    result["pub_errors"] = run->failed;
    result["not_sent"] = run->not_sent;
    result["unreached"] = run->unreached;
    result["delivered"] = delivered;
    result["lost"] = lost;
    result["pub_per_sec"] = double(run->published) / publish_seconds;
    result["deliv_per_sec"] = double(delivered) / publish_seconds;
    Percentiles latency = stats.latency.percentiles();
    put_percentiles(result, "lat", latency);
    result["lat_samples"] = latency.count;
    put_percentiles(result, "rtt", run->round_trips.percentiles());
    if (open_loop) put_percentiles(result, "pacer_lag", run->pacer_lag.percentiles());
    put_usage(result, usage);
    result["server_cpu_us_per_delivery"] =
        delivered > 0 ? usage.server_seconds * 1e6 / double(delivered) : 0.0;
    Memory memory = context.server.memory();
    result["server_rss_kb"] = memory.rss_kib;
    result["server_pss_kb"] = memory.pss_kib;
    result["bench_rss_kb"] = own_rss_kib();
    put_receive_stats(context, stats);
    if (lost != 0)
        context.errors.add("receive", lost > 0 ? "lost messages" : "extra messages",
                           std::uint64_t(lost > 0 ? lost : -lost));
    if (lost != 0 || run->failed || run->not_sent) context.ok = false;

    std::ostringstream summary;
    summary.precision(3);
    summary << context.invocation.command << ": " << run->published << " published ("
            << double(run->published) / publish_seconds << "/s), " << delivered
            << " delivered, lost " << lost << "; latency p50 " << latency.p50_us / 1000
            << " ms, p99 " << latency.p99_us / 1000 << " ms, p99.9 " << latency.p999_us / 1000
            << " ms, max " << latency.max_us / 1000 << " ms; server CPU "
            << (delivered ? usage.server_seconds * 1e6 / double(delivered) : 0.0) << " us/delivery";
    context.summary = summary.str();

    co_await close_all(subscribers, stats);
    co_await pool.stop();
}

}  // namespace herald::bench
