#include "herald/sse_session.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/experimental/channel_error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "herald/log.hpp"
#include "herald/protocol.hpp"
#include "herald/reader_join.hpp"

namespace herald {
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// A comment line: EventSource ignores it, and proxies see traffic on an idle stream.
constexpr std::string_view ping_comment = ": ping\n\n";
// After a message's envelope head and data: the envelope's end, then the event's.
constexpr std::string_view message_event_end = "}\n\n";

// The TCP socket under the stream, plain or over TLS: what the hub's abort closes and what
// cancels a pending read.
tcp::socket& socket_of(tcp::socket& socket) {
    return socket;
}
tcp::socket& socket_of(TlsStream& stream) {
    return beast::get_lowest_layer(stream).socket();
}

// Ends the stream after its last event: the end of the body (the answer has no Content-Length:
// it ends with the connection). A TLS stream says close_notify first, within the close timeout.
awaitable<void> shut_down(tcp::socket& socket, const Config&) {
    error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    co_return;
}
awaitable<void> shut_down(TlsStream& stream, const Config& config) {
    beast::get_lowest_layer(stream).expires_after(config.close_timeout);
    co_await stream.async_shutdown(use_nothrow);
}

// An origin echoed in a header must be plain header text; a browser's always is.
bool plain_header_text(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// The answer's head. No Content-Length and no chunking: the body is the stream, and it ends
// with the connection, which is never reused (Connection: close). no-store, and nginx told not
// to buffer (X-Accel-Buffering), so that each event goes through at once. The origin, already
// allowed, is echoed for a page of another origin, which a browser's EventSource would
// otherwise refuse to read (it sends no credentials: no Allow-Credentials).
std::string response_head(unsigned version, std::string_view origin) {
    std::string head = version >= 11 ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.0 200 OK\r\n";
    head +=
        "Server: herald\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
        "X-Accel-Buffering: no\r\nConnection: close\r\n";
    if (!origin.empty() && plain_header_text(origin)) {
        head += "Access-Control-Allow-Origin: ";
        head += origin;
        head += "\r\nVary: Origin\r\n";
    }
    head += "\r\n";
    return head;
}

// `data: <json>` and the blank line that ends the event. The JSON that Herald writes has no line
// break (Boost.JSON escapes them in strings and puts none between tokens).
std::string data_event(std::string_view json) {
    std::string event = "data: ";
    event += json;
    event += "\n\n";
    return event;
}

// Transport: tcp::socket, or TlsStream when the server speaks TLS.
template <typename Transport>
class EventStreamSession {
  public:
    EventStreamSession(Transport transport, std::uint64_t id, tcp::endpoint remote,
                       Context& context)
        : stream_(std::move(transport)), id_(id), remote_(remote), context_(context) {}

    // Registers the connection with the engine and answers with the head and the welcome;
    // false when the stream ended on the way (refused by the engine: after a close event).
    awaitable<bool> open(std::unique_ptr<Upgrade<Transport>> request);
    // Writes what the outbox holds until the server closes the stream or the peer goes.
    awaitable<void> serve();
    // Unregisters the connection, after serve().
    void finish();

  private:
    awaitable<error_code> write(Outgoing outgoing);
    awaitable<error_code> write_text(std::string text);
    awaitable<void> read_loop();
    // The close event, with the reason of the close table.
    awaitable<void> close(const CloseReason& reason);
    std::string end_reason() const;

    Transport stream_;
    std::uint64_t id_;
    tcp::endpoint remote_;
    Context& context_;
    std::shared_ptr<Connection> connection_;
    // The epoch of the user's stream, in every event id: a connection stays in the epoch it
    // joined, since a stream that begins anew closes its JSON-protocol connections (1012).
    std::string epoch_;
    const CloseReason* closed_with_ = nullptr;  // set once this side sends the close event
    error_code error_;                          // the first I/O error that ended the stream
    bool write_failed_ = false;
    ReaderJoin reader_;
};

template <typename Transport>
awaitable<bool> EventStreamSession<Transport>::open(std::unique_ptr<Upgrade<Transport>> request) {
    const Config& config = context_.config;
    const std::string head =
        response_head(request->request.version(), request->request[http::field::origin]);
    TokenClaims login = std::move(*request->authenticated);
    std::optional<Since> since = std::move(request->since);
    const bool resuming = since.has_value();
    request.reset();  // the request, with the token in its URL, is not kept

    OutboxLimits limits{config.send_queue, config.send_queue_bytes};
    connection_ = std::make_shared<Connection>(
        stream_.get_executor(), id_, Login{std::move(login.sub), {}, Protocol::json, since},
        remote_, limits);
    connection_->set_token_expiry(login.accepted_until.value_or(0));
    connection_->attach(&socket_of(stream_));

    auto joined = co_await context_.engine.join(connection_, std::move(since));
    context_.metrics.http_requests.add(Endpoint::sse, 200);
    if (!joined || !joined->joined) {
        // A 200 that ends at once with its close event, rather than a 503: EventSource takes
        // any answer but a 200 as final, and these are closes to come back from.
        const CloseReason& reason =
            joined ? close_reasons::shutdown : close_reasons::try_again_later;
        context_.metrics.logins_refused.add(reason);
        closed_with_ = &reason;
        co_await write_text(head + data_event(close_event(reason)));
        co_await shut_down(stream_, config);
        connection_->detach();
        log_info("login_failed", {{"conn", id_}, {"remote", remote_}, {"reason", end_reason()}});
        co_return false;
    }
    if (joined->position.recovered)
        (*joined->position.recovered ? context_.metrics.resumes_recovered
                                     : context_.metrics.resumes_not_recovered)
            .add();
    epoch_ = joined->position.epoch;
    log_info(
        "login",
        {{"conn", id_}, {"uid", connection_->uid()}, {"remote", remote_}, {"protocol", "sse"}});

    // Only now that the hub has the connection, as for a WebSocket. A first login's welcome
    // carries the stream's position as its id: cut before any message, the stream resumes from
    // there. A resume's does not: the replay follows it, and until its first message the
    // browser must go on asking for what it asked for.
    std::string opening = head;
    if (!resuming) {
        opening += "id: ";
        opening += event_id(epoch_, joined->position.seq);
        opening += '\n';
    }
    opening += data_event(
        welcome_frame(connection_->uid(), joined->position, config.ping_interval.count()));
    if (error_code error = co_await write_text(std::move(opening))) {
        error_ = error;
        write_failed_ = true;
        finish();
        co_return false;
    }
    connection_->touch();
    co_return true;
}

template <typename Transport>
awaitable<error_code> EventStreamSession<Transport>::write_text(std::string text) {
    auto [error, written] = co_await asio::async_write(stream_, asio::buffer(text), use_nothrow);
    co_return error;
}

// The reader beside this writer, as a WebSocket's: when the peer goes, the reader ends the
// outbox, which wakes the writer; when the writer is done, it cancels the read.
//
// Alive, for a peer that sends nothing after its request: the keep-alive pings it every ping
// interval, as any connection, and takes it for dead when it shows no sign of life within the
// pong timeout after a ping. A WebSocket's sign is a frame from the peer (its pong). An event
// stream's peer never sends one, so its sign is a write that completed: the ping's comment (or
// any event) went into the socket. A peer that stopped reading, or vanished without a word,
// shows as a write that fails, or that stays stuck once the socket's buffers are full: no sign
// then, so the pong timeout closes it, and a close stuck behind that write is aborted by the
// close timeout.
template <typename Transport>
awaitable<void> EventStreamSession<Transport>::serve() {
    reader_.spawn(stream_.get_executor(), read_loop(), connection_);
    for (;;) {
        auto [error, outgoing] = co_await connection_->receive();
        if (reader_.done()) break;  // the peer has gone; there is nobody to write to
        if (error == asio::experimental::error::channel_closed) {
            co_await close(connection_->close_reason());  // closed without a flush
            break;
        }
        if (error) break;
        if (outgoing.kind == Outgoing::Kind::close) {
            co_await close(connection_->close_reason());
            break;
        }
        if (error_code write_error = co_await write(std::move(outgoing))) {
            if (!error_) {
                error_ = write_error;
                write_failed_ = true;
            }
            break;
        }
        connection_->touch();  // the sign of life (above)
    }

    if (!reader_.done()) {
        error_code ignored;
        socket_of(stream_).cancel(ignored);
        co_await reader_.wait();
    }
    // After the reader: over TLS, the shutdown reads the peer's close_notify itself.
    if (closed_with_) co_await shut_down(stream_, context_.config);
}

// A coroutine of its own, so that what one write needs takes no room in serve()'s frame.
template <typename Transport>
awaitable<error_code> EventStreamSession<Transport>::write(Outgoing outgoing) {
    error_code error;
    if (outgoing.kind == Outgoing::Kind::ping) {
        std::tie(error, std::ignore) =
            co_await asio::async_write(stream_, asio::buffer(ping_comment), use_nothrow);
        connection_->sent(outgoing);
        co_return error;
    }
    const Delivery& message = *outgoing.message;
    std::string prefix = "id: ";
    prefix += event_id(epoch_, message.seq);
    prefix += "\ndata: ";
    // A line break would end the data line early. Herald's JSON has none, but the body could
    // come from another node's store: one there is JSON whitespace, and a space does as well.
    std::string_view data = message.body->data_json;
    std::string one_line;
    if (data.find_first_of("\r\n") != std::string_view::npos) {
        one_line.assign(data);
        std::replace_if(
            one_line.begin(), one_line.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
        data = one_line;
    }
    // One write from five pieces: the event's id, the user's envelope around the shared body.
    std::array<asio::const_buffer, 5> event{asio::buffer(prefix),
                                            asio::buffer(message.envelope_head.view()),
                                            asio::buffer(message.body->data_prefix),
                                            asio::buffer(data), asio::buffer(message_event_end)};
    std::tie(error, std::ignore) = co_await asio::async_write(stream_, event, use_nothrow);
    connection_->sent(outgoing);
    co_return error;
}

template <typename Transport>
awaitable<void> EventStreamSession<Transport>::read_loop() {
    // The peer sends nothing after its request; whatever it sends is read and dropped, into this
    // frame (no heap buffer). The read ends when the peer goes: how its going is seen.
    std::array<char, 64> discarded;
    for (;;) {
        auto [error, size] = co_await stream_.async_read_some(asio::buffer(discarded), use_nothrow);
        if (error) {
            if (!error_) error_ = error;
            co_return;
        }
    }
}

template <typename Transport>
awaitable<void> EventStreamSession<Transport>::close(const CloseReason& reason) {
    closed_with_ = &reason;
    co_await write_text(data_event(close_event(reason)));
}

template <typename Transport>
void EventStreamSession<Transport>::finish() {
    context_.hub.leave(connection_);
    connection_->detach();
    // Counted as a WebSocket's end is: the server's close by its reason, else the peer's end.
    if (closed_with_)
        context_.metrics.disconnects.add(*closed_with_);
    else
        context_.metrics.disconnects.add(write_failed_ ? PeerEnd::write_error : PeerEnd::reset);
    if (!log_enabled(LogLevel::info)) return;
    log_info("disconnect", {{"conn", id_},
                            {"uid", connection_->uid()},
                            {"remote", remote_},
                            {"reason", end_reason()}});
}

template <typename Transport>
std::string EventStreamSession<Transport>::end_reason() const {
    if (closed_with_)
        return std::string(closed_with_->reason) + " (" + std::to_string(closed_with_->code) + ")";
    if (error_ == asio::error::eof) return "client closed";
    return error_ ? error_.message() : "cancelled";
}

template <typename Transport>
awaitable<void> run_stream(std::unique_ptr<Upgrade<Transport>> request, std::uint64_t id,
                           Context& context) {
    const tcp::endpoint remote = request->remote;
    // Its place under the connection limits goes back when this frame ends, whatever the path.
    const Admission::Ticket ticket = std::move(request->ticket);
    {
        EventStreamSession<Transport> session(std::move(request->transport), id, remote, context);
        // Opening and serving in turn, as a WebSocket's: what opening needed goes with its frame.
        bool opened = co_await session.open(std::move(request));
        if (opened) {
            co_await session.serve();
            session.finish();
        }
    }
}

}  // namespace

awaitable<void> run_event_stream(std::unique_ptr<PlainUpgrade> request, std::uint64_t id,
                                 Context& context) {
    return run_stream(std::move(request), id, context);
}

awaitable<void> run_event_stream(std::unique_ptr<TlsUpgrade> request, std::uint64_t id,
                                 Context& context) {
    return run_stream(std::move(request), id, context);
}

}  // namespace herald
