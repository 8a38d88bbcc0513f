// Accepts TCP connections and starts a session for each; stops them all at shutdown.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include "herald/context.hpp"
#include "herald/net.hpp"
#include "herald/stop_signal.hpp"

namespace herald {

class Listener {
  public:
    Listener(asio::io_context& io_context, Context& context);
    ~Listener();

    // Binds and listens; throws boost::system::system_error when it cannot. Returns the bound
    // endpoint (the real port when 0 was asked for).
    tcp::endpoint listen(const std::string& address, std::uint16_t port);

    // Starts accepting.
    void start();

    // Stops accepting and asks every open connection to stop. Any thread.
    void stop();

  private:
    template <typename Upgrade>
    struct HttpDone;
    struct WebSocketDone;

    asio::any_io_executor connection_executor();
    awaitable<void> accept_loop();
    void start_session(tcp::socket socket, tcp::endpoint remote);
    // Answers one pending connection with 503 and closes it; false if none was pending.
    bool refuse_pending_connection();
    void forget(std::uint64_t id);  // any thread

    asio::io_context& io_context_;
    Context& context_;
    asio::strand<asio::io_context::executor_type> strand_;

    // Everything below belongs to strand_.
    tcp::acceptor acceptor_;
    std::unordered_map<std::uint64_t, std::shared_ptr<StopSignal>> sessions_;
    std::uint64_t next_id_ = 1;
    bool stopping_ = false;
    // A descriptor held back for the moment the process runs out of them (see
    // refuse_pending_connection), and how many connections were refused that way.
    int reserve_fd_ = -1;
    std::uint64_t refused_ = 0;
};

}  // namespace herald
