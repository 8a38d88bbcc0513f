#include "herald/http_api.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "herald/prometheus.hpp"
#include "herald/protocol.hpp"
#include "herald/web.hpp"

namespace herald {
namespace json = boost::json;
namespace {

Response json_response(http::status status, const json::object& body, unsigned version) {
    return Response(status, json::serialize(body), version);
}

Response method_not_allowed(std::string_view allowed, unsigned version) {
    Response response =
        error_response(http::status::method_not_allowed, "method not allowed", version);
    response.set(http::field::allow, allowed);
    return response;
}

// Publishing and admin endpoints need an API key once keys are configured.
bool authorized(const Request& request, const Context& context) {
    return context.access.publisher_allowed(request[http::field::authorization],
                                            request["X-API-Key"]);
}

Response unauthorized(unsigned version) {
    Response response =
        error_response(http::status::unauthorized, "a valid API key is required", version);
    response.set(http::field::www_authenticate, "Bearer");
    return response;
}

// The engine could not serve the request (a cluster's Redis is unreachable): nothing was
// published, and the client should try again shortly.
Response unavailable(unsigned version,
                     std::string_view why = "temporarily unavailable, try again") {
    Response response = error_response(http::status::service_unavailable, why, version);
    response.set(http::field::retry_after, "1");
    return response;
}

// What a publish with wait=ack waits for when it does not say: 5 s, within --max-ack-wait.
constexpr Duration default_ack_wait = std::chrono::seconds(5);

struct Acked {
    bool all = true;
    std::vector<std::string> uids;  // those that acknowledged, in the request's order
};

// Waits, all together within `timeout`, until each user acknowledged its seq. A user whose
// stream did not number the message (seq 0: history off and nobody connected) cannot.
awaitable<Acked> wait_for_acks(Engine& engine, const std::vector<std::string>& uids,
                               const std::vector<std::uint64_t>& seqs, Duration timeout) {
    Acked acked;
    auto deadline = Clock::now() + timeout;
    for (std::size_t i = 0; i < uids.size(); ++i) {
        // One after another on one deadline: a user who acknowledged while an earlier one was
        // waited for is found at once.
        auto left =
            std::max(Duration(0), std::chrono::duration_cast<Duration>(deadline - Clock::now()));
        boost::system::result<bool> done = false;
        if (seqs[i] != 0) done = co_await engine.wait_for_ack(uids[i], seqs[i], left);
        if (done && *done)
            acked.uids.push_back(uids[i]);
        else
            acked.all = false;  // not in time, or the engine could not tell: still stored
    }
    co_return acked;
}

// The Idempotency-Key header, if any: 1 to 128 visible ASCII characters.
boost::system::result<std::optional<std::string>, std::string> idempotency_key(
    const Request& request) {
    auto found = request.find("Idempotency-Key");
    if (found == request.end()) return std::optional<std::string>();
    std::string_view key = found->value();
    bool visible = std::all_of(key.begin(), key.end(), [](char c) { return c > 0x20 && c < 0x7f; });
    if (key.empty() || key.size() > 128 || !visible)
        return {boost::system::in_place_error,
                "Idempotency-Key must be 1 to 128 visible ASCII characters"};
    return std::optional<std::string>(std::string(key));
}

std::string_view path_of(std::string_view target) {
    return target.substr(0, target.find('?'));
}

// {"delivered":N,"seq":S}: the answer to nearly every publish, two numbers and nothing to escape,
// written without building and serializing a JSON object each time.
std::string delivered_with_seq(std::size_t delivered, std::uint64_t seq) {
    char digits[20];
    std::string text;
    text.reserve(64);
    text += R"({"delivered":)";
    text.append(digits, std::to_chars(std::begin(digits), std::end(digits), delivered).ptr);
    text += R"(,"seq":)";
    text.append(digits, std::to_chars(std::begin(digits), std::end(digits), seq).ptr);
    text += '}';
    return text;
}

// A batch: {"results":[...]}, each entry answered as the single publish it stands for. The
// batch's Idempotency-Key covers every entry (each under the key and its index, so that two
// entries for one user are two publishes, and a retry of the batch answers both again).
awaitable<Response> send_batch(BatchRequest batch, std::optional<std::string> key,
                               const Request& request, Context& context) {
    std::vector<PublishRequest> publishes;
    publishes.reserve(batch.entries.size());
    for (std::size_t i = 0; i < batch.entries.size(); ++i) {
        SendRequest& entry = batch.entries[i];
        std::optional<std::string> entry_key;
        if (key) entry_key = *key + "#" + std::to_string(i);
        publishes.push_back(PublishRequest{
            entry.uids, make_message(entry.message, std::move(entry.key)), std::move(entry_key)});
    }
    auto outcome = co_await context.engine.publish_batch(std::move(publishes));
    if (!outcome) co_return unavailable(request.version());
    json::array results;
    results.reserve(outcome->size());
    for (std::size_t i = 0; i < outcome->size(); ++i) {
        const SendRequest& entry = batch.entries[i];
        const Published& published = (*outcome)[i];
        json::object result{{"delivered", published.delivered}};
        if (entry.uids.size() == 1 && !entry.listed) {
            result["seq"] = published.seqs.front();
        } else {
            json::object seqs;
            for (std::size_t u = 0; u < entry.uids.size(); ++u)
                seqs[entry.uids[u]] = published.seqs[u];
            result["seqs"] = std::move(seqs);
        }
        results.push_back(std::move(result));
    }
    json::object answer{{"results", std::move(results)}};
    co_return json_response(http::status::ok, answer, request.version());
}

awaitable<Response> send(const Request& request, Context& context) {
    boost::system::result<SendRequest, std::string> parsed = std::string();
    if (request.method() == http::verb::get) {
        parsed = parse_send_query(request.target());
    } else {
        auto body = parse_publish_body(request.body(), context.config.max_batch);
        if (!body) {
            json::object refusal{{"error", body.error().error}};
            if (body.error().index) refusal["index"] = *body.error().index;
            co_return json_response(http::status::bad_request, refusal, request.version());
        }
        if (auto* batch = std::get_if<BatchRequest>(&*body)) {
            auto batch_key = idempotency_key(request);
            if (!batch_key)
                co_return error_response(http::status::bad_request, batch_key.error(),
                                         request.version());
            co_return co_await send_batch(std::move(*batch), std::move(*batch_key), request,
                                          context);
        }
        parsed = std::move(std::get<SendRequest>(*body));
    }
    if (!parsed)
        co_return error_response(http::status::bad_request, parsed.error(), request.version());
    auto key = idempotency_key(request);
    if (!key) co_return error_response(http::status::bad_request, key.error(), request.version());
    // A waiting publisher holds a ticket from before anything is stored: over the bound, the
    // answer is 503 and nothing was published.
    std::optional<AckGate::Ticket> waiting =
        parsed->wait_for_ack ? context.ack_gate.enter() : std::nullopt;
    if (parsed->wait_for_ack && !waiting)
        co_return unavailable(request.version(), "too many publishers wait for an ack");
    bool one_user = parsed->uids.size() == 1 && !parsed->listed;
    std::vector<std::string> uids;  // a list is answered with each uid's seq
    if (!one_user || waiting) uids = parsed->uids;
    PublishRequest publish{std::move(parsed->uids),
                           make_message(parsed->message, std::move(parsed->key)), std::move(*key)};
    auto outcome = co_await context.engine.publish(std::move(publish));
    if (!outcome) co_return unavailable(request.version());
    const Published& published = *outcome;
    if (one_user && !waiting) {
        co_return Response(http::status::ok,
                           delivered_with_seq(published.delivered, published.seqs.front()),
                           request.version());
    }
    json::object answer{{"delivered", published.delivered}};
    if (one_user) {
        answer["seq"] = published.seqs.front();
    } else {
        json::object seqs;
        for (std::size_t i = 0; i < uids.size(); ++i)
            seqs[uids[i]] = published.seqs[i];
        answer["seqs"] = std::move(seqs);
    }
    if (waiting) {
        const Duration bound = context.config.max_ack_wait;
        Duration timeout = std::min(default_ack_wait, bound);
        if (parsed->timeout_ms)
            timeout = Duration(std::min<std::uint64_t>(*parsed->timeout_ms, bound.count()));
        Acked acked = co_await wait_for_acks(context.engine, uids, published.seqs, timeout);
        answer["acked"] = acked.all;
        if (!one_user) {
            json::array acked_uids;
            for (auto& uid : acked.uids)
                acked_uids.emplace_back(uid);
            answer["acked_uids"] = std::move(acked_uids);
        }
    }
    co_return json_response(http::status::ok, answer, request.version());
}

// GET /presence?uid=U: the user's connections on every node.
awaitable<Response> presence(const Request& request, Context& context) {
    auto uid = parse_uid_query(request.target());
    if (!uid) co_return error_response(http::status::bad_request, uid.error(), request.version());
    auto connections = co_await context.engine.presence(*uid);
    if (!connections) co_return unavailable(request.version());
    auto acked = co_await context.engine.acked_seq(*uid);
    if (!acked) co_return unavailable(request.version());
    json::object answer{{"uid", *uid}, {"connections", *connections}, {"acked_seq", *acked}};
    co_return json_response(http::status::ok, answer, request.version());
}

// POST /disconnect {"uid":U[,"reconnect":true]}: every connection of the user, on every node.
awaitable<Response> disconnect(const Request& request, Context& context) {
    auto parsed = parse_disconnect_body(request.body());
    if (!parsed)
        co_return error_response(http::status::bad_request, parsed.error(), request.version());
    auto closed = co_await context.engine.disconnect(parsed->uid, parsed->reconnect);
    if (!closed) co_return unavailable(request.version());
    co_return json_response(http::status::ok, {{"disconnected", *closed}}, request.version());
}

awaitable<Response> stats(const Request& request, Context& context) {
    HubStats hub = co_await context.hub.stats();
    EngineStats engine = co_await context.engine.stats();
    const Metrics& metrics = context.metrics;
    auto uptime =
        std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - context.started_at);
    co_return json_response(
        http::status::ok,
        {{"connections", hub.connections},
         {"users", hub.users},
         {"messages_published", metrics.messages_published.read()},
         {"messages_delivered", metrics.messages_delivered.read()},
         {"slow_consumer_disconnects", metrics.closes.read(close_reasons::slow_consumer)},
         {"ack_waiters", context.ack_gate.waiting()},
         {"streams", engine.streams},
         {"history_streams", engine.history_streams},
         {"history_messages", engine.history_messages},
         {"history_bytes", engine.history_bytes},
         {"node", engine.node},
         {"nodes", engine.nodes},
         {"uptime_seconds", uptime.count()}},
        request.version());
}

// GET /metrics: the Prometheus exposition.
awaitable<Response> metrics(const Request& request, Context& context) {
    ExpositionContext exposition;
    exposition.hub = co_await context.hub.stats();
    exposition.engine = co_await context.engine.stats();
    exposition.process = read_process_stats();
    exposition.version = build_version();
    exposition.cluster = !context.config.redis.empty();
    Response response(http::status::ok, render_prometheus(context.metrics, exposition),
                      request.version());
    response.content_type(prometheus_content_type);
    co_return response;
}

// GET /readyz: whether a load balancer should send this node new clients. Not while it drains
// before a shutdown, nor while its engine cannot serve (a cluster's Redis is unreachable).
Response readiness(const Request& request, const Context& context) {
    if (context.draining && context.draining->load(std::memory_order_relaxed))
        return json_response(http::status::service_unavailable, {{"status", "draining"}},
                             request.version());
    if (!context.engine.ready())
        return json_response(http::status::service_unavailable, {{"status", "unavailable"}},
                             request.version());
    return json_response(http::status::ok, {{"status", "ready"}}, request.version());
}

}  // namespace

