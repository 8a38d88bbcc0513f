#include "herald/http_session.hpp"

#include <array>
#include <chrono>
#include <utility>
#include <variant>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "herald/http_api.hpp"
#include "herald/log.hpp"
#include "herald/protocol.hpp"
#include "herald/websocket_session.hpp"

namespace herald {
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace {

// The answer owed to a request that could not be parsed; none when the peer simply went away
// (or timed out, or the server stopped) and nobody is left to read an answer.
std::optional<Response> answer_to_read_error(const error_code& error) {
    if (error == http::error::header_limit)
        return error_response(http::status::request_header_fields_too_large,
                              "request head too large", 11);
    if (error == http::error::body_limit)
        return error_response(http::status::payload_too_large, "request body too large", 11);
    if (error.category() == http::make_error_code(http::error::bad_method).category() &&
        error != http::error::end_of_stream && error != http::error::partial_message)
        return error_response(http::status::bad_request, "malformed HTTP request", 11);
    return std::nullopt;
}

std::string_view path_of(std::string_view target) {
    return target.substr(0, target.find('?'));
}

// Counts every answer by endpoint and status, and logs error answers with the path only: a query
// string may carry message content, which is never logged.
void log_answer(Context& context, std::uint64_t id, const tcp::endpoint& remote,
                std::string_view path, const Response& response) {
    context.metrics.http_requests.add(endpoint_of(path), response.result_int());
    if (response.result_int() < 400) return;
    log_info("http_error", {{"conn", id},
                            {"remote", remote},
                            {"path", path},
                            {"status", response.result_int()},
                            {"error", response.body()}});
}

bool expects_continue(const Request& head) {
    return beast::iequals(head[http::field::expect], "100-continue");
}

// What an upgrade request earned by passing its checks.
struct UpgradeGrant {
    Admission::Ticket ticket;
    std::optional<TokenClaims> authenticated;
    Protocol protocol = Protocol::seed;
};

// The checks an upgrade request must pass before it gets its WebSocket: the origin, the token of
// a non-browser client, and the connection limits. A refusal is the HTTP answer to send.
awaitable<std::variant<UpgradeGrant, Response>> check_upgrade(const Request& request,
                                                              tcp::endpoint remote,
                                                              Context& context) {
    unsigned version = request.version();
    if (!context.access.origin_allowed(request[http::field::origin]))
        co_return error_response(http::status::forbidden, "origin not allowed", version);

    UpgradeGrant grant;
    if (auto token = bearer_token(request[http::field::authorization]);
        token && context.access.tokens_required()) {
        auto claims = context.access.verify_token(*token);
        if (!claims)
            co_return error_response(http::status::unauthorized, describe(claims.error()), version);
        grant.authenticated = std::move(*claims);
        grant.protocol = upgrade_protocol(request.target());
    }

    auto admitted = co_await context.admission.admit(remote.address());
    if (!admitted) {
        if (admitted.error() == Refusal::server_full)
            co_return error_response(http::status::service_unavailable,
                                     "server is at its connection limit", version);
        co_return error_response(http::status::too_many_requests,
                                 "too many connections from this address", version);
    }
    grant.ticket = std::move(*admitted);
    co_return grant;
}

// What an event stream request earned by passing its checks.
struct EventStreamGrant {
    Admission::Ticket ticket;
    TokenClaims login;  // the verified token's claims, or in dev mode the URL's uid
    std::optional<Since> since;
};

// The checks of GET /sse, the same as an upgrade's: the origin, the login (a token in
// `Authorization: Bearer` or, since a browser's EventSource cannot set headers, in ?token=; in
// dev mode the URL's uid), the Last-Event-ID, and the connection limits. A refusal is the HTTP
// answer to send; EventSource takes any answer but a 200 as final and does not come back.
awaitable<std::variant<EventStreamGrant, Response>> check_event_stream(const Request& request,
                                                                       tcp::endpoint remote,
                                                                       Context& context) {
    unsigned version = request.version();
    if (!context.access.origin_allowed(request[http::field::origin]))
        co_return error_response(http::status::forbidden, "origin not allowed", version);
    auto query = parse_event_stream_query(request.target());
    if (!query) co_return error_response(http::status::bad_request, query.error(), version);

    EventStreamGrant grant;
    if (context.access.tokens_required()) {
        std::optional<std::string_view> token = bearer_token(request[http::field::authorization]);
        if (!token && query->token) token = *query->token;
        if (!token)
            co_return error_response(http::status::unauthorized,
                                     close_reasons::token_required.reason, version);
        auto claims = context.access.verify_token(*token);
        if (!claims)
            co_return error_response(http::status::unauthorized, describe(claims.error()), version);
        grant.login = std::move(*claims);
    } else {
        if (!query->uid)
            co_return error_response(http::status::bad_request, close_reasons::uid_missing.reason,
                                     version);
        grant.login.sub = std::move(*query->uid);
    }
    if (auto last_id = request["Last-Event-ID"]; !last_id.empty()) {
        auto since = parse_last_event_id(last_id);
        if (!since) co_return error_response(http::status::bad_request, since.error(), version);
        grant.since = std::move(*since);
    }

    auto admitted = co_await context.admission.admit(remote.address());
    if (!admitted) {
        if (admitted.error() == Refusal::server_full)
            co_return error_response(http::status::service_unavailable,
                                     "server is at its connection limit", version);
        co_return error_response(http::status::too_many_requests,
                                 "too many connections from this address", version);
    }
    grant.ticket = std::move(*admitted);
    co_return grant;
}

// Writes one answer, rendered into `text`: the connection's answer buffer, which must stay put
// until the write is done, and whose capacity serves every answer of the connection.
// A static body (an embedded web page) follows from where it is, uncopied.
template <typename Stream>
auto write_answer(Stream& stream, const Response& response, std::string& text) {
    response.render(text);
    std::array<asio::const_buffer, 2> message{asio::buffer(text),
                                              asio::buffer(response.static_body())};
    return asio::async_write(stream, message, use_nothrow);
}

// The deadline of each request on a plain connection: past it, the socket is closed. One timer
// for the connection's life, armed once and re-armed only when it fires before a deadline that
// has since moved on, so that a request costs no timer operation. (Beast's tcp_stream arms and
// cancels its timer around every read and write: an allocation and an extra handler each.) The
// wait's handler holds the state, not this object, which may be gone when a fired wait runs.
class RequestDeadline {
  public:
    explicit RequestDeadline(tcp::socket& socket) : state_(std::make_shared<State>(socket)) {}
    RequestDeadline(const RequestDeadline&) = delete;
    RequestDeadline& operator=(const RequestDeadline&) = delete;
    ~RequestDeadline() { stop(); }

    // The connection is closed unless what it does next is done within `timeout`.
    void start(Duration timeout) {
        state_->deadline = Clock::now() + timeout;
        if (!state_->armed)
            arm(state_);
        else if (state_->timer.expiry() > state_->deadline)
            state_->timer.cancel();  // an earlier deadline (a lingering close): its handler re-arms
    }
    // No deadline any more: the socket is handed over, or about to go.
    void stop() {
        state_->socket = nullptr;
        state_->timer.cancel();
    }

  private:
    struct State {
        explicit State(tcp::socket& socket) : timer(socket.get_executor()), socket(&socket) {}
        asio::steady_timer timer;
        tcp::socket* socket;
        Clock::time_point deadline;
        bool armed = false;
    };
    struct Expired {
        std::shared_ptr<State> state;
        void operator()(error_code) {
            state->armed = false;
            if (!state->socket) return;  // stopped
            if (Clock::now() < state->deadline) return arm(std::move(state));
            error_code ignored;
            state->socket->close(ignored);  // fails what is pending and what comes next
        }
    };
    static void arm(std::shared_ptr<State> state) {
        state->armed = true;
        state->timer.expires_at(state->deadline);
        asio::steady_timer& timer = state->timer;
        timer.async_wait(Expired{std::move(state)});
    }

    std::shared_ptr<State> state_;
};

// Over TLS, Beast's own timeouts on the TCP stream under it, which its handshake and shutdown
// need anyway.
class TlsRequestDeadline {
  public:
    explicit TlsRequestDeadline(TlsStream& stream) : tcp_(beast::get_lowest_layer(stream)) {}
    void start(Duration timeout) { tcp_.expires_after(timeout); }
    void stop() { tcp_.expires_never(); }

  private:
    beast::tcp_stream& tcp_;
};

RequestDeadline deadline_for(tcp::socket& socket) {
    return RequestDeadline(socket);
}
TlsRequestDeadline deadline_for(TlsStream& stream) {
    return TlsRequestDeadline(stream);
}

// Cancels what is pending on the connection (shutdown, for a connection waiting for a request).
void cancel_io(tcp::socket& socket) {
    error_code ignored;
    socket.cancel(ignored);  // it may have been closed by its deadline already
}
void cancel_io(TlsStream& stream) {
    beast::get_lowest_layer(stream).cancel();
}

// What a WebSocket takes over from the HTTP stream: the plain socket, or the whole TLS stream.
tcp::socket transport_for_websocket(tcp::socket& socket) {
    return std::move(socket);
}
TlsStream transport_for_websocket(TlsStream& stream) {
    return std::move(stream);
}

// Ends a connection that is not becoming a WebSocket: a TLS one says close_notify first.
awaitable<void> finish(tcp::socket& socket, const Config&) {
    error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    co_return;
}
awaitable<void> finish(TlsStream& stream, const Config& config) {
    beast::get_lowest_layer(stream).expires_after(config.close_timeout);
    co_await stream.async_shutdown(use_nothrow);
}

// Lingering close, as nginx does it. An answer that refuses a request before all of it was read
// (413, 431, a malformed head, a refused upgrade) may reach a client that is still sending its
// body. Closing the socket then, with unread bytes in it, makes the kernel reset the connection:
// a client still writing (Node's fetch, Python's urllib) gets EPIPE or ECONNRESET, and often
// loses the answer already on its way. So the server stops sending (a plain socket's FIN follows
// the answer), reads and drops whatever still comes until the client closes, --close-timeout
// passes, the server stops, or `lingering_bytes` are read, and only then closes.
constexpr std::size_t lingering_bytes = 4 * 1024 * 1024;

void stop_sending(tcp::socket& socket) {
    error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
}
// TLS has no half-close short of close_notify, which finish() sends once the reading is done.
void stop_sending(TlsStream&) {}

// A coroutine of its own, so that its buffer is allocated only when a connection lingers.
template <typename Stream, typename Deadline>
awaitable<void> linger(Stream& stream, Deadline& deadline, std::shared_ptr<StopSignal> stop,
                       Duration timeout) {
    stop_sending(stream);
    if (stop->stop_requested()) co_return;
    deadline.start(timeout);
    auto on_stop = stop->on_stop([&stream] { cancel_io(stream); });
    std::array<char, 16 * 1024> discarded;
    for (std::size_t read = 0; read < lingering_bytes;) {
        auto [error, n] = co_await stream.async_read_some(asio::buffer(discarded), use_nothrow);
        if (error) break;  // the client closed, or the deadline or a stop cut it short
        read += n;
    }
}

// Serves HTTP requests on `stream` (tcp::socket or TlsStream); see serve_http.
template <typename Stream>
awaitable<std::unique_ptr<Upgrade<decltype(transport_for_websocket(std::declval<Stream&>()))>>>
serve_requests(Stream stream, tcp::endpoint remote, std::uint64_t id,
               std::shared_ptr<StopSignal> stop, Context& context) {
    using Transport = decltype(transport_for_websocket(stream));
    beast::flat_buffer buffer;
    std::string answer_text;
    const Config& config = context.config;
    auto deadline = deadline_for(stream);

    for (;;) {
        http::request_parser<http::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(config.max_header_size));
        parser.body_limit(config.max_body);
        // One deadline covers the whole request, so a client that trickles its head or body
        // byte by byte is dropped all the same.
        deadline.start(config.http_timeout);

        // Shutdown interrupts only this wait for the next request, never a request in flight.
        if (stop->stop_requested()) break;
        error_code error;
        {
            auto on_stop = stop->on_stop([&stream] { cancel_io(stream); });
            std::tie(error, std::ignore) =
                co_await http::async_read_header(stream, buffer, parser, use_nothrow);
        }

        if (!error && websocket::is_upgrade(parser.get()) &&
            path_of(parser.get().target()) == "/ws") {
            Request request = parser.release();
            auto checked = co_await check_upgrade(request, remote, context);
            if (auto* refusal = std::get_if<Response>(&checked)) {
                refusal->keep_alive(false);
                log_answer(context, id, remote, "/ws", *refusal);
                auto [write_error, written] = co_await write_answer(stream, *refusal, answer_text);
                if (!write_error) co_await linger(stream, deadline, stop, config.close_timeout);
                break;
            }
            // The websocket keeps its own timeouts from here on.
            deadline.stop();
            context.metrics.http_requests.add(Endpoint::ws, 101);
            UpgradeGrant& grant = std::get<UpgradeGrant>(checked);
            // On the heap from the start: the session takes it over by pointer, not by moving a
            // request's fields around. Braced `new` because clang 14 (the fuzz build) has no
            // make_unique for aggregates.
            co_return std::unique_ptr<Upgrade<Transport>>(new Upgrade<Transport>{
                transport_for_websocket(stream), std::move(request), remote,
                std::move(grant.ticket), std::move(grant.authenticated), grant.protocol});
        }

        // An event stream: a GET without a body, answered by the stream itself.
        if (!error && parser.is_done() && parser.get().method() == http::verb::get &&
            path_of(parser.get().target()) == "/sse") {
            Request request = parser.release();
            auto checked = co_await check_event_stream(request, remote, context);
            if (auto* refusal = std::get_if<Response>(&checked)) {
                refusal->keep_alive(false);
                log_answer(context, id, remote, "/sse", *refusal);
                co_await write_answer(stream, *refusal, answer_text);  // read whole: no linger
                break;
            }
            // The stream is bounded by the hub's keep-alive and close deadlines from here on.
            deadline.stop();
            EventStreamGrant& grant = std::get<EventStreamGrant>(checked);
            auto handover = std::unique_ptr<Upgrade<Transport>>(new Upgrade<Transport>{
                transport_for_websocket(stream), std::move(request), remote,
                std::move(grant.ticket), std::move(grant.login), Protocol::json});
            handover->event_stream = true;
            handover->since = std::move(grant.since);
            co_return handover;
        }

        if (!error && expects_continue(parser.get())) {
            auto length = parser.content_length();
            if (length && *length > config.max_body) {
                error = http::error::body_limit;
            } else {
                static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
                std::tie(error, std::ignore) =
                    co_await asio::async_write(stream, asio::buffer(go_on), use_nothrow);
            }
        }
        if (!error && !parser.is_done())
            std::tie(error, std::ignore) =
                co_await http::async_read(stream, buffer, parser, use_nothrow);

        if (error) {
            if (auto answer = answer_to_read_error(error)) {
                answer->keep_alive(false);
                log_answer(context, id, remote, path_of(parser.get().target()), *answer);
                auto [write_error, written] = co_await write_answer(stream, *answer, answer_text);
                if (!write_error) co_await linger(stream, deadline, stop, config.close_timeout);
            }
            break;
        }

        Request request = parser.release();
        std::string path(path_of(request.target()));  // short paths need no allocation
        bool keep_alive = request.keep_alive();
        const Clock::time_point read_at = Clock::now();
        Response response = co_await handle_request(std::move(request), context);
        response.keep_alive(keep_alive && !stop->stop_requested());
        log_answer(context, id, remote, path, response);
        auto [write_error, written] = co_await write_answer(stream, response, answer_text);
        // A publish's duration, for those that reached the engine (not the refusals of bad input).
        if (path == "/send" && (response.result_int() == 200 || response.result_int() == 503)) {
            auto taken =
                std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - read_at);
            context.metrics.publish_duration.observe(static_cast<std::uint64_t>(taken.count()));
        }
        if (write_error || !response.keep_alive()) break;
    }
    co_await finish(stream, config);
    co_return nullptr;
}

}  // namespace

awaitable<std::unique_ptr<PlainUpgrade>> serve_http(tcp::socket socket, tcp::endpoint remote,
                                                    std::uint64_t id,
                                                    std::shared_ptr<StopSignal> stop,
                                                    Context& context) {
    return serve_requests(std::move(socket), remote, id, std::move(stop), context);
}

awaitable<std::unique_ptr<TlsUpgrade>> serve_https(tcp::socket socket, tcp::endpoint remote,
                                                   std::uint64_t id,
                                                   std::shared_ptr<StopSignal> stop,
                                                   Context& context) {
    TlsStream stream(beast::tcp_stream(std::move(socket)), *context.tls);
    // The handshake has the deadline of a request: a client that never finishes it is dropped.
    beast::get_lowest_layer(stream).expires_after(context.config.http_timeout);
    if (auto [error] = co_await stream.async_handshake(asio::ssl::stream_base::server, use_nothrow);
        error) {
        log_debug("tls_handshake_failed", {{"conn", id}, {"remote", remote}, {"error", error}});
        co_return nullptr;
    }
    co_return co_await serve_requests(std::move(stream), remote, id, std::move(stop), context);
}

}  // namespace herald
