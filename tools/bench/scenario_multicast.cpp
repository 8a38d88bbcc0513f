// multicast: M users, then ONE POST /send {"uids":[all M],"message":"T..."}, repeated K times,
// each time waiting until all M copies arrived. Reports deliveries/s (M*K over the time from
// each POST to its last arrival), the server's CPU per delivery, and latency from the POST to
// each receipt. A server without a uids list (seed-go, nchan) is recorded as not supported.
// batch (--batch N): the same, each send a batch publish {"messages":[...]} of N messages to
// random users, waiting until all N arrived; a server without batches is not supported.
#include <random>
#include <sstream>

#include <boost/asio/this_coro.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/system/system_error.hpp>

#include "audience.hpp"
#include "client/client.hpp"
#include "payload.hpp"
#include "scenario.hpp"

namespace herald::bench {
namespace {

// {"uids":["u0","u1",...],"message":"  and  "}: the timed message goes between, so the
// timestamp is taken right before the POST.
struct MulticastBody {
    std::string head;
    std::string tail = "\"}";
    std::string with(const std::string& message) const { return head + message + tail; }
};

MulticastBody multicast_body(const std::vector<Subscriber*>& targets) {
    MulticastBody body;
    body.head = "{\"uids\":[";
    for (std::size_t i = 0; i < targets.size(); ++i) {
        if (i) body.head += ',';
        body.head += boost::json::serialize(boost::json::value(targets[i]->uid));
    }
    body.head += "],\"message\":\"";
    return body;
}

std::string refusal_probe_body(const std::string& nobody, bool batch) {
    boost::json::object probe;
    probe["uids"] = boost::json::array{boost::json::value(nobody)};
    probe["message"] = "x";
    if (!batch) return boost::json::serialize(probe);
    boost::json::object entry{{"uid", nobody}, {"message", "x"}};
    return boost::json::serialize(boost::json::object{{"messages", boost::json::array{entry}}});
}

// {"messages":[{"uid":"u17","message":"T"},...]}: `count` entries to random targets, each with
// the same timed message.
std::string batch_body(const std::vector<Subscriber*>& targets, int count,
                       const std::string& message, std::mt19937& random) {
    std::uniform_int_distribution<std::size_t> pick(0, targets.size() - 1);
    const std::string quoted = boost::json::serialize(boost::json::value(message));
    std::string body = "{\"messages\":[";
    for (int i = 0; i < count; ++i) {
        if (i) body += ',';
        body += "{\"uid\":";
        body += boost::json::serialize(boost::json::value(targets[pick(random)]->uid));
        body += ",\"message\":";
        body += quoted;
        body += '}';
    }
    body += "]}";
    return body;
}

// Why the server does not take a uids list, or nothing: a POST for one uid nobody uses must
// be accepted.
awaitable<std::string> multicast_refusal(client::HttpClient& http, std::string send_path,
                                         std::string nobody, bool batch) {
    std::string body = refusal_probe_body(nobody, batch);
    client::HttpResponse answer = co_await http.post(send_path, body);
    if (answer.status < 200 || answer.status > 299)
        co_return "POST " + send_path + (batch ? " with messages" : " with uids") + ": HTTP " +
            std::to_string(answer.status);
    co_return std::string();
}

std::size_t delivered_count(const std::string& body) {
    error_code error;
    auto parsed = boost::json::parse(body, error);
    if (error || !parsed.is_object()) return 0;
    if (const auto* results = parsed.as_object().if_contains("results")) {
        // A batch: the sum of its entries'.
        std::size_t sum = 0;
        if (!results->is_array()) return 0;
        for (const auto& result : results->as_array())
            if (result.is_object())
                if (const auto* delivered = result.as_object().if_contains("delivered"))
                    sum += delivered->is_number() ? delivered->to_number<std::size_t>() : 0;
        return sum;
    }
    const auto* delivered = parsed.as_object().if_contains("delivered");
    if (!delivered || !delivered->is_number()) return 0;
    return delivered->to_number<std::size_t>();
}

}  // namespace

awaitable<void> multicast_scenario(ScenarioContext& context) {
    const MulticastOptions& options = context.invocation.multicast;
    auto& result = context.result;
    auto executor = co_await asio::this_coro::executor;
    const bool batch = options.batch > 0;
    // Batches to one user are the flood scenario: one connection with many frames queued at
    // once, which its writer sends together.
    const bool flood = batch && options.users == 1;
    result["scenario"] = flood ? "flood" : batch ? "batch" : "multicast";
    if (batch) result["batch"] = options.batch;
    result["users"] = options.users;
    result["repeats"] = options.repeats;
    result["size"] = options.size;
    std::ostringstream params;
    params << "m=" << options.users << " k=" << options.repeats << " size=" << options.size;
    if (batch) params << " batch=" << options.batch;
    result["params"] = params.str();
    const tcp::endpoint server = context.common.server();
    const tcp::endpoint publisher = context.common.publisher();
    const std::string& send_path = context.common.send_path;

    // One keep-alive connection through the test client for the POSTs: a few large requests,
    // where the raw publisher's leanness buys nothing.
    std::optional<client::HttpClient> http;
    std::string refusal;
    if (context.adapter.kind() == AdapterKind::nchan) {
        refusal = batch ? "nchan has no batch publish" : "nchan has no multicast publish";
    } else {
        try {
            http.emplace(co_await client::HttpClient::connect(publisher));
            std::string nobody = context.uid_prefix + "nobody";
            refusal = co_await multicast_refusal(*http, send_path, nobody, batch);
        } catch (const boost::system::system_error& error) {
            refusal = std::string("multicast probe failed: ") + error.what();
        }
    }
    if (!refusal.empty()) {
        result["supported"] = false;
        result["unsupported_reason"] = refusal;
        context.summary = std::string(flood   ? "flood"
                                      : batch ? "batch"
                                              : "multicast") +
                          ": not supported (" + refusal + ")";
        co_return;
    }
    result["supported"] = true;

    std::vector<Subscriber> subscribers = make_subscribers(context.uid_prefix, 0, options.users);
    ReceiveStats stats;
    DialPlan plan;
    plan.server = server;
    plan.timeout = context.common.dial_timeout;
    plan.concurrency = context.common.dial_concurrency;
    plan.give_up_at = Clock::now() + std::chrono::seconds(60);
    DialOutcome dialed =
        co_await dial_all(subscribers, context.adapter, plan, stats, context.errors);
    PublisherPool pool(executor, publisher, context.common.dial_timeout);
    std::vector<RawHttpConnection*> probe_connections;
    for (int i = 0; i < 8; ++i)
        probe_connections.push_back(&pool.add());
    const auto probe_deadline = Clock::now() + std::chrono::seconds(60);
    co_await probe_until_ready(subscribers, probe_connections, context.adapter, stats,
                               probe_deadline, context.errors);
    co_await pool.stop();
    std::vector<Subscriber*> targets = ready_subscribers(subscribers);
    result["connected"] = dialed.connected;
    result["ready"] = targets.size();
    if (targets.size() < std::size_t(options.users)) {
        context.ok = false;
        context.errors.add("setup", "users not ready",
                           std::uint64_t(options.users) - targets.size());
    }

    // A fresh connection: the first one idled through the dialing and probing.
    try {
        http.emplace(co_await client::HttpClient::connect(publisher));
    } catch (const boost::system::system_error& error) {
        context.errors.add("multicast", error.what());
        context.ok = false;
        targets.clear();
    }
    const MulticastBody body = multicast_body(targets);
    std::mt19937 random(12345);  // the same users in every run
    // Deliveries a send makes: every target, or one per entry of a batch.
    const std::size_t per_send = batch ? std::size_t(options.batch) : targets.size();
    std::string message;
    stats.record_latency = true;
    const std::uint64_t timed_before = stats.timed;
    std::uint64_t expected = 0;
    double round_seconds = 0;
    int rounds = 0;
    CpuWindow window(context.server);
    for (int round = 0; round < options.repeats && !targets.empty(); ++round) {
        const std::uint64_t arrived_before = stats.timed;
        const std::int64_t sent_ns = now_ns();
        write_timed_message(message, sent_ns, options.size);
        std::string request =
            batch ? batch_body(targets, options.batch, message, random) : body.with(message);
        std::string failure;
        try {
            client::HttpResponse answer = co_await http->post(send_path, request);
            if (answer.status != 200)
                failure = "HTTP " + std::to_string(answer.status);
            else if (std::size_t delivered = delivered_count(answer.body); delivered != per_send)
                failure = "answer delivered " + std::to_string(delivered) + " of " +
                          std::to_string(per_send);
        } catch (const boost::system::system_error& error) {
            failure = error.what();
        }
        if (!failure.empty()) {
            context.errors.add("multicast", failure);
            context.ok = false;
            if (failure.rfind("answer", 0) != 0) break;  // no answer: nothing more to learn
        }
        expected += per_send;
        const auto round_deadline = Clock::now() + options.round_timeout;
        co_await wait_for_arrivals(stats, arrived_before + per_send, 0, round_deadline);
        round_seconds += double(now_ns() - sent_ns) / 1e9;
        ++rounds;
    }
    CpuWindow::Usage usage = window.end();
    stats.record_latency = false;

    const std::uint64_t delivered = stats.timed - timed_before;
    const std::int64_t lost = std::int64_t(expected) - std::int64_t(delivered);
    result["rounds"] = rounds;
    result["expected"] = expected;
    result["delivered"] = delivered;
    result["lost"] = lost;
    result["rounds_sec"] = round_seconds;
    result["deliv_per_sec"] = round_seconds > 0 ? double(delivered) / round_seconds : 0.0;
    Percentiles latency = stats.latency.percentiles();
    put_percentiles(result, "lat", latency);
    result["lat_samples"] = latency.count;
    put_usage(result, usage);
    const double cpu_per_delivery =
        delivered > 0 ? usage.server_seconds * 1e6 / double(delivered) : 0.0;
    result["server_cpu_us_per_delivery"] = cpu_per_delivery;
    // A few sends take little CPU, where 10 ms ticks are coarse: the nanosecond figure too.
    result["server_cpu_us_per_delivery_schedstat"] =
        delivered > 0 ? usage.server_scheduled_seconds * 1e6 / double(delivered) : 0.0;
    Memory memory = context.server.memory();
    result["server_rss_kb"] = memory.rss_kib;
    result["server_pss_kb"] = memory.pss_kib;
    put_receive_stats(context, stats);
    if (lost != 0) {
        context.ok = false;
        context.errors.add("receive", lost > 0 ? "lost messages" : "extra messages",
                           std::uint64_t(lost > 0 ? lost : -lost));
    }

    std::ostringstream summary;
    summary.precision(3);
    summary << (flood   ? "flood: "
                : batch ? "batch: "
                        : "multicast: ")
            << rounds << " x " << per_send << (batch ? " messages, " : " users, ") << delivered
            << " delivered, lost " << lost << "; "
            << (round_seconds > 0 ? double(delivered) / round_seconds : 0.0)
            << " deliveries/s; latency p50 " << latency.p50_us / 1000 << " ms, p99 "
            << latency.p99_us / 1000 << " ms, max " << latency.max_us / 1000 << " ms; server CPU "
            << cpu_per_delivery << " us/delivery";
    context.summary = summary.str();
    co_await close_all(subscribers, stats);
}

}  // namespace herald::bench
