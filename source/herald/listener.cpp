#include "herald/listener.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <exception>
#include <string_view>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "herald/http_session.hpp"
#include "herald/log.hpp"
#include "herald/sse_session.hpp"
#include "herald/websocket_session.hpp"

namespace herald {
namespace {

// After a failed accept that it could not answer, the listener waits this long before it tries
// again, rather than spinning on an error that has not gone away.
constexpr auto accept_backoff = std::chrono::milliseconds(100);

// Logs what escaped a connection's coroutine: a bug, which ends that connection only.
void log_failure(std::uint64_t id, std::exception_ptr failure) {
    if (!failure) return;
    try {
        std::rethrow_exception(failure);
    } catch (const std::exception& error) {
        log_error("session_failed", {{"conn", id}, {"error", error.what()}});
    }
}

}  // namespace

// Completions of a connection's two phases, on its strand. Named types rather than lambda
// temporaries (g++ 12 destroys some capturing lambda temporaries twice around coroutines).
struct Listener::WebSocketDone {
    Listener* listener;
    std::uint64_t id;

    void operator()(std::exception_ptr failure) const {
        log_failure(id, failure);
        listener->forget(id);
    }
};

// The HTTP phase is done: start the WebSocket session (or the event stream) if the connection
// asked for one.
template <typename Upgrade>
struct Listener::HttpDone {
    Listener* listener;
    std::uint64_t id;
    std::shared_ptr<StopSignal> stop;

    void operator()(std::exception_ptr failure, std::unique_ptr<Upgrade> upgrade) {
        log_failure(id, failure);
        if (!upgrade) return listener->forget(id);
        auto executor = upgrade->transport.get_executor();
        if (upgrade->event_stream) {
            asio::co_spawn(executor, run_event_stream(std::move(upgrade), id, listener->context_),
                           WebSocketDone{listener, id});
            return;
        }
        asio::co_spawn(
            executor,
            run_websocket_session(std::move(upgrade), id, std::move(stop), listener->context_),
            WebSocketDone{listener, id});
    }
};

Listener::Listener(asio::io_context& io_context, Context& context)
    : io_context_(io_context),
      context_(context),
      strand_(asio::make_strand(io_context)),
      acceptor_(strand_) {}

Listener::~Listener() {
    if (reserve_fd_ >= 0) ::close(reserve_fd_);
}

tcp::endpoint Listener::listen(const std::string& address, std::uint16_t port) {
    tcp::endpoint endpoint(asio::ip::make_address(address), port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    // Synchronous accepts (refusals, below) must never block the listener.
    acceptor_.non_blocking(true);
    reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    return acceptor_.local_endpoint();
}

void Listener::start() {
    asio::co_spawn(strand_, accept_loop(), [](std::exception_ptr failure) {
        if (failure) std::rethrow_exception(failure);  // a bug: let it end the process loudly
    });
}

void Listener::stop() {
    asio::post(strand_, [this] {
        stopping_ = true;
        error_code ignored;
        acceptor_.close(ignored);
        for (auto& [id, stop] : sessions_)
            stop->request_stop();
    });
}

// Each connection gets its own strand, so that its reader and writer never run at once. With
// one thread, handlers run one at a time anyway, and a strand would only add a lock and a queue
// to every handler of the connection: it runs on the io_context itself.
asio::any_io_executor Listener::connection_executor() {
    if (context_.config.threads == 1) return io_context_.get_executor();
    return asio::make_strand(io_context_);
}

awaitable<void> Listener::accept_loop() {
    asio::steady_timer backoff(strand_);
    bool failing = false;  // one log line per burst of failures, not one per attempt
    // The peer's address comes with the accept, rather than from a getpeername() per connection.
    tcp::endpoint remote;
    while (!stopping_) {
        auto [error, socket] =
            co_await acceptor_.async_accept(connection_executor(), remote, use_nothrow);
        if (stopping_) break;
        if (!error) {
            if (failing) log_info("accept_recovered", {{"refused", std::exchange(refused_, 0)}});
            failing = false;
            start_session(std::move(socket), remote);
            continue;
        }
        if (!failing) log_warn("accept_failed", {{"error", error}});
        failing = true;
        bool out_of_descriptors = error == asio::error::no_descriptors ||
                                  error == error_code(ENFILE, boost::system::system_category());
        if (out_of_descriptors) {
            // Linux fails accept() for want of a descriptor even with no connection pending, so
            // refuse what is pending and then wait for the next arrival, instead of retrying at
            // once: that would spin.
            if (refuse_pending_connection()) continue;
            if (reserve_fd_ >= 0) {
                co_await acceptor_.async_wait(tcp::acceptor::wait_read, use_nothrow);
                continue;
            }
        }
        // Back off rather than spin on an error that has not gone away.
        backoff.expires_after(accept_backoff);
        co_await backoff.async_wait(use_nothrow);
    }
}

bool Listener::refuse_pending_connection() {
    // The reserve descriptor makes room for exactly one: the connection is taken off the
    // backlog, told why, and closed, so that clients see a clear answer instead of a hang.
    if (reserve_fd_ < 0) return false;
    ::close(reserve_fd_);
    error_code error;
    tcp::socket refused = acceptor_.accept(error);
    bool refused_one = !error;  // would_block: nothing was pending after all
    if (refused_one) {
        static constexpr std::string_view answer =
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: "
            "45\r\nConnection: close\r\n\r\n{\"error\":\"server is at its connection limit\"}";
        refused.non_blocking(true, error);
        refused.send(asio::buffer(answer), 0, error);  // best effort: it is closed either way
        refused.close(error);
        ++refused_;
    }
    reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    return refused_one;
}

void Listener::start_session(tcp::socket socket, tcp::endpoint remote) {
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);  // pushes are small and latency matters
    std::uint64_t id = next_id_++;
    auto executor = socket.get_executor();
    auto stop = std::make_shared<StopSignal>(executor);
    sessions_.emplace(id, stop);
    if (context_.tls)
        asio::co_spawn(executor, serve_https(std::move(socket), remote, id, stop, context_),
                       HttpDone<TlsUpgrade>{this, id, stop});
    else
        asio::co_spawn(executor, serve_http(std::move(socket), remote, id, stop, context_),
                       HttpDone<PlainUpgrade>{this, id, stop});
}

void Listener::forget(std::uint64_t id) {
    asio::post(strand_, [this, id] { sessions_.erase(id); });
}

}  // namespace herald
