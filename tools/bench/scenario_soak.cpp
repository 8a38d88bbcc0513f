// soak: the server under a steady mix of idle connections, churn and publishing for a long time
// (10 minutes by default), sampled every few seconds into a CSV: its RSS and CPU, its /stats,
// delivery latency and losses. A leak shows as RSS that keeps growing after warm-up.
//
//   N slots hold one connection each at a time. A slot dials with a new uid every time,
//     alternately in seed mode and in the JSON protocol, waits until the server has registered
//     it (JSON: the welcome; seed: a probe that arrives), and is then live: a publish target.
//   The churner picks R live connections a second at random. A picked connection stops being a
//     target at once and closes `lead` later, once every publish to it has been answered and
//     what those delivered has arrived (or `grace` has passed); alternately with a clean
//     WebSocket close and with a TCP reset. Its slot then dials again.
//   P publishers on keep-alive connections publish M times a second in all, open loop, to
//     random live connections: GET /send, POST /send {"uid"}, and now and then
//     POST /send {"uids":[a few, once with a duplicate]}.
//   Loss is counted per connection: what the server's answers say it delivered there, minus
//     the messages that arrived, once the connection closes (or at the end). A connection the
//     server closes is an error of its own, and its messages are not counted as lost.
//   A sampler writes one CSV row every S seconds.
#include <algorithm>
#include <charconv>
#include <deque>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "audience.hpp"
#include "payload.hpp"
#include "scenario.hpp"

namespace herald::bench {
namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;

enum class Login { seed, json };

// One login of one slot, shared by the slot, its receive loop and the publishers that target it.
struct Connection {
    explicit Connection(asio::any_io_executor executor) : wakeup(std::move(executor)) {}

    Subscriber subscriber;  // uid, the WebSocket, ready (registered), closing (by us)
    Login login = Login::seed;
    bool receiving = false;  // its receive loop runs
    bool live = false;       // in Soak::live: a publish target
    std::size_t live_index = 0;
    bool doomed = false;  // picked by the churner
    Clock::time_point close_at;
    Clock::time_point next_probe_at;  // seed mode: when to probe again
    int pending = 0;                  // publishes to it still waiting for their answer
    std::uint64_t expected = 0;       // messages the server's answers say it queued here
    std::uint64_t received = 0;       // timed messages that arrived
    Clock::time_point last_answer;    // of the last publish that expects a message here
    Wakeup wakeup;                    // the slot's waits; anyone changing the above notifies
};

using ConnectionPtr = std::shared_ptr<Connection>;

struct Row {
    double elapsed_s = 0;
    std::int64_t rss_kb = 0;
    double cpu_pct = 0;
    std::int64_t connections = 0, users = 0, messages_published = 0, messages_delivered = 0;
    double p50_ms = 0, p99_ms = 0, max_ms = 0;
    std::uint64_t lost = 0, errors = 0, publishes = 0, received = 0, churned = 0;
    double bench_cpu_pct = 0;
};

// What the coroutines of one soak share. Each process runs on one thread: plain counters.
struct Soak {
    Soak(ScenarioContext& context, asio::any_io_executor executor)
        : options(context.invocation.soak),
          common(context.common),
          adapter(context.adapter),
          errors(context.errors),
          server(context.server),
          uid_prefix(context.uid_prefix),
          random(std::random_device{}()),
          probe_wakeup(executor),
          slots(executor),
          workers(executor) {}

    const SoakOptions& options;
    const CommonOptions& common;
    const Adapter& adapter;
    ErrorCounter& errors;
    const ServerProcesses& server;
    std::string uid_prefix;
    std::mt19937_64 random;
    Clock::time_point start;

    bool running = true;    // publishers and the churner go on
    bool stopping = false;  // slots close their connections and do not dial again

    std::vector<ConnectionPtr> live;  // publish targets, in no order
    std::deque<ConnectionPtr> to_probe;
    Wakeup probe_wakeup;

    std::uint64_t logins = 0;
    std::uint64_t closes = 0;   // by us; the parity chooses clean close or reset
    std::uint64_t churned = 0;  // closed by the churner
    std::uint64_t receive_loops = 0;
    std::uint64_t publishes = 0;  // answered 2xx
    std::uint64_t publish_failures = 0;
    std::uint64_t publishes_skipped = 0;  // nobody was live
    std::uint64_t expected = 0;           // of connections closed so far
    std::uint64_t received = 0;           // timed messages, all connections
    std::uint64_t lost = 0;
    std::uint64_t extra = 0;
    std::uint64_t dropped = 0;  // connections the server closed
    LatencySamples interval_latency;
    LatencySamples run_latency;
    std::vector<Row> rows;