Response::Response(http::status status, std::string json_body, unsigned version)
    : status_(status), version_(version), keep_alive_(version >= 11), body_(std::move(json_body)) {}

Response Response::static_content(http::status status, std::string_view content_type,
                                  std::string_view cache_control, std::string_view body,
                                  unsigned version) {
    Response response(status, {}, version);
    response.content_type_ = content_type;
    response.cache_control_ = cache_control;
    response.static_body_ = body;
    return response;
}

void Response::set(http::field field, std::string_view value) {
    set(http::to_string(field), value);
}

void Response::set(std::string_view name, std::string_view value) {
    extra_headers_ += name;
    extra_headers_ += ": ";
    extra_headers_ += value;
    extra_headers_ += "\r\n";
}

void Response::render(std::string& text) const {
    char length[24];
    auto length_end =
        std::to_chars(std::begin(length), std::end(length), body_.size() + static_body_.size()).ptr;
    std::string_view reason = http::obsolete_reason(status_);
    std::string_view connection;
    if (version_ >= 11 && !keep_alive_) connection = "Connection: close\r\n";
    if (version_ < 11 && keep_alive_) connection = "Connection: keep-alive\r\n";

    text.clear();
    text.reserve(128 + reason.size() + content_type_.size() + cache_control_.size() +
                 extra_headers_.size() + connection.size() + body_.size());
    text += version_ >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ";
    char status[4];
    std::to_chars(std::begin(status), std::end(status), result_int());
    text.append(status, 3);
    text += ' ';
    text += reason;
    text += "\r\nServer: herald\r\nContent-Type: ";
    text += content_type_;
    text += "\r\nCache-Control: ";
    text += cache_control_;
    text += "\r\nContent-Length: ";
    text.append(length, length_end);
    text += "\r\n";
    text += extra_headers_;
    text += connection;
    text += "\r\n";
    text += body_;
}

