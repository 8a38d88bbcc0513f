#include "herald/websocket_session.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/channel_error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "herald/corked_stream.hpp"
#include "herald/inbound_limit.hpp"
#include "herald/log.hpp"
#include "herald/reader_join.hpp"

namespace herald {
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

namespace {

websocket::close_reason close_frame(const CloseReason& reason) {
    return websocket::close_reason(static_cast<websocket::close_code>(reason.code),
                                   beast::string_view(reason.reason.data(), reason.reason.size()));
}

// No permessage-deflate: pushes are small, and a compressor's state per connection would cost
// far more memory than it saves bandwidth. Without it Beast leaves the extension's state and
// code out of the stream altogether.
// The corked layer under it lets the writer send several frames in one system call.
template <typename Transport>
using WebSocket = websocket::stream<CorkedStream<Transport>, false>;

// The TCP socket under a WebSocket, plain or over TLS: what the hub's abort closes and what
// cancels a pending read.
tcp::socket& socket_of(WebSocket<tcp::socket>& ws) {
    return ws.next_layer().next_layer();
}
tcp::socket& socket_of(WebSocket<TlsStream>& ws) {
    return beast::get_lowest_layer(ws).socket();
}

// Completes the opening handshake. The upgrade request is only needed for that, so it lives in
// this short frame and not in the session's, which may last for days.
template <typename WebSocket>
awaitable<error_code> accept(WebSocket& ws, http::request<http::string_body> upgrade) {
    auto [error] = co_await ws.async_accept(upgrade, use_nothrow);
    co_return error;
}

// What opening a connection needs and serving it does not, in open()'s frame, which goes before
// serving starts: a timer (the login deadline; then an event that a login cut short awaits,
// cancelled when its close is done) and whether such a close is still pending.
struct Opening {
    explicit Opening(asio::any_io_executor executor) : timer(std::move(executor)) {}
    asio::steady_timer timer;
    bool close_pending = false;
};

// Where a session's login time counts from: 2024-01-01, in seconds since 1970.
constexpr std::int64_t login_epoch_s = 1'704'067'200;

// Transport: tcp::socket, or TlsStream when the server speaks TLS.
template <typename Transport>
class WebSocketSession {
  public:
    WebSocketSession(Transport transport, std::uint64_t id, tcp::endpoint remote,
                     std::shared_ptr<StopSignal> stop, Context& context)
        : ws_(std::move(transport)),
          id_(id),
          remote_(remote),
          stop_(std::move(stop)),
          context_(context) {}

    // Completes the handshake, settles the login, registers the connection with the hub and
    // welcomes a JSON-protocol client; false when the connection ended on the way.
    // `upgrade` has given up its transport to the session already.
    awaitable<bool> open(std::unique_ptr<Upgrade<Transport>> upgrade);
    // Runs the open connection's reader and writer until either side ends it.
    awaitable<void> serve();
    // Unregisters the connection, after serve().
    void finish();

  private:
    struct CloseDone;

    awaitable<std::optional<Login>> read_login(Opening& opening);
    awaitable<std::optional<Login>> authenticate(Login login);
    void handle_command(std::string_view frame);
    awaitable<std::tuple<error_code, bool>> write_queued(Outgoing first, Protocol protocol);
    // Sends a message or a ping from the outbox.
    awaitable<error_code> write(Outgoing outgoing, Protocol protocol);
    awaitable<void> read_loop();
    awaitable<void> close(const CloseReason& reason);
    // Closes a login that is refused, and counts it.
    awaitable<void> refuse(const CloseReason& reason);
    void start_close(const CloseReason& reason, Opening& opening);
    awaitable<void> close_finished(Opening& opening);
    std::string end_reason() const;
    // How a connection in service ended when this side did not close it.
    PeerEnd peer_end() const;
    void sample_delivery_lag(const Delivery& message) const;