    WaitGroup slots;
    WaitGroup workers;  // publishers, churner, prober
};

// Sleeps until `when` (a plain timer: nobody ends it early).
awaitable<void> wait_until_time(Clock::time_point when) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_at(when);
    co_await timer.async_wait(use_nothrow);
}

// ---- live set -------------------------------------------------------------------------------

void make_live(Soak& soak, const ConnectionPtr& connection) {
    connection->live = true;
    connection->live_index = soak.live.size();
    soak.live.push_back(connection);
}

void remove_live(Soak& soak, Connection& connection) {
    if (!connection.live) return;
    // Swap with the last: the set has no order, and removal stays O(1).
    ConnectionPtr& last = soak.live.back();
    last->live_index = connection.live_index;
    std::swap(soak.live[connection.live_index], last);
    soak.live.pop_back();
    connection.live = false;
}

// ---- receiving ------------------------------------------------------------------------------

void on_message(Soak& soak, Connection& connection, std::string_view message,
                std::int64_t received_ns) {
    ParsedMessage parsed = parse_message(message);
    switch (parsed.kind) {
        case ParsedMessage::Kind::timed:
            ++connection.received;
            ++soak.received;
            soak.interval_latency.add(received_ns - parsed.stamp_ns);
            // Not during the final drain: every connection closing at once keeps this single
            // thread busy, which would time the benchmark rather than the server.
            if (soak.running) soak.run_latency.add(received_ns - parsed.stamp_ns);
            if (connection.doomed || soak.stopping) connection.wakeup.notify();
            break;
        case ParsedMessage::Kind::probe:
            if (parsed.uid != connection.subscriber.uid) {
                soak.errors.add("receive", "probe at the wrong uid");
            } else if (!connection.subscriber.ready) {
                connection.subscriber.ready = true;
                connection.wakeup.notify();
            }
            break;
        case ParsedMessage::Kind::malformed:
            soak.errors.add("receive", "malformed message");
            break;
    }
}

// The JSON protocol wraps each message: {"type":"message","data":"T...|xxx"}, after one
// {"type":"welcome","uid":"U"} once the server has registered the connection.
void on_json_frame(Soak& soak, Connection& connection, std::string_view frame,
                   std::int64_t received_ns) {
    error_code error;
    boost::json::value parsed = boost::json::parse(frame, error);
    const boost::json::object* envelope = error ? nullptr : parsed.if_object();
    const boost::json::value* type = envelope ? envelope->if_contains("type") : nullptr;
    if (!type || !type->is_string()) {
        soak.errors.add("receive", "malformed JSON frame");
        return;
    }
    if (type->get_string() == "welcome") {
        connection.subscriber.ready = true;
        connection.wakeup.notify();
        return;
    }
    const boost::json::value* data = envelope->if_contains("data");
    if (type->get_string() != "message" || !data || !data->is_string()) {
        soak.errors.add("receive", "unexpected JSON frame");
        return;
    }
    on_message(soak, connection, data->get_string(), received_ns);
}

awaitable<void> receive(Soak& soak, ConnectionPtr connection) {
    auto& ws = connection->subscriber.connection->stream();
    beast::flat_buffer buffer;
    error_code error;
    for (;;) {
        auto [read_error, size] = co_await ws.async_read(buffer, use_nothrow);
        if (read_error) {
            error = read_error;
            break;
        }
        std::int64_t received_ns = now_ns();
        auto data = buffer.cdata();
        std::string_view frame(static_cast<const char*>(data.data()), data.size());
        if (connection->login == Login::json) {
            on_json_frame(soak, *connection, frame, received_ns);
        } else {
            for_each_message(frame, [&](std::string_view message) {
                on_message(soak, *connection, message, received_ns);
            });
        }
        buffer.consume(size);
    }
    connection->receiving = false;
    --soak.receive_loops;
    if (!connection->subscriber.closing) {
        ++soak.dropped;
        auto reason = ws.reason();
        std::string why = reason.code != 0
                              ? "closed by the server with " + std::to_string(reason.code) + " " +
                                    std::string(reason.reason.data(), reason.reason.size())
                              : "ended by the server: " + error.message();
        soak.errors.add("receive", why);
    }
    remove_live(soak, *connection);
    connection->wakeup.notify();
}

