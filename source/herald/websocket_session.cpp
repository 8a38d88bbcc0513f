#include "herald/websocket_session.hpp"

#include <optional>
#include <string>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/channel_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "herald/log.hpp"

namespace herald {
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr CloseReason login_timeout{1008, "login timeout"};
constexpr CloseReason login_not_text{1008, "login must be a text frame"};

// Inbound frames after the login are ignored, so their buffer need not stay large.
constexpr std::size_t idle_read_buffer = 512;

class WebSocketSession {
  public:
    WebSocketSession(beast::tcp_stream stream, std::uint64_t id, tcp::endpoint remote,
                     std::shared_ptr<StopSignal> stop, Context& context)
        : ws_(std::move(stream)),
          id_(id),
          remote_(remote),
          stop_(std::move(stop)),
          context_(context) {}

    awaitable<void> run(http::request<http::string_body> upgrade);

  private:
    awaitable<std::optional<Login>> read_login();
    awaitable<void> enforce_login_deadline();
    awaitable<void> read_loop();
    awaitable<void> write_loop();
    awaitable<void> close(CloseReason reason);
    std::string end_reason() const;

    websocket::stream<beast::tcp_stream> ws_;
    std::uint64_t id_;
    tcp::endpoint remote_;
    std::shared_ptr<StopSignal> stop_;
    Context& context_;
    std::shared_ptr<Connection> connection_;
    std::optional<CloseReason> closed_with_;  // set once this side sends a close frame
    error_code error_;                        // the first I/O error that ended the connection
};

awaitable<void> WebSocketSession::run(http::request<http::string_body> upgrade) {
    const Config& config = context_.config;
    // From here on the websocket's own timeouts apply; the two must not both be armed. Idle
    // connections are watched by the hub's keep-alive, so Beast's idle timer stays off.
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout{config.close_timeout,
                                                   websocket::stream_base::none(), false});
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& response) { response.set(http::field::server, "herald"); }));
    ws_.read_message_max(config.max_message_size);

    if (auto [error] = co_await ws_.async_accept(upgrade, use_nothrow); error) {
        log_debug("upgrade_failed", {{"conn", id_}, {"remote", remote_}, {"error", error}});
        co_return;
    }

    std::optional<Login> login = co_await read_login();
    if (!login) {
        log_info("login_failed", {{"conn", id_}, {"remote", remote_}, {"reason", end_reason()}});
        co_return;
    }

    Protocol protocol = login->protocol;
    OutboxLimits limits{config.send_queue, config.send_queue_bytes};
    auto executor = co_await asio::this_coro::executor;
    connection_ = std::make_shared<Connection>(executor, id_, std::move(*login), remote_, limits);
    connection_->attach(&beast::get_lowest_layer(ws_).socket());
    ws_.control_callback(
        [connection = connection_.get()](websocket::frame_type, beast::string_view) {
            connection->touch();  // pongs count as signs of life
        });

    if (!co_await context_.hub.join(connection_)) {
        co_await close(close_reasons::shutdown);  // the hub is shutting down
        connection_->detach();
        co_return;
    }
    log_info("login", {{"conn", id_},
                       {"uid", connection_->uid()},
                       {"remote", remote_},
                       {"protocol", protocol == Protocol::json ? "json" : "seed"}});

    ws_.text(true);
    bool welcomed = true;
    if (protocol == Protocol::json) {
        // Sent only now that the hub has the connection: whatever is published after the client
        // sees its welcome reaches it.
        std::string welcome = welcome_frame(connection_->uid());
        auto [error, written] = co_await ws_.async_write(asio::buffer(welcome), use_nothrow);
        error_ = error;
        welcomed = !error;
    }
    if (welcomed) {
        // Both loops return normally on any error or close, never by throwing: `||` cancels the
        // other branch only when one completes without an exception. Whichever side ends first
        // thereby takes the other down.
        co_await (read_loop() || write_loop());
    }

    context_.hub.leave(connection_);
    connection_->detach();
    log_info("disconnect", {{"conn", id_},
                            {"uid", connection_->uid()},
                            {"remote", remote_},
                            {"reason", end_reason()}});
}