    WebSocket<Transport> ws_;
    std::uint64_t id_;
    tcp::endpoint remote_;
    // Two facts in the 4 bytes that the endpoint leaves before the next pointer, so that an idle
    // connection costs no byte more: whether the error that ended the connection came from a
    // write, and the login's time in seconds since login_epoch_s (31 bits: until 2092).
    std::uint32_t write_failed_ : 1 = 0;
    std::uint32_t opened_s_ : 31 = 0;
    std::shared_ptr<StopSignal> stop_;
    Context& context_;
    std::shared_ptr<Connection> connection_;
    const CloseReason* closed_with_ = nullptr;  // set once this side sends a close frame
    error_code error_;                          // the first I/O error that ended the connection
    std::int64_t token_expiry_ = 0;             // of the login token, until the Connection holds it
    ReaderJoin reader_;
};

template <typename Transport>
awaitable<bool> WebSocketSession<Transport>::open(std::unique_ptr<Upgrade<Transport>> upgrade) {
    const Config& config = context_.config;
    // Idle connections are watched by the hub's keep-alive, so Beast's idle timer stays off; its
    // handshake timeout bounds the opening and closing handshakes.
    ws_.set_option(websocket::stream_base::timeout{config.close_timeout,
                                                   websocket::stream_base::none(), false});
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& response) { response.set(http::field::server, "herald"); }));
    ws_.read_message_max(config.max_message_size);

    error_code error = co_await accept(ws_, std::move(upgrade->request));
    std::optional<TokenClaims> authenticated = std::move(upgrade->authenticated);
    Protocol protocol = upgrade->protocol;
    upgrade.reset();  // the upgrade request is not needed once the handshake is done
    if (error) {
        log_debug("upgrade_failed", {{"conn", id_}, {"remote", remote_}, {"error", error}});
        co_return false;
    }

    std::optional<Login> login;
    if (authenticated) {
        // The upgrade request carried a verified token: no login frame to wait for.
        login = Login{std::move(authenticated->sub), {}, protocol, std::nullopt};
        token_expiry_ = authenticated->accepted_until.value_or(0);
    } else {
        Opening opening(ws_.get_executor());
        login = co_await read_login(opening);
    }
    if (!login) {
        log_info("login_failed", {{"conn", id_}, {"remote", remote_}, {"reason", end_reason()}});
        co_return false;
    }

    protocol = login->protocol;
    std::optional<Since> since = std::move(login->since);
    OutboxLimits limits{config.send_queue, config.send_queue_bytes};
    connection_ =
        std::make_shared<Connection>(ws_.get_executor(), id_, std::move(*login), remote_, limits);
    connection_->set_token_expiry(token_expiry_);
    connection_->attach(&socket_of(ws_));
    ws_.control_callback(
        [connection = connection_.get()](websocket::frame_type, beast::string_view) {
            connection->touch();  // pongs count as signs of life
        });

    auto joined = co_await context_.engine.join(connection_, std::move(since));
    if (!joined || !joined->joined) {
        // The engine cannot serve it now (a cluster without its Redis), or the server is
        // shutting down.
        co_await refuse(joined ? close_reasons::shutdown : close_reasons::try_again_later);
        connection_->detach();
        co_return false;
    }
    if (joined->position.recovered)
        (*joined->position.recovered ? context_.metrics.resumes_recovered
                                     : context_.metrics.resumes_not_recovered)
            .add();
    opened_s_ = static_cast<std::uint32_t>(wall_clock_ms() / 1000 - login_epoch_s);
    log_info("login", {{"conn", id_},
                       {"uid", connection_->uid()},
                       {"remote", remote_},
                       {"protocol", protocol == Protocol::json ? "json" : "seed"}});

    ws_.text(true);
    if (protocol == Protocol::json) {
        // Sent only now that the hub has the connection: whatever is published after the client
        // sees its welcome reaches it.
        std::string welcome =
            welcome_frame(connection_->uid(), joined->position, config.ping_interval.count());
        auto [error, written] = co_await ws_.async_write(asio::buffer(welcome), use_nothrow);
        if (error) {
            error_ = error;
            write_failed_ = 1;
            finish();
            co_return false;
        }
    }
    co_return true;
}