void start_receiving(Soak& soak, const ConnectionPtr& connection,
                     const asio::any_io_executor& executor) {
    connection->receiving = true;
    ++soak.receive_loops;
    auto on_end = [&soak](std::exception_ptr failure) {
        if (failure) soak.errors.add("receive", "unexpected exception");
    };
    asio::co_spawn(executor, receive(soak, connection), on_end);
}

// ---- slots ----------------------------------------------------------------------------------

// Waits until `done()` or `deadline`; the connection's wakeup ends each sleep early.
template <typename Done>
awaitable<bool> wait_until(Connection& connection, Done done, Clock::time_point deadline) {
    while (!done() && Clock::now() < deadline)
        co_await connection.wakeup.sleep_until(deadline);
    co_return done();
}

// Until every publish to the connection has been answered and what they delivered has arrived,
// or `grace` has passed since the last answer.
awaitable<void> drain(Soak& soak, ConnectionPtr connection) {
    for (;;) {
        if (!connection->receiving) co_return;
        if (connection->pending > 0) {
            // Answers come back within the publisher pool's watchdog limit.
            const auto recheck = Clock::now() + std::chrono::seconds(1);
            co_await connection->wakeup.sleep_until(recheck);
            continue;
        }
        if (connection->received >= connection->expected) co_return;
        const auto give_up = connection->last_answer + soak.options.grace;
        if (Clock::now() >= give_up) co_return;
        co_await connection->wakeup.sleep_until(give_up);
    }
}

void account(Soak& soak, const Connection& connection) {
    // A connection the server closed is an error already; its messages in flight are not lost.
    if (!connection.receiving) return;
    soak.expected += connection.expected;
    if (connection.received < connection.expected) {
        soak.lost += connection.expected - connection.received;
        soak.errors.add("receive", "lost messages", connection.expected - connection.received);
    } else if (connection.received > connection.expected) {
        soak.extra += connection.received - connection.expected;
        soak.errors.add("receive", "more messages than published",
                        connection.received - connection.expected);
    }
}

// Closes from our side, alternately with a clean WebSocket close and with a TCP reset, and
// waits (bounded) until the receive loop has seen it.
awaitable<void> close_connection(Soak& soak, ConnectionPtr connection) {
    Connection& c = *connection;
    c.subscriber.closing = true;
    if (c.receiving && soak.closes++ % 2 == 0) {
        auto& ws = c.subscriber.connection->stream();
        beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(5));
        // Beast lets a close run while the receive loop's read is pending: the read then ends
        // with websocket::error::closed once the server has answered.
        auto [error] = co_await ws.async_close(websocket::close_code::normal, use_nothrow);
        if (error) soak.errors.add("close", error);
    } else {
        close_hard(c.subscriber);
    }
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    // Named first: g++ 12 destroys a capturing lambda temporary in a co_await expression twice.
    auto loop_ended = [&c] { return !c.receiving; };
    bool ended = co_await wait_until(c, loop_ended, deadline);
    if (!ended) {
        soak.errors.add("close", "receive loop still running 10 s after the close");
        close_hard(c.subscriber);
    }
}

// One login of a slot, from dial to close.
awaitable<void> hold_one(Soak& soak, ConnectionPtr connection) {
    auto executor = co_await asio::this_coro::executor;
    DialPlan plan;
    plan.server = soak.common.server();
    plan.timeout = soak.common.dial_timeout;
    std::string login;
    if (connection->login == Login::json) {
        boost::json::object frame;
        frame["uid"] = connection->subscriber.uid;
        frame["v"] = 1;
        login = boost::json::serialize(frame);
    }
    error_code error = co_await dial(connection->subscriber, soak.adapter, plan, login);
    if (error) {
        soak.errors.add("dial", error);
        const auto backoff = std::chrono::seconds(1);
        co_await sleep_for(backoff);
        co_return;
    }
    ++soak.logins;
    start_receiving(soak, connection, executor);
    if (connection->login == Login::seed) {
        connection->next_probe_at = Clock::now();
        soak.to_probe.push_back(connection);
        soak.probe_wakeup.notify();
    }

    Connection& c = *connection;
    const auto ready_deadline = Clock::now() + soak.common.dial_timeout;
    // The predicates are named first: g++ 12 destroys a capturing lambda temporary in a
    // co_await expression twice.
    auto registered_or_over = [&c, &soak] {
        return c.subscriber.ready || !c.receiving || soak.stopping;
    };
    co_await wait_until(c, registered_or_over, ready_deadline);
    if (c.subscriber.ready && c.receiving && !soak.stopping) {
        make_live(soak, connection);
        const auto forever = Clock::time_point::max();
        auto time_to_close = [&c, &soak] { return c.doomed || !c.receiving || soak.stopping; };
        co_await wait_until(c, time_to_close, forever);
        remove_live(soak, c);
        if (c.doomed) {
            co_await wait_until_time(c.close_at);
            ++soak.churned;
        }
        co_await drain(soak, connection);
        account(soak, c);
    } else if (c.receiving && !soak.stopping) {
        soak.errors.add("login", "not registered within the dial timeout");
    }
    co_await close_connection(soak, connection);
}

