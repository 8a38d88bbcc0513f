#include "support/tcp_proxy.hpp"

#include <array>
#include <future>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

namespace herald::test {
namespace {

using namespace asio::experimental::awaitable_operators;

// SO_LINGER 0: close() sends RST instead of FIN, as a dropped link looks to both ends.
void reset(tcp::socket& socket) {
    error_code ignored;
    socket.set_option(asio::socket_base::linger(true, 0), ignored);
    socket.close(ignored);
}

}  // namespace

struct TcpProxy::Link {
    explicit Link(asio::any_io_executor executor) : client(executor), server(executor) {}
    std::uint64_t id = 0;
    tcp::socket client;
    tcp::socket server;
    std::string opening;            // the client's first bytes: who it is (CLIENT SETNAME ...)
    bool silent_to_client = false;  // silence_links(): this link alone drops what comes back
};

TcpProxy::TcpProxy(std::uint16_t upstream_port)
    : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
      port_(acceptor_.local_endpoint().port()),
      upstream_port_(upstream_port) {
    asio::co_spawn(io_, accept_loop(), [](std::exception_ptr failure) {
        if (failure) std::rethrow_exception(failure);
    });
    thread_ = std::thread([this] { io_.run(); });
}

TcpProxy::~TcpProxy() {
    // Closing the acceptor and every link ends every coroutine: run() then returns.
    asio::post(io_, [this] {
        error_code ignored;
        acceptor_.close(ignored);
        for (auto& [id, link] : links_) {
            reset(link->client);
            reset(link->server);
        }
    });
    thread_.join();
}

void TcpProxy::on_proxy_thread(std::function<void()> action) {
    std::promise<void> done;
    asio::post(io_, [&] {
        action();
        done.set_value();
    });
    BOOST_REQUIRE_MESSAGE(
        done.get_future().wait_for(std::chrono::seconds(5)) == std::future_status::ready,
        "the proxy's thread did not answer");
}

void TcpProxy::cut() {
    on_proxy_thread([this] {
        for (auto& [id, link] : links_) {
            reset(link->client);
            reset(link->server);
        }
    });
}

void TcpProxy::blackhole(Direction direction) {
    if (direction != Direction::to_client) drop_to_server_ = true;
    if (direction != Direction::to_server) drop_to_client_ = true;
}

void TcpProxy::silence_links(std::string marker) {
    on_proxy_thread([this, marker = std::move(marker)] {
        for (auto& [id, link] : links_)
            if (link->opening.find(marker) != std::string::npos) link->silent_to_client = true;
    });
}

void TcpProxy::delay(std::chrono::milliseconds delay) {
    delay_ms_ = delay.count();
}

void TcpProxy::restore() {
    drop_to_server_ = false;
    drop_to_client_ = false;
    delay_ms_ = 0;
}

bool TcpProxy::dropped(Direction direction) const {
    return direction == Direction::to_server ? drop_to_server_.load() : drop_to_client_.load();
}

awaitable<void> TcpProxy::accept_loop() {
    for (;;) {
        auto [error, client] = co_await acceptor_.async_accept(use_nothrow);
        if (error == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
        if (error) continue;
        ++accepted_;
        auto link = std::make_shared<Link>(io_.get_executor());
        link->id = next_link_++;
        link->client = std::move(client);
        links_.emplace(link->id, link);
        asio::co_spawn(io_, serve(link), [](std::exception_ptr failure) {
            if (failure) std::rethrow_exception(failure);
        });
    }
}

// The link's coroutine holds it, so that cut() and the pumps can close its sockets while the
// registry (links_) only points at it.
awaitable<void> TcpProxy::serve(std::shared_ptr<Link> link) {
    auto [error] = co_await link->server.async_connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), upstream_port_.load()), use_nothrow);
    if (!error) {
        error_code ignored;
        link->server.set_option(tcp::no_delay(true), ignored);
        link->client.set_option(tcp::no_delay(true), ignored);
        // Each pump returns when its side closes; `||` then cancels the other.
        co_await (pump(*link, link->client, link->server, Direction::to_server) ||
                  pump(*link, link->server, link->client, Direction::to_client));
    }
    // One side is gone: so is the link (a reset, so the other side learns it at once).
    reset(link->client);
    reset(link->server);
    links_.erase(link->id);
}

awaitable<void> TcpProxy::pump(Link& link, tcp::socket& from, tcp::socket& to,
                               Direction direction) {
    std::array<char, 16 * 1024> buffer;
    asio::steady_timer wait(co_await asio::this_coro::executor);
    for (;;) {
        auto [read_error, size] = co_await from.async_read_some(asio::buffer(buffer), use_nothrow);
        if (read_error) co_return;
        if (auto delay = delay_ms_.load(); delay > 0) {
            wait.expires_after(std::chrono::milliseconds(delay));
            auto [wait_error] = co_await wait.async_wait(use_nothrow);
            if (wait_error) co_return;  // cancelled: the link is closing
        }
        // Read and dropped rather than left unread: the sender sees no back-pressure, as with
        // packets lost on the way.
        if (direction == Direction::to_server && link.opening.size() < 512)
            link.opening.append(buffer.data(), std::min<std::size_t>(size, 512));
        if (dropped(direction)) continue;
        if (direction == Direction::to_client && link.silent_to_client) continue;
        auto [write_error, written] =
            co_await asio::async_write(to, asio::buffer(buffer.data(), size), use_nothrow);
        if (write_error) co_return;
    }
}

}  // namespace herald::test
