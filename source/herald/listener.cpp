#include "herald/listener.hpp"

#include <exception>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "herald/http_session.hpp"
#include "herald/log.hpp"

namespace herald {
namespace {

// After a failed accept (out of descriptors, most often) the listener waits this long before
// it tries again, rather than spinning on an error that has not gone away.
constexpr auto accept_backoff = std::chrono::milliseconds(100);

}  // namespace

// Completion of one session's coroutine: forgets its stop signal, and logs what escaped it.
// A named type rather than a lambda temporary (see the g++ 12 notes in the design doc).
struct Listener::SessionDone {
    Listener* listener;
    std::uint64_t id;

    void operator()(std::exception_ptr failure) const {
        if (failure) {
            try {
                std::rethrow_exception(failure);
            } catch (const std::exception& error) {
                log_error("session_failed", {{"conn", id}, {"error", error.what()}});
            }
        }
        asio::post(listener->strand_,
                   [listener = listener, id = id] { listener->sessions_.erase(id); });
    }
};

Listener::Listener(asio::io_context& io_context, Context& context)
    : io_context_(io_context),
      context_(context),
      strand_(asio::make_strand(io_context)),
      acceptor_(strand_) {}

tcp::endpoint Listener::listen(const std::string& address, std::uint16_t port) {
    tcp::endpoint endpoint(asio::ip::make_address(address), port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
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

awaitable<void> Listener::accept_loop() {
    asio::steady_timer backoff(strand_);
    bool failing = false;  // one log line per burst of failures, not one per attempt
    while (!stopping_) {
        // Each connection gets its own strand, so that its reader and writer never run at once.
        auto [error, socket] =
            co_await acceptor_.async_accept(asio::make_strand(io_context_), use_nothrow);
        if (stopping_) break;
        if (error) {
            if (!failing) log_warn("accept_failed", {{"error", error}});
            failing = true;
            backoff.expires_after(accept_backoff);
            co_await backoff.async_wait(use_nothrow);
            continue;
        }
        if (failing) log_info("accept_recovered");
        failing = false;
        start_session(std::move(socket));
    }
}

void Listener::start_session(tcp::socket socket) {
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);  // pushes are small and latency matters
    std::uint64_t id = next_id_++;
    auto executor = socket.get_executor();
    auto stop = std::make_shared<StopSignal>(executor);
    sessions_.emplace(id, stop);
    asio::co_spawn(executor, serve_connection(std::move(socket), id, std::move(stop), context_),
                   SessionDone{this, id});
}

}  // namespace herald