awaitable<void> run_slot(Soak& soak, int slot, Clock::time_point first_dial) {
    auto executor = co_await asio::this_coro::executor;
    co_await wait_until_time(first_dial);
    for (std::uint64_t generation = 0; !soak.stopping; ++generation) {
        auto connection = std::make_shared<Connection>(executor);
        connection->subscriber.uid =
            soak.uid_prefix + std::to_string(slot) + "-" + std::to_string(generation);
        // Half the connections in each protocol at any time, and each slot alternates.
        connection->login = (slot + generation) % 2 == 0 ? Login::seed : Login::json;
        co_await hold_one(soak, connection);
    }
}

// ---- the churner, the prober and the publishers ---------------------------------------------

// Picks `churn` live connections a second, open loop.
awaitable<void> churn(Soak& soak) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const auto interval = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(1.0 / soak.options.churn));
    auto due = soak.start;
    while (soak.running) {
        due += interval;
        timer.expires_at(due);
        co_await timer.async_wait(use_nothrow);
        if (!soak.running || soak.live.empty()) continue;
        ConnectionPtr victim = soak.live[soak.random() % soak.live.size()];
        remove_live(soak, *victim);
        victim->doomed = true;
        victim->close_at = Clock::now() + soak.options.lead;
        victim->wakeup.notify();
    }
}

// N of herald's {"delivered":N}, or -1 when the body has none.
std::int64_t delivered_count(std::string_view body) {
    constexpr std::string_view key = "\"delivered\":";
    auto at = body.find(key);
    if (at == std::string_view::npos) return -1;
    std::int64_t count = -1;
    const char* first = body.data() + at + key.size();
    std::from_chars(first, body.data() + body.size(), count);
    return count;
}

// Seed logins have no acknowledgement: a probe that arrives proves the server registered one.
// A probe that reached nobody went ahead of its login, and is sent again shortly.
awaitable<void> probe_seed_logins(Soak& soak, RawHttpConnection* http) {
    while (!soak.stopping) {
        if (soak.to_probe.empty()) {
            const auto idle_check = Clock::now() + std::chrono::seconds(1);
            co_await soak.probe_wakeup.sleep_until(idle_check);
            continue;
        }
        ConnectionPtr connection = soak.to_probe.front();
        if (connection->subscriber.ready || !connection->receiving) {
            soak.to_probe.pop_front();
            continue;
        }
        if (connection->next_probe_at > Clock::now()) {
            co_await soak.probe_wakeup.sleep_until(connection->next_probe_at);
            continue;
        }
        soak.to_probe.pop_front();
        const std::string& uid = connection->subscriber.uid;
        http->request().clear();
        soak.adapter.append_publish(http->request(), uid, probe_message(uid));
        HttpAnswer answer = co_await http->exchange();
        if (answer.error) {
            soak.errors.add("probe", answer.error);
        } else if (!answer.accepted()) {
            soak.errors.add("probe", "HTTP " + std::to_string(answer.status));
        } else if (delivered_count(answer.body) > 0) {
            continue;  // its arrival makes the connection ready
        }
        connection->next_probe_at = Clock::now() + std::chrono::milliseconds(20);
        soak.to_probe.push_back(connection);
    }
}

void append_post(std::string& out, const Soak& soak, const std::string& body) {
    out += "POST ";
    out += soak.common.send_path;
    out += " HTTP/1.1\r\nHost: ";
    out += soak.adapter.host_header();
    out += "\r\nContent-Type: application/json\r\nContent-Length: ";
    out += std::to_string(body.size());
    out += "\r\n\r\n";
    out += body;
}

