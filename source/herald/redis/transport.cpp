#include "herald/redis/transport.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <string>
#include <variant>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "herald/redis/error.hpp"

namespace herald::redis {
namespace {

using namespace asio::experimental::awaitable_operators;

// Keepalive probes after 30 s of silence, every 10 s, 3 of them: a peer that vanished without
// a word (a host that lost power) is noticed within about a minute even on a connection that
// sends nothing. The health-check PING usually notices first; this is the kernel's backstop.
void set_keepalive(tcp::socket& socket) {
    error_code ignored;
    socket.set_option(asio::socket_base::keep_alive(true), ignored);
    int idle = 30, interval = 10, count = 3;
    int fd = socket.native_handle();
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

}  // namespace

awaitable<error_code> open_link(tcp::socket& socket, tcp::resolver& resolver,
                                asio::steady_timer& deadline, const RedisSettings& settings) {
    // Every address of the name is tried in turn (async_connect over the list), within the one
    // deadline.
    std::vector<tcp::endpoint> endpoints;
    error_code not_an_address;
    auto address = asio::ip::make_address(settings.host, not_an_address);
    if (!not_an_address) {
        endpoints.emplace_back(address, settings.port);
    } else {
        std::string port = std::to_string(settings.port);
        auto [error, results] = co_await resolver.async_resolve(settings.host, port, use_nothrow);
        if (error) co_return error;
        for (const auto& entry : results)
            endpoints.push_back(entry.endpoint());
    }

    // The timer branch finishes without throwing, so `||` cancels the connect when it fires
    // (and vice versa).
    deadline.expires_after(settings.timeout);
    auto outcome = co_await (asio::async_connect(socket, endpoints, use_nothrow) ||
                             deadline.async_wait(use_nothrow));
    if (outcome.index() == 1) {
        auto [timer_error] = std::get<1>(outcome);
        socket.close();
        // Cancelled: stop() asked, not a slow server.
        co_return timer_error ? timer_error : make_error_code(RedisError::timeout);
    }
    auto [connect_error, endpoint] = std::get<0>(outcome);
    if (connect_error) {
        socket.close();
        co_return connect_error;
    }
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    set_keepalive(socket);
    co_return error_code();
}

}  // namespace herald::redis
