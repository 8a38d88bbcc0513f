// A Herald cluster for tests: a real redis-server of its own, and nodes that reach it each
// through a proxy the test controls.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "client/client.hpp"
#include "support/redis_server.hpp"
#include "support/server_fixture.hpp"
#include "support/tcp_proxy.hpp"

namespace herald::test {

struct ClusterOptions {
    std::size_t nodes = 2;
    RedisServerOptions redis;
    // Adjusts every node's settings (after the cluster's own).
    std::function<void(Config&)> adjust;
};

// The nodes run in this process, each a Server with threads of its own, named node0, node1, ...
// Their Redis timeouts and probe interval are short, so that faults play out within a second.
class TestCluster {
  public:
    explicit TestCluster(ClusterOptions options = {});
    ~TestCluster();

    RedisServer& redis() { return redis_; }
    // Between node i and Redis: cut, blackhole or silence its links.
    TcpProxy& link(std::size_t node) { return *links_[node]; }
    tcp::endpoint node(std::size_t i) const { return nodes_[i]->endpoint(); }
    std::size_t size() const { return nodes_.size(); }
    // The settings node i runs with (a node started by hand, as a process, gets the same).
    Config config(std::size_t i) const;
    // Starts node i anew (after stop_node), on a new port.
    void start_node(std::size_t i);
    void stop_node(std::size_t i);

  private:
    ClusterOptions options_;
    RedisServer redis_;
    std::vector<std::unique_ptr<TcpProxy>> links_;
    std::vector<std::unique_ptr<TestServer>> nodes_;
};

// Waits (bounded) until `node` serves: its engine is ready (/presence answers 200).
awaitable<void> wait_until_serving(tcp::endpoint node);
// Waits (bounded) until `node` refuses to serve (/send answers 503).
awaitable<void> wait_until_unavailable(tcp::endpoint node);

// A JSON-protocol client that keeps track of where it is in its stream, as the JavaScript
// client does: it logs in with `since` after the first time, and drops a seq it has seen.
class StreamReader {
  public:
    explicit StreamReader(std::string uid) : uid_(std::move(uid)) {}

    // Logs in on `node` (resuming when it has a position) and reads the welcome; false when the
    // server closed the login instead (its close is in last_close()).
    awaitable<bool> join(tcp::endpoint node);
    // join(), again after a short wait while the node closes the login with 1013 "try again
    // later" (as a client backs off while a node's Redis links come back); bounded.
    awaitable<bool> join_when_serving(tcp::endpoint node);
    // Reads until `count` new messages came (true), or the connection ended, or `timeout`.
    awaitable<bool> read(std::size_t count,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // Reads until the server closes the connection (true), within `timeout`; messages on the way
    // are taken as read() takes them.
    awaitable<bool> read_until_closed(std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // Closes this side, if it is open.
    awaitable<void> leave();

    const std::string& uid() const { return uid_; }
    const std::string& epoch() const { return epoch_; }
    std::uint64_t last_seq() const { return last_seq_; }
    // Every message received, in order: (epoch, seq, data).
    struct Message {
        std::string epoch;
        std::uint64_t seq;
        boost::json::value data;
    };
    const std::vector<Message>& messages() const { return messages_; }
    // Every welcome's `recovered`, in order (absent on a first login).
    const std::vector<std::optional<bool>>& recoveries() const { return recoveries_; }
    const std::vector<std::string>& closes() const { return closes_; }
    bool connected() const { return client_.has_value(); }

  private:
    awaitable<bool> take(const client::Frame& frame);

    std::string uid_;
    std::optional<client::WebSocketClient> client_;
    std::string epoch_;
    std::uint64_t last_seq_ = 0;
    std::vector<Message> messages_;
    std::vector<std::optional<bool>> recoveries_;
    std::vector<std::string> closes_;  // "code reason" of each close the server sent
};

// POST /send {"uid":U,"message":M} on `node`; returns the answer's status and body.
awaitable<client::HttpResponse> publish(tcp::endpoint node, std::string uid,
                                        boost::json::value message, std::string key = {});

}  // namespace herald::test