awaitable<std::optional<Login>> WebSocketSession::read_login() {
    if (stop_->stop_requested()) {
        co_await close(close_reasons::shutdown);
        co_return std::nullopt;
    }
    beast::flat_buffer buffer;
    auto first = co_await (ws_.async_read(buffer, use_nothrow) || enforce_login_deadline());
    if (closed_with_) co_return std::nullopt;  // the deadline or shutdown came first

    auto [error, size] = std::get<0>(first);
    if (error) {
        error_ = error;  // e.g. 1009 for an oversized frame, which Beast has already sent
        co_return std::nullopt;
    }
    if (!ws_.got_text()) {
        co_await close(login_not_text);
        co_return std::nullopt;
    }
    auto login = parse_login(beast::buffers_to_string(buffer.data()));
    if (!login) {
        co_await close(CloseReason{1008, login.error()});
        co_return std::nullopt;
    }
    co_return std::move(*login);
}

// The login read's sibling: at the login deadline, or at shutdown, it closes the connection.
// The pending read then completes with the peer's answer to the close.
awaitable<void> WebSocketSession::enforce_login_deadline() {
    asio::steady_timer timer(co_await asio::this_coro::executor, context_.config.login_timeout);
    auto on_stop = stop_->on_stop([&timer] { timer.cancel(); });
    auto [error] = co_await timer.async_wait(use_nothrow);
    if (error && !stop_->stop_requested()) co_return;  // the login came first
    co_await close(stop_->stop_requested() ? close_reasons::shutdown : login_timeout);
}

awaitable<void> WebSocketSession::read_loop() {
    beast::flat_buffer buffer;
    for (;;) {
        auto [error, size] = co_await ws_.async_read(buffer, use_nothrow);
        if (error) {
            if (!error_) error_ = error;
            co_return;
        }
        connection_->touch();
        // Frames after the login are read and ignored, as in the seed.
        buffer.clear();
        if (buffer.capacity() > idle_read_buffer) buffer.shrink_to_fit();
    }
}

awaitable<void> WebSocketSession::write_loop() {
    Protocol protocol = connection_->protocol();
    for (;;) {
        auto [error, outgoing] = co_await connection_->receive();
        if (error == asio::experimental::error::channel_closed) {
            co_await close(connection_->close_reason());  // closed without a flush
            co_return;
        }
        if (error) co_return;  // cancelled: the reader has ended the connection

        switch (outgoing.kind) {
            case Outgoing::Kind::message: {
                const std::string& frame = outgoing.message->frame(protocol);
                auto [write_error, written] =
                    co_await ws_.async_write(asio::buffer(frame), use_nothrow);
                connection_->sent(outgoing);
                if (write_error) {
                    if (!error_) error_ = write_error;
                    co_return;
                }
                break;
            }
            case Outgoing::Kind::ping: {
                auto [ping_error] = co_await ws_.async_ping({}, use_nothrow);
                if (ping_error) {
                    if (!error_) error_ = ping_error;
                    co_return;
                }
                break;
            }
            case Outgoing::Kind::close:
                co_await close(connection_->close_reason());
                co_return;
        }
    }
}

awaitable<void> WebSocketSession::close(CloseReason reason) {
    closed_with_ = reason;
    websocket::close_reason frame(static_cast<websocket::close_code>(reason.code),
                                  beast::string_view(reason.reason.data(), reason.reason.size()));
    co_await ws_.async_close(frame, use_nothrow);
}

std::string WebSocketSession::end_reason() const {
    if (closed_with_)
        return std::string(closed_with_->reason) + " (" + std::to_string(closed_with_->code) + ")";
    if (error_ == websocket::error::closed)
        return "client closed (" + std::to_string(ws_.reason().code) + ")";
    if (error_ == websocket::error::message_too_big) return "message too big (1009)";
    return error_ ? error_.message() : "cancelled";
}

}  // namespace

awaitable<void> run_websocket_session(beast::tcp_stream stream,
                                      http::request<http::string_body> upgrade, std::uint64_t id,
                                      tcp::endpoint remote, std::shared_ptr<StopSignal> stop,
                                      Context& context) {
    WebSocketSession session(std::move(stream), id, remote, std::move(stop), context);
    co_await session.run(std::move(upgrade));
}

}  // namespace herald
