// The engine of a single node: streams and history in this process.
#pragma once

#include <boost/asio/steady_timer.hpp>

#include "herald/ack_waiters.hpp"
#include "herald/engine.hpp"
#include "herald/history.hpp"
#include "herald/hub.hpp"
#include "herald/idempotency.hpp"
#include "herald/metrics.hpp"

namespace herald {

// Runs on the hub's strand, so that numbering a message, keeping it and queueing it to the
// connections are one step, and so are registering a connection and queueing its replay: nothing
// published falls between the history and the live messages, and nothing comes twice.
class LocalEngine final : public Engine, private HubObserver {
  public:
    LocalEngine(Hub& hub, const Config& config, Metrics& metrics);

    void start() override;
    void stop() override;
    awaitable<boost::system::result<Published>> publish(PublishRequest request) override;
    awaitable<boost::system::result<std::vector<Published>>> publish_batch(
        std::vector<PublishRequest> requests) override;
    awaitable<boost::system::result<Joined>> join(std::shared_ptr<Connection> connection,
                                                  std::optional<Since> since) override;
    awaitable<boost::system::result<std::size_t>> presence(std::string uid) override;
    awaitable<boost::system::result<std::size_t>> disconnect(std::string uid,
                                                             bool reconnect) override;
    void acknowledge(std::string uid, std::uint64_t seq) override;
    awaitable<boost::system::result<bool>> wait_for_ack(std::string uid, std::uint64_t seq,
                                                        Duration timeout) override;
    awaitable<boost::system::result<std::uint64_t>> acked_seq(std::string uid) override;
    bool ready() const override { return true; }
    awaitable<EngineStats> stats() override;

  private:
    // The steps, on the hub's strand.
    Published deliver(const PublishRequest& request);
    Joined add(const std::shared_ptr<Connection>& connection, const std::optional<Since>& since);
    void on_first_connection(const std::string& uid) override;
    void on_connection_gone(const std::string& uid, std::size_t remaining) override;
    void schedule_expiry();

    Hub& hub_;
    Metrics& metrics_;
    std::string node_;
    Duration expiry_interval_;
    // The hub's strand only.
    History history_;
    Idempotency idempotency_;
    AckWaiters ack_waiters_;
    asio::steady_timer expiry_timer_;
    bool stopped_ = false;
};

}  // namespace herald