// Builds one publish of `message` to `targets` (one, or a few for the uids list) into
// `request`: GET /send, POST /send {"uid"} or POST /send {"uids"}. Every other uids list names
// its first uid twice, which the server must deliver once.
void build_publish(std::string& request, const Soak& soak,
                   const std::vector<ConnectionPtr>& targets, const std::string& message,
                   bool use_get, bool duplicate) {
    request.clear();
    if (targets.size() == 1 && use_get) {
        soak.adapter.append_publish(request, targets.front()->subscriber.uid, message);
        return;
    }
    boost::json::object body;
    if (targets.size() == 1) {
        body["uid"] = targets.front()->subscriber.uid;
    } else {
        boost::json::array uids;
        for (const auto& target : targets)
            uids.emplace_back(target->subscriber.uid);
        if (duplicate) uids.emplace_back(targets.front()->subscriber.uid);
        body["uids"] = std::move(uids);
    }
    body["message"] = message;
    append_post(request, soak, boost::json::serialize(body));
}

// Up to `count` distinct live connections at random.
std::vector<ConnectionPtr> pick_targets(Soak& soak, std::size_t count) {
    std::vector<ConnectionPtr> targets;
    for (int attempt = 0; targets.size() < count && attempt < int(count) * 4; ++attempt) {
        const ConnectionPtr& candidate = soak.live[soak.random() % soak.live.size()];
        if (std::find(targets.begin(), targets.end(), candidate) == targets.end())
            targets.push_back(candidate);
    }
    return targets;
}

// One publisher's share of the rate, open loop: the k-th publish is due at start + k * interval
// whatever the answers took, and a publisher that fell behind catches up at once.
awaitable<void> publish_steadily(Soak& soak, RawHttpConnection* http, int index) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const double interval_s = double(soak.options.publishers) / soak.options.rate;
    const auto interval = std::chrono::duration<double>(interval_s);
    const auto offset = interval * (double(index) / soak.options.publishers);
    std::string message;
    for (std::uint64_t k = 0; soak.running; ++k) {
        const auto due =
            soak.start + std::chrono::duration_cast<Clock::duration>(offset + interval * double(k));
        if (due > Clock::now()) {
            timer.expires_at(due);
            co_await timer.async_wait(use_nothrow);
            if (!soak.running) break;
        }
        if (soak.live.empty()) {
            ++soak.publishes_skipped;
            continue;
        }
        // About 45% GET, 45% POST to one uid, 10% POST to a list of 2 to 5 uids.
        const auto kind = soak.random() % 20;
        const std::size_t count = kind < 2 ? 2 + soak.random() % 4 : 1;
        std::vector<ConnectionPtr> targets = pick_targets(soak, count);
        write_timed_message(message, now_ns(), soak.options.size);
        build_publish(http->request(), soak, targets, message, kind >= 11, k % 2 == 0);
        for (const auto& target : targets)
            ++target->pending;
        HttpAnswer answer = co_await http->exchange();
        const auto answered = Clock::now();
        for (const auto& target : targets) {
            --target->pending;
            target->wakeup.notify();
        }
        if (answer.error) {
            ++soak.publish_failures;
            soak.errors.add("publish", answer.error);
            continue;
        }
        if (!answer.accepted()) {
            ++soak.publish_failures;
            soak.errors.add("publish", "HTTP " + std::to_string(answer.status));
            continue;
        }
        ++soak.publishes;
        // Each uid has one connection, so the answer says exactly which were reached when it
        // names them all; fewer is ambiguous, and an error in itself.
        const std::int64_t delivered = delivered_count(answer.body);
        if (delivered != std::int64_t(targets.size())) {
            soak.errors.add("publish", "delivered to " + std::to_string(delivered) + " of " +
                                           std::to_string(targets.size()) + " live connections");
            continue;
        }
        for (const auto& target : targets) {
            ++target->expected;
            target->last_answer = answered;
        }
    }
}

// ---- sampling -------------------------------------------------------------------------------

struct ServerStats {
    std::int64_t connections = -1, users = -1, messages_published = -1, messages_delivered = -1;
};

awaitable<ServerStats> fetch_stats(Soak& soak, RawHttpConnection* http) {
    ServerStats stats;
    http->request() = "GET /stats HTTP/1.1\r\nHost: " + soak.adapter.host_header() + "\r\n\r\n";
    HttpAnswer answer = co_await http->exchange();
    if (answer.error || !answer.accepted()) {
        soak.errors.add("stats", answer.error ? answer.error.message()
                                              : "HTTP " + std::to_string(answer.status));
        co_return stats;
    }
    error_code error;
    boost::json::value parsed = boost::json::parse(answer.body, error);
    const boost::json::object* object = error ? nullptr : parsed.if_object();
    if (!object) {
        soak.errors.add("stats", "not a JSON object");
        co_return stats;
    }
    auto number = [object](const char* key) -> std::int64_t {
        const boost::json::value* value = object->if_contains(key);
        return value && value->is_int64() ? value->get_int64() : -1;
    };
    stats.connections = number("connections");
    stats.users = number("users");
    stats.messages_published = number("messages_published");
    stats.messages_delivered = number("messages_delivered");
    co_return stats;
}