template <typename Transport>
void WebSocketSession<Transport>::finish() {
    context_.hub.leave(connection_);
    connection_->detach();
    // Every connection in service ends here, once: counted by how.
    if (closed_with_)
        context_.metrics.disconnects.add(*closed_with_);
    else
        context_.metrics.disconnects.add(peer_end());
    // The reason is text made for this line alone: not made when info lines are not written.
    if (!log_enabled(LogLevel::info)) return;
    log_info("disconnect", {{"conn", id_},
                            {"uid", connection_->uid()},
                            {"remote", remote_},
                            {"reason", end_reason()}});
}

template <typename Transport>
awaitable<std::optional<Login>> WebSocketSession<Transport>::read_login(Opening& opening) {
    if (stop_->stop_requested()) {
        co_await close(close_reasons::shutdown);
        co_return std::nullopt;
    }
    beast::flat_buffer buffer;
    // The login deadline and shutdown interrupt the read with a close; the read then completes
    // with the peer's answer to it. The deadline's handler holds the stop signal, not the
    // session, so that it may still be queued when the session is gone: it then finds no
    // action to run. A plain timer and handler rather than a second coroutine racing the read
    // (with ||): this runs for every connection, and connect rate matters.
    opening.timer.expires_after(context_.config.login_timeout);
    opening.timer.async_wait([stop = stop_](error_code error) {
        if (!error) stop->interrupt();
    });
    error_code error;
    {
        auto on_stop = stop_->on_stop([this, &opening] {
            start_close(
                stop_->stop_requested() ? close_reasons::shutdown : close_reasons::login_timeout,
                opening);
        });
        std::tie(error, std::ignore) = co_await ws_.async_read(buffer, use_nothrow);
    }
    opening.timer.cancel();
    if (closed_with_) {  // the deadline or shutdown came first
        context_.metrics.logins_refused.add(*closed_with_);
        co_await close_finished(opening);
        co_return std::nullopt;
    }
    if (error) {
        error_ = error;  // e.g. 1009 for an oversized frame, which Beast has already sent
        co_return std::nullopt;
    }
    if (!ws_.got_text()) {
        co_await refuse(close_reasons::login_not_text);
        co_return std::nullopt;
    }
    auto login = parse_login(
        std::string_view(static_cast<const char*>(buffer.data().data()), buffer.size()));
    if (!login) {
        co_await refuse(*login.error());
        co_return std::nullopt;
    }
    co_return co_await authenticate(std::move(*login));
}

// Settles who the login is: with tokens configured, only a verified token's sub; otherwise the
// uid it names, as in the seed.
template <typename Transport>
awaitable<std::optional<Login>> WebSocketSession<Transport>::authenticate(Login login) {
    if (!context_.access.tokens_required()) {
        if (login.uid.empty()) {
            co_await refuse(close_reasons::uid_missing);
            co_return std::nullopt;
        }
        co_return login;
    }
    if (login.token.empty()) {
        co_await refuse(close_reasons::token_required);
        co_return std::nullopt;
    }
    auto claims = context_.access.verify_token(login.token);
    if (!claims) {
        co_await refuse(close_reasons::token_refusal(claims.error()));
        co_return std::nullopt;
    }
    login.uid = std::move(claims->sub);
    login.token.clear();  // a secret: it is not kept
    token_expiry_ = claims->accepted_until.value_or(0);
    co_return login;
}