Response error_response(http::status status, std::string_view message, unsigned version) {
    return json_response(status, {{"error", message}}, version);
}

awaitable<Response> handle_request(Request request, Context& context) {
    std::string_view path = path_of(request.target());
    http::verb method = request.method();
    if (path == "/send") {
        if (!authorized(request, context)) co_return unauthorized(request.version());
        if (method != http::verb::get && method != http::verb::post)
            co_return method_not_allowed("GET, POST", request.version());
        co_return co_await send(request, context);
    }
    if (path == "/presence") {
        if (!authorized(request, context)) co_return unauthorized(request.version());
        if (method != http::verb::get) co_return method_not_allowed("GET", request.version());
        co_return co_await presence(request, context);
    }
    if (path == "/disconnect") {
        if (!authorized(request, context)) co_return unauthorized(request.version());
        if (method != http::verb::post) co_return method_not_allowed("POST", request.version());
        co_return co_await disconnect(request, context);
    }
    if (path == "/stats") {
        if (!authorized(request, context)) co_return unauthorized(request.version());
        if (method != http::verb::get) co_return method_not_allowed("GET", request.version());
        co_return co_await stats(request, context);
    }
    if (path == "/metrics") {
        if (!authorized(request, context)) co_return unauthorized(request.version());
        if (method != http::verb::get) co_return method_not_allowed("GET", request.version());
        co_return co_await metrics(request, context);
    }
    if (path == "/readyz") {
        if (method != http::verb::get) co_return method_not_allowed("GET", request.version());
        co_return readiness(request, context);
    }
    if (path == "/healthz") {
        if (method != http::verb::get) co_return method_not_allowed("GET", request.version());
        co_return json_response(http::status::ok, {{"status", "ok"}}, request.version());
    }
    if (path == "/ws") {
        if (method != http::verb::get) co_return method_not_allowed("GET", request.version());
        Response response =
            error_response(http::status::upgrade_required,
                           "this endpoint takes WebSocket upgrades only", request.version());
        response.set(http::field::upgrade, "websocket");
        co_return response;
    }
    if (path == "/sse") {  // a GET without a body became an event stream before it came here
        if (method != http::verb::get) co_return method_not_allowed("GET", request.version());
        co_return error_response(http::status::bad_request, "an event stream request has no body",
                                 request.version());
    }
    if (context.config.web)
        if (auto page = web_response(request, path)) co_return std::move(*page);
    co_return error_response(http::status::not_found, "no such endpoint", request.version());
}

}  // namespace herald