constexpr const char* csv_header =
    "elapsed_s,server_rss_kb,server_cpu_pct,connections,users,messages_published,"
    "messages_delivered,latency_p50_ms,latency_p99_ms,latency_max_ms,lost,errors,publishes,"
    "received,churned,bench_cpu_pct";

std::string csv_line(const Row& row) {
    std::ostringstream line;
    line << std::fixed << std::setprecision(1) << row.elapsed_s << ',' << row.rss_kb << ','
         << row.cpu_pct << ',' << row.connections << ',' << row.users << ','
         << row.messages_published << ',' << row.messages_delivered << ',' << std::setprecision(3)
         << row.p50_ms << ',' << row.p99_ms << ',' << row.max_ms << ',' << row.lost << ','
         << row.errors << ',' << row.publishes << ',' << row.received << ',' << row.churned << ','
         << std::setprecision(1) << row.bench_cpu_pct;
    return line.str();
}

// One row every `sample` until `duration` has passed.
awaitable<void> sample_until_end(Soak& soak, RawHttpConnection* http, std::ostream* csv) {
    const auto& options = soak.options;
    double server_cpu = soak.server.cpu_seconds();
    double own_cpu = own_cpu_seconds();
    auto previous = soak.start;
    if (csv) *csv << csv_header << '\n' << std::flush;
    std::cerr << csv_header << '\n';
    for (int k = 1;; ++k) {
        auto due = soak.start + options.sample * k;
        const auto end = soak.start + options.duration;
        if (due > end) {
            if (previous >= end) break;
            due = end;  // a last, shorter interval
        }
        co_await wait_until_time(due);
        ServerStats stats = co_await fetch_stats(soak, http);
        const auto now = Clock::now();
        const double wall = std::chrono::duration<double>(now - previous).count();
        const double server_cpu_now = soak.server.cpu_seconds();
        const double own_cpu_now = own_cpu_seconds();
        Row row;
        row.elapsed_s = std::chrono::duration<double>(now - soak.start).count();
        row.rss_kb = soak.server.memory().rss_kib;
        row.cpu_pct = wall > 0 ? 100 * (server_cpu_now - server_cpu) / wall : 0;
        row.bench_cpu_pct = wall > 0 ? 100 * (own_cpu_now - own_cpu) / wall : 0;
        row.connections = stats.connections;
        row.users = stats.users;
        row.messages_published = stats.messages_published;
        row.messages_delivered = stats.messages_delivered;
        Percentiles latency = soak.interval_latency.percentiles();
        soak.interval_latency = LatencySamples();
        row.p50_ms = latency.p50_us / 1000;
        row.p99_ms = latency.p99_us / 1000;
        row.max_ms = latency.max_us / 1000;
        row.lost = soak.lost;
        row.errors = soak.errors.total();
        row.publishes = soak.publishes;
        row.received = soak.received;
        row.churned = soak.churned;
        soak.rows.push_back(row);
        const std::string line = csv_line(row);
        if (csv) *csv << line << '\n' << std::flush;
        std::cerr << line << '\n';
        server_cpu = server_cpu_now;
        own_cpu = own_cpu_now;
        previous = now;
        if (due == end) break;
    }
}

// ---- the verdict on memory ------------------------------------------------------------------

struct RssTrend {
    const Row* warm = nullptr;  // the first row at or after the end of warm-up
    const Row* last = nullptr;
    std::int64_t max_after_warmup_kb = 0;
    double growth_pct = 0;        // last vs warm
    double slope_kb_per_min = 0;  // least squares over the rows after warm-up
    double mean_cpu_pct = 0;      // after warm-up
};