// Runs the reader beside this writer until the connection ends, and returns once both are done.
//
// The reader is a coroutine of its own on the connection's strand; the writer is this one. When
// the reader ends (the peer closed or vanished) it ends the outbox, which wakes the writer. When
// the writer ends (the hub closed the connection, or a write failed) it cancels the reader's
// read and waits for the reader to end.
template <typename Transport>
awaitable<void> WebSocketSession<Transport>::serve() {
    const Protocol protocol = connection_->protocol();
    reader_.spawn(ws_.get_executor(), read_loop(), connection_);

    // The writer's loop: it waits on the outbox, never on the hub.
    for (;;) {
        auto [error, outgoing] = co_await connection_->receive();
        if (reader_.done()) break;  // the peer has gone; there is nobody to write to
        if (error == asio::experimental::error::channel_closed) {
            co_await close(connection_->close_reason());  // the hub closed it without a flush
            break;
        }
        if (error) break;
        if (outgoing.kind == Outgoing::Kind::close) {
            co_await close(connection_->close_reason());
            break;
        }
        auto [write_error, close_next] = co_await write_queued(std::move(outgoing), protocol);
        if (write_error) {
            if (!error_) {
                error_ = write_error;
                write_failed_ = 1;
            }
            break;
        }
        if (close_next) {
            co_await close(connection_->close_reason());
            break;
        }
    }

    if (!reader_.done()) {
        error_code ignored;
        socket_of(ws_).cancel(ignored);
        co_await reader_.wait();
    }
}

// Writes `first` and, in the same system call, whatever else waits in the outbox now (up to
// max_batch_frames items or about max_batch_bytes): a connection that fell behind catches up in
// a few writes, not one per frame. Stops at a close, which the caller then makes (after the
// frames before it, which the flush has sent); its second result says so.
template <typename Transport>
awaitable<std::tuple<error_code, bool>> WebSocketSession<Transport>::write_queued(
    Outgoing first, Protocol protocol) {
    constexpr std::size_t max_batch_frames = 64;
    constexpr std::size_t max_batch_bytes = 64 * 1024;
    std::vector<Outgoing> queued;
    connection_->take(queued, max_batch_frames - 1);
    if (queued.empty()) {
        error_code error = co_await write(std::move(first), protocol);
        co_return std::tuple(error, false);
    }

    CorkedStream<Transport>& corked = ws_.next_layer();
    corked.cork();
    // Corked writes cannot fail: they are copied. What fails is the flush.
    co_await write(std::move(first), protocol);
    bool close_next = false;
    error_code error;
    for (Outgoing& outgoing : queued) {
        if (outgoing.kind == Outgoing::Kind::close) {
            close_next = true;
            break;
        }
        co_await write(std::move(outgoing), protocol);
        if (corked.gathered() >= max_batch_bytes) {
            error = co_await corked.flush();
            if (error) break;
            corked.cork();
        }
    }
    error_code flushed = co_await corked.flush();
    co_return std::tuple(error ? error : flushed, close_next);
}

// A coroutine of its own, so that what one write needs (its buffers, its results) takes no room
// in serve()'s frame, which an idle connection keeps for its whole life.
template <typename Transport>
awaitable<error_code> WebSocketSession<Transport>::write(Outgoing outgoing, Protocol protocol) {
    if (outgoing.kind == Outgoing::Kind::ping) {
        error_code error;
        std::tie(error) = co_await ws_.async_ping({}, use_nothrow);
        // A page cannot see WebSocket pings: a JSON-protocol client gets one that it can see, to
        // tell a dead connection by its silence. Seed-mode clients get only their messages.
        if (!error && protocol == Protocol::json)
            std::tie(error, std::ignore) =
                co_await ws_.async_write(asio::buffer(ping_frame), use_nothrow);
        connection_->sent(outgoing);
        co_return error;
    }
    const Delivery& message = *outgoing.message;
    error_code error;
    if (protocol == Protocol::seed) {
        std::tie(error, std::ignore) =
            co_await ws_.async_write(asio::buffer(message.body->text), use_nothrow);
    } else {
        // One frame from four pieces: the user's envelope around the shared body.
        auto parts = message.json_parts();
        std::array<asio::const_buffer, 4> envelope{asio::buffer(parts[0]), asio::buffer(parts[1]),
                                                   asio::buffer(parts[2]), asio::buffer(parts[3])};
        std::tie(error, std::ignore) = co_await ws_.async_write(envelope, use_nothrow);
    }
    if (!error) sample_delivery_lag(message);
    connection_->sent(outgoing);
    co_return error;
}

