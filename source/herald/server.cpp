#include "herald/server.hpp"

#include <sys/resource.h>

#include <stdexcept>

#include "herald/cluster/redis_engine.hpp"
#include "herald/local_engine.hpp"
#include "herald/log.hpp"
#include "herald/tls.hpp"

namespace herald {
namespace {

// One node alone, or a node of the cluster that shares --redis.
std::unique_ptr<Engine> make_engine(const Config& config, asio::io_context& io_context, Hub& hub,
                                    Metrics& metrics) {
    if (config.redis.empty()) return std::make_unique<LocalEngine>(hub, config, metrics);
    return std::make_unique<cluster::RedisEngine>(io_context.get_executor(), hub, config, metrics);
}

Access make_access(const Config& config) {
    auto access = Access::create(config);
    if (!access) throw std::invalid_argument(access.error());
    return std::move(*access);
}

// With one I/O thread, only that thread touches sockets, so the reactor needs no lock around
// each socket's operations; other threads (signals, the shutdown watchdog) only post, and the
// scheduler stays locked for them.
int concurrency_hint(unsigned threads) {
    if (threads == 1) return BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO;
    return static_cast<int>(threads);
}

}  // namespace

std::size_t raise_open_file_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
    if (limit.rlim_cur < limit.rlim_max) {
        rlimit raised = limit;
        raised.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
    }
    return limit.rlim_cur == RLIM_INFINITY ? SIZE_MAX : static_cast<std::size_t>(limit.rlim_cur);
}

Server::Server(Config config)
    : config_(std::move(config)),
      access_(make_access(config_)),
      tls_(config_.tls_cert.empty() ? nullptr
                                    : make_tls_context(config_.tls_cert, config_.tls_key)),
      io_context_(concurrency_hint(config_.threads)),
      admission_(io_context_.get_executor(), admission_limits(config_)),
      ack_gate_(config_.max_ack_waiters),
      hub_(io_context_.get_executor(), keep_alive_settings(config_), metrics_),
      engine_(make_engine(config_, io_context_, hub_, metrics_)),
      context_{config_,  access_,   admission_,   hub_,      *engine_,
               metrics_, ack_gate_, Clock::now(), tls_.get()},
      listener_(io_context_, context_) {
    context_.draining = &draining_;
}

Server::~Server() {
    if (!threads_.empty()) {
        stop();
        wait();
    }
}

tcp::endpoint Server::start() {
    std::size_t descriptors = raise_open_file_limit();
    tcp::endpoint endpoint = listener_.listen(config_.address, config_.port);
    log_startup("listening", {{"address", endpoint.address().to_string()},
                              {"port", endpoint.port()},
                              {"tls", tls_ ? "on" : "off"},
                              {"max_fds", descriptors},
                              {"threads", config_.threads}});
    if (access_.open())
        log_warn(
            "unauthenticated",
            {{"note", "no token key and no API key: anyone may log in as any uid and publish"}});
    hub_.start();
    engine_->start();
    listener_.start();
    running_threads_ = config_.threads;
    for (unsigned i = 0; i < config_.threads; ++i) {
        threads_.emplace_back([this] {
            io_context_.run();
            std::lock_guard lock(finished_mutex_);
            --running_threads_;
            finished_changed_.notify_all();
        });
    }
    return endpoint;
}

void Server::drain() {
    draining_.store(true, std::memory_order_relaxed);
}

void Server::stop() {
    drain();  // a keep-alive connection may still ask /readyz while the server stops
    if (stopping_.exchange(true)) return;
    log_info("shutdown", {{"timeout_ms", config_.shutdown_timeout.count()}});
    listener_.stop();
    hub_.close_all();
    engine_->stop();
    watchdog_ = std::thread([this] { watch_shutdown(); });
}

void Server::watch_shutdown() {
    std::unique_lock lock(finished_mutex_);
    bool finished = finished_changed_.wait_for(lock, config_.shutdown_timeout,
                                               [this] { return running_threads_ == 0; });
    if (finished) return;
    // Last resort: frames still suspended are destroyed without being resumed.
    log_warn("shutdown_timeout", {{"threads_running", running_threads_}});
    io_context_.stop();
}

void Server::wait() {
    for (auto& thread : threads_)
        thread.join();
    threads_.clear();
    if (watchdog_.joinable()) watchdog_.join();
    log_info("stopped");
}

}  // namespace herald