RssTrend rss_trend(const std::vector<Row>& rows, Duration warmup) {
    RssTrend trend;
    const double warmup_s = std::chrono::duration<double>(warmup).count();
    double n = 0, sum_x = 0, sum_y = 0, sum_xx = 0, sum_xy = 0, sum_cpu = 0;
    for (const Row& row : rows) {
        if (row.elapsed_s + 0.5 < warmup_s) continue;  // rows land a few ms after their time
        if (!trend.warm) trend.warm = &row;
        trend.last = &row;
        trend.max_after_warmup_kb = std::max(trend.max_after_warmup_kb, row.rss_kb);
        const double x = row.elapsed_s / 60, y = double(row.rss_kb);
        n += 1;
        sum_x += x;
        sum_y += y;
        sum_xx += x * x;
        sum_xy += x * y;
        sum_cpu += row.cpu_pct;
    }
    if (!trend.warm) return trend;
    if (trend.warm->rss_kb > 0)
        trend.growth_pct =
            100.0 * double(trend.last->rss_kb - trend.warm->rss_kb) / double(trend.warm->rss_kb);
    const double denominator = n * sum_xx - sum_x * sum_x;
    if (n >= 2 && denominator > 0)
        trend.slope_kb_per_min = (n * sum_xy - sum_x * sum_y) / denominator;
    trend.mean_cpu_pct = sum_cpu / n;
    return trend;
}

void on_worker_end(Soak& soak, std::exception_ptr failure, const char* what) {
    if (failure) soak.errors.add(what, "unexpected exception");
    soak.workers.done();
}

}  // namespace