// One write in 64 on each I/O thread (the first among them) is timed against its message's
// publish: a thread-local count costs nothing per connection, and the clock is read only for
// the sampled ones. A message older than the login is a replay, whose age says nothing of how
// fast the server delivers: it is left out.
template <typename Transport>
void WebSocketSession<Transport>::sample_delivery_lag(const Delivery& message) const {
    static thread_local std::uint32_t writes = 0;
    if ((writes++ & 63) != 0) return;
    if (message.time_ms / 1000 < login_epoch_s + opened_s_) return;
    std::int64_t lag_ms = wall_clock_ms() - message.time_ms;
    // A clock set back, or another node's clock behind ours: no lag rather than a huge one.
    context_.metrics.delivery_lag.observe(
        static_cast<std::uint64_t>(std::max<std::int64_t>(lag_ms, 0)));
}

template <typename Transport>
PeerEnd WebSocketSession<Transport>::peer_end() const {
    if (error_ == websocket::error::closed) return PeerEnd::client_close;
    if (error_ == websocket::error::message_too_big) return PeerEnd::message_too_big;
    if (write_failed_) return PeerEnd::write_error;
    if (error_.category() == websocket::make_error_code(websocket::error::closed).category())
        return PeerEnd::protocol_error;  // Beast has sent 1002 or 1007
    return PeerEnd::reset;
}

template <typename Transport>
awaitable<void> WebSocketSession<Transport>::read_loop() {
    // Frames after the login are read in small pieces into this frame, so an idle connection's
    // pending read holds no heap buffer. In the seed protocol they are ignored, as in the seed;
    // a JSON-protocol client may send commands (acks; refreshes, with tokens), gathered in
    // `command`.
    bool commands = connection_->protocol() == Protocol::json;
    InboundLimit limit(context_.config.max_inbound_rate);
    std::array<char, 128> piece;
    std::string command;
    bool closing = false;
    for (;;) {
        auto [error, size] = co_await ws_.async_read_some(asio::buffer(piece), use_nothrow);
        if (error) {
            if (!error_) error_ = error;
            co_return;
        }
        connection_->touch();
        if (!ws_.is_message_done()) {
            if (commands && !closing) command.append(piece.data(), size);
            continue;
        }
        if (closing) continue;  // read on, so that the peer's answer to our close arrives
        if (!limit.allow()) {
            // The writer sends the close; what else the flood sends is not looked at.
            context_.hub.close(connection_, close_reasons::inbound_rate, false);
            closing = true;
            continue;
        }
        if (!commands) continue;
        command.append(piece.data(), size);
        handle_command(command);
        command.clear();
        command.shrink_to_fit();
    }
}

template <typename Transport>
void WebSocketSession<Transport>::handle_command(std::string_view frame) {
    auto parsed = parse_command(frame);
    if (!parsed) return;  // what the server cannot read is ignored, as unknown commands are
    if (parsed->kind == Command::Kind::ack)
        return context_.engine.acknowledge(connection_->uid(), parsed->seq);
    if (parsed->kind != Command::Kind::refresh || !context_.access.tokens_required()) return;
    auto claims = context_.access.verify_token(parsed->token);
    if (!claims)
        return context_.hub.close(connection_, close_reasons::token_refusal(claims.error()), true);
    if (claims->sub != connection_->uid())
        return context_.hub.close(connection_, close_reasons::refresh_for_another_sub, true);
    // A token without exp (let in by --token-require-exp=false) keeps the expiry the connection
    // has: a refresh may move it, but never lift it to "never".
    if (claims->accepted_until) connection_->set_token_expiry(*claims->accepted_until);
}

