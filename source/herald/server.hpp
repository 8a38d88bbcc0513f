// The whole server: its threads, the hub and the listener, and an orderly shutdown.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "herald/access.hpp"
#include "herald/admission.hpp"
#include "herald/config.hpp"
#include "herald/context.hpp"
#include "herald/engine.hpp"
#include "herald/hub.hpp"
#include "herald/listener.hpp"
#include "herald/metrics.hpp"
#include "herald/net.hpp"

namespace herald {

class Server {
  public:
    // Throws std::invalid_argument when the configured keys cannot be used.
    explicit Server(Config config);
    ~Server();  // stops and waits, if the owner did not

    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Raises the open-file limit, binds, and starts the threads. Throws on failure to bind.
    // Returns the bound endpoint.
    tcp::endpoint start();

    // The first step of a graceful shutdown, while the server still serves everything: /readyz
    // answers 503, so that a load balancer stops sending new clients. Any thread.
    void drain();

    // Graceful shutdown: stop accepting, close every WebSocket with 1001, let HTTP requests in
    // flight finish. After the shutdown timeout whatever is left is dropped. Any thread; only
    // the first call does anything.
    void stop();

    // Returns once every thread has finished, which after stop() is within the shutdown timeout.
    void wait();

  private:
    void watch_shutdown();

    Config config_;
    Access access_;
    std::unique_ptr<asio::ssl::context> tls_;  // null without --tls-cert
    Metrics metrics_;
    // Declared before everything that holds one of its strands, so that it is destroyed last.
    asio::io_context io_context_;
    Admission admission_;
    AckGate ack_gate_;
    Hub hub_;
    std::unique_ptr<Engine> engine_;
    Context context_;
    Listener listener_;
    std::vector<std::thread> threads_;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> draining_{false};  // read by /readyz (context_.draining)

    // The shutdown watchdog: it stops the io_context if the threads have not finished in time.
    // These guard only the watchdog's wait, never hub or connection state.
    std::thread watchdog_;
    std::mutex finished_mutex_;
    std::condition_variable finished_changed_;
    std::size_t running_threads_ = 0;
};

// Raises the soft limit on open files to the hard limit; returns the limit now in effect.
std::size_t raise_open_file_limit();

}  // namespace herald