awaitable<void> soak_scenario(ScenarioContext& context) {
    const SoakOptions& options = context.invocation.soak;
    auto executor = co_await asio::this_coro::executor;
    auto& result = context.result;
    result["scenario"] = "soak";
    std::ostringstream params;
    params << "n=" << options.connections << " churn=" << options.churn
           << "/s rate=" << options.rate << "/s publishers=" << options.publishers
           << " d=" << options.duration.count() / 1000.0
           << "s sample=" << options.sample.count() / 1000.0
           << "s warmup=" << options.warmup.count() / 1000.0 << "s size=" << options.size;
    result["params"] = params.str();

    std::ofstream csv_file;
    if (!options.csv.empty()) {
        csv_file.open(options.csv, std::ios::trunc);
        if (!csv_file) throw std::runtime_error("cannot write " + options.csv);
    }
    Soak soak(context, executor);
    PublisherPool pool(executor, context.common.server(), context.common.dial_timeout);
    RawHttpConnection* stats_http = &pool.add();
    RawHttpConnection* probe_http = &pool.add();
    std::vector<RawHttpConnection*> publishers;
    for (int i = 0; i < options.publishers; ++i)
        publishers.push_back(&pool.add());
    for (RawHttpConnection* http : pool.all()) {
        if (auto error = co_await http->connect(); error)
            context.errors.add("publisher connect", error);
    }
    const Memory memory_before = context.server.memory();
    soak.start = Clock::now();

    // Slots start staggered at the ramp rate, then keep their connection count.
    soak.slots.add(options.connections);
    for (int slot = 0; slot < options.connections; ++slot) {
        const auto first_dial =
            soak.start + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double>(slot / options.ramp));
        auto on_slot_end = [&soak](std::exception_ptr failure) {
            if (failure) soak.errors.add("slot", "unexpected exception");
            soak.slots.done();
        };
        asio::co_spawn(executor, run_slot(soak, slot, first_dial), on_slot_end);
    }
    soak.workers.add(1);
    auto on_prober_end = [&soak](std::exception_ptr failure) {
        on_worker_end(soak, failure, "probe");
    };
    asio::co_spawn(executor, probe_seed_logins(soak, probe_http), on_prober_end);
    if (options.churn > 0) {
        soak.workers.add(1);
        auto on_churner_end = [&soak](std::exception_ptr failure) {
            on_worker_end(soak, failure, "churn");
        };
        asio::co_spawn(executor, churn(soak), on_churner_end);
    }
    if (options.rate > 0) {
        soak.workers.add(options.publishers);
        for (int i = 0; i < options.publishers; ++i) {
            auto on_publisher_end = [&soak](std::exception_ptr failure) {
                on_worker_end(soak, failure, "publish");
            };
            asio::co_spawn(executor, publish_steadily(soak, publishers[i], i), on_publisher_end);
        }
    }

    co_await sample_until_end(soak, stats_http, options.csv.empty() ? nullptr : &csv_file);

    // The end: publishing and churn stop, then every connection drains, is counted and closes.
    const auto drain_start = Clock::now();
    soak.running = false;
    soak.stopping = true;
    soak.probe_wakeup.notify();
    for (const ConnectionPtr& connection : soak.live)
        connection->wakeup.notify();
    co_await soak.slots.wait();
    co_await soak.workers.wait();
    const auto loops_deadline = Clock::now() + std::chrono::seconds(10);
    while (soak.receive_loops > 0 && Clock::now() < loops_deadline) {
        const auto pause = std::chrono::milliseconds(10);
        co_await sleep_for(pause);
    }
    if (soak.receive_loops > 0) context.errors.add("close", "receive loops did not end");
    co_await pool.stop();
    const double drain_s = std::chrono::duration<double>(Clock::now() - drain_start).count();

    // Figures and the verdict.
    RssTrend trend = rss_trend(soak.rows, options.warmup);
    Percentiles latency = soak.run_latency.percentiles();
    const double elapsed_s = soak.rows.empty() ? 0 : soak.rows.back().elapsed_s;
    result["connections"] = options.connections;
    result["churn_per_sec"] = options.churn;
    result["rate"] = options.rate;
    result["publishers"] = options.publishers;
    result["size"] = options.size;
    result["duration_sec"] = elapsed_s;
    result["warmup_sec"] = std::chrono::duration<double>(options.warmup).count();
    result["sample_sec"] = std::chrono::duration<double>(options.sample).count();
    result["lead_sec"] = std::chrono::duration<double>(options.lead).count();
    result["grace_sec"] = std::chrono::duration<double>(options.grace).count();
    result["drain_sec"] = drain_s;
    result["samples"] = soak.rows.size();
    result["server_rss_before_kb"] = memory_before.rss_kib;
    result["rss_warmup_kb"] = trend.warm ? trend.warm->rss_kb : 0;
    result["rss_warmup_at_sec"] = trend.warm ? trend.warm->elapsed_s : 0;
    result["rss_end_kb"] = trend.last ? trend.last->rss_kb : 0;
    result["rss_max_after_warmup_kb"] = trend.max_after_warmup_kb;
    result["rss_growth_pct"] = trend.growth_pct;
    result["rss_slope_kb_per_min"] = trend.slope_kb_per_min;
    result["max_rss_growth_pct"] = options.max_rss_growth_pct;
    result["server_cpu_pct_mean"] = trend.mean_cpu_pct;
    put_percentiles(result, "lat", latency);
    result["lat_samples"] = latency.count;
    result["logins"] = soak.logins;
    result["churned"] = soak.churned;
    result["publishes"] = soak.publishes;
    result["publish_failures"] = soak.publish_failures;
    result["publishes_skipped"] = soak.publishes_skipped;
    result["expected"] = soak.expected;
    result["received"] = soak.received;
    result["lost"] = soak.lost;
    result["extra"] = soak.extra;
    result["dropped_connections"] = soak.dropped;
    if (!soak.rows.empty()) {
        const Row& last = soak.rows.back();
        result["server_messages_published"] = last.messages_published;
        result["server_messages_delivered"] = last.messages_delivered;
    }
    if (!options.csv.empty()) result["csv"] = options.csv;

    const bool rss_flat = trend.warm && trend.growth_pct <= options.max_rss_growth_pct;
    result["rss_flat"] = rss_flat;
    if (!rss_flat) {
        context.errors.add("rss", trend.warm ? "grew by more than --max-rss-growth after warm-up"
                                             : "no sample after warm-up");
    }
    if (soak.lost || soak.extra || context.errors.total() > 0) context.ok = false;

    std::ostringstream summary;
    summary << std::fixed << std::setprecision(1) << "soak: " << elapsed_s / 60 << " min, "
            << options.connections << " connections, churn " << options.churn << "/s, "
            << options.rate << " publishes/s: server RSS ";
    if (trend.warm) {
        summary << trend.warm->rss_kb / 1024.0 << " MiB at " << trend.warm->elapsed_s
                << " s (end of warm-up), " << trend.last->rss_kb / 1024.0 << " MiB at the end ("
                << std::showpos << trend.growth_pct << "%, slope " << trend.slope_kb_per_min
                << std::noshowpos << " KiB/min, max " << trend.max_after_warmup_kb / 1024.0
                << " MiB)";
    } else {
        summary << "not sampled after warm-up";
    }
    summary << "; server CPU " << trend.mean_cpu_pct << "% mean; latency p50 "
            << std::setprecision(2) << latency.p50_us / 1000 << " ms, p99 " << latency.p99_us / 1000
            << " ms, max " << latency.max_us / 1000 << " ms; " << soak.publishes << " publishes, "
            << soak.received << " received, lost " << soak.lost << ", " << soak.churned
            << " churned, " << context.errors.total() << " errors";
    if (!rss_flat) summary << "  [RSS NOT FLAT]";
    context.summary = summary.str();
}

}  // namespace herald::bench