template <typename Transport>
awaitable<void> WebSocketSession<Transport>::close(const CloseReason& reason) {
    closed_with_ = &reason;
    co_await ws_.async_close(close_frame(reason), use_nothrow);
}

template <typename Transport>
awaitable<void> WebSocketSession<Transport>::refuse(const CloseReason& reason) {
    context_.metrics.logins_refused.add(reason);
    co_await close(reason);
}

// Sends a close without waiting for the handshake to end: for a read that is pending, which
// then completes with the peer's answer (or Beast's close timeout). The read may also complete
// first, with a login that was already on its way; close_finished() then waits for the close
// before the session may end, since over TLS Asio's SSL operations under Beast's close refer to
// the stream outright (Beast's own close operation holds it weakly).
template <typename Transport>
struct WebSocketSession<Transport>::CloseDone {
    Opening* opening;

    void operator()(error_code) const {
        opening->close_pending = false;
        opening->timer.cancel();  // wakes close_finished() if it waits
    }
};

template <typename Transport>
void WebSocketSession<Transport>::start_close(const CloseReason& reason, Opening& opening) {
    closed_with_ = &reason;
    opening.close_pending = true;
    ws_.async_close(close_frame(reason), CloseDone{&opening});
}

// Bounded: Beast's handshake timeout (the close timeout) ends a close the peer does not answer.
template <typename Transport>
awaitable<void> WebSocketSession<Transport>::close_finished(Opening& opening) {
    if (!opening.close_pending) co_return;
    opening.timer.expires_at(asio::steady_timer::time_point::max());
    co_await opening.timer.async_wait(use_nothrow);
}

template <typename Transport>
std::string WebSocketSession<Transport>::end_reason() const {
    if (closed_with_)
        return std::string(closed_with_->reason) + " (" + std::to_string(closed_with_->code) + ")";
    if (error_ == websocket::error::closed)
        return "client closed (" + std::to_string(ws_.reason().code) + ")";
    if (error_ == websocket::error::message_too_big) return "message too big (1009)";
    return error_ ? error_.message() : "cancelled";
}

template <typename Transport>
awaitable<void> run_session(std::unique_ptr<Upgrade<Transport>> upgrade, std::uint64_t id,
                            std::shared_ptr<StopSignal> stop, Context& context) {
    const tcp::endpoint remote = upgrade->remote;
    // Its place under the connection limits goes back when this frame ends, whatever the path.
    const Admission::Ticket ticket = std::move(upgrade->ticket);
    {
        WebSocketSession<Transport> session(std::move(upgrade->transport), id, remote,
                                            std::move(stop), context);
        // Opening and serving are two coroutines in turn, not one calling the other: what the
        // handshake and the login needed goes with open()'s frame and with the upgrade, and an
        // idle connection, which may last for days, holds only this frame and serve()'s. The
        // upgrade goes to open() whole, as one pointer: arguments by value would stay in this
        // frame, as temporaries of the co_await, for the connection's whole life.
        bool opened = co_await session.open(std::move(upgrade));
        if (opened) {
            co_await session.serve();
            session.finish();
        }
    }
}

}  // namespace

awaitable<void> run_websocket_session(std::unique_ptr<PlainUpgrade> upgrade, std::uint64_t id,
                                      std::shared_ptr<StopSignal> stop, Context& context) {
    return run_session(std::move(upgrade), id, std::move(stop), context);
}

awaitable<void> run_websocket_session(std::unique_ptr<TlsUpgrade> upgrade, std::uint64_t id,
                                      std::shared_ptr<StopSignal> stop, Context& context) {
    return run_session(std::move(upgrade), id, std::move(stop), context);
}

}  // namespace herald
