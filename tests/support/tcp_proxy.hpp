// An in-process TCP proxy that a test controls: the network between a client and a server,
// made to fail on purpose.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "herald/net.hpp"

namespace herald::test {

// Listens on 127.0.0.1 (a free port) and links every client it accepts to a new connection to
// the upstream port, copying bytes both ways. It runs on a thread and an io_context of its
// own, so that the test thread and the client under test can block or pause freely.
//
// The faults apply to the links there are and to those that come later, until restore():
// - cut(): resets every current link (RST to both ends), like a middlebox that dropped them;
//   new connections are accepted as before.
// - blackhole(direction): bytes in that direction are read and silently dropped, while both
//   sockets stay open: a network partition that no one is told about.
// - delay(d): every chunk waits d before it is passed on.
class TcpProxy {
  public:
    enum class Direction { to_server, to_client, both };

    explicit TcpProxy(std::uint16_t upstream_port);
    ~TcpProxy();
    TcpProxy(const TcpProxy&) = delete;
    TcpProxy& operator=(const TcpProxy&) = delete;

    std::uint16_t port() const { return port_; }

    // Returns once every link open at the call has been reset.
    void cut();
    void blackhole(Direction direction);
    // The links open now whose client's first bytes hold `marker` (a name its handshake gives,
    // such as a Redis CLIENT SETNAME) silently stop passing what comes back to the client; the
    // others, and links made later, are untouched: one connection that stops delivering.
    void silence_links(std::string marker);
    void delay(std::chrono::milliseconds delay);
    void restore();
    // Links made from now on go to another port (as after a failover); current ones stay.
    void set_upstream(std::uint16_t port) { upstream_port_ = port; }

    // Clients accepted so far: a reconnection through the proxy shows here.
    std::size_t links_accepted() const { return accepted_; }

  private:
    struct Link;

    awaitable<void> accept_loop();
    awaitable<void> serve(std::shared_ptr<Link> link);
    awaitable<void> pump(Link& link, tcp::socket& from, tcp::socket& to, Direction direction);
    bool dropped(Direction direction) const;
    // Runs `action` on the proxy's thread and waits (bounded) until it has run.
    void on_proxy_thread(std::function<void()> action);

    asio::io_context io_;
    tcp::acceptor acceptor_;
    std::uint16_t port_ = 0;
    std::atomic<std::uint16_t> upstream_port_;
    std::atomic<bool> drop_to_server_{false};
    std::atomic<bool> drop_to_client_{false};
    std::atomic<std::chrono::milliseconds::rep> delay_ms_{0};
    std::atomic<std::size_t> accepted_{0};
    std::uint64_t next_link_ = 0;                                     // the proxy's thread only
    std::unordered_map<std::uint64_t, std::shared_ptr<Link>> links_;  // the proxy's thread only
    std::thread thread_;
};

}  // namespace herald::test
