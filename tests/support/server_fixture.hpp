// The real server, in this process, on 127.0.0.1 and a free port; and the helpers that the
// integration tests share.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "client/client.hpp"
#include "herald/config.hpp"
#include "herald/server.hpp"
#include "support/run.hpp"

namespace herald::test {

// Defaults for tests: loopback, a free port, two threads, quiet logs.
Config test_config();

class TestServer {
  public:
    explicit TestServer(Config config = test_config());
    ~TestServer();

    const tcp::endpoint& endpoint() const { return endpoint_; }
    Server& server() { return server_; }

    // Stops the server and waits for it, as SIGTERM would.
    void stop();

  private:
    Server server_;
    tcp::endpoint endpoint_;
    bool stopped_ = false;
};

// The "delivered" count of a /send answer.
std::int64_t delivered_of(const std::string& answer);

// A JSON-protocol frame without its "time" (checked to be a plausible time in ms), so that the
// rest can be compared whole.
boost::json::value without_time(const std::string& frame);

// GET /stats, parsed.
awaitable<boost::json::object> get_stats(tcp::endpoint server);

// Polls /stats until `field` equals `expected` (the server's unregistering is asynchronous and
// has no event a client could await); fails after a bounded number of polls.
awaitable<void> wait_for_stat(tcp::endpoint server, std::string field, std::int64_t expected);

// Publishes `message` to `uid` with GET /send until it reaches `connections` connections,
// which is how a seed-protocol client (which gets no welcome) knows it is registered. Only the
// last attempt was delivered, so each connection then receives `message` exactly once.
awaitable<void> send_until_delivered(tcp::endpoint server, std::string uid, std::string message,
                                     std::int64_t connections = 1);

// POST /send with a JSON body; returns the parsed answer and checks the status.
awaitable<boost::json::value> post_send(tcp::endpoint server, boost::json::value body,
                                        unsigned expected_status = 200);

// A job's progress: `count` messages {"progress":i,"pad":"..."} (pad: `pad` bytes, so that a
// client that does not read soon fills its socket's buffers) to `uid` on one keep-alive
// connection, each with `key` when there is one; every answer must be 200. Returns the last seq.
awaitable<std::uint64_t> publish_progress(tcp::endpoint server, std::string uid, int count,
                                          std::optional<std::string> key, std::size_t pad);

// Reads JSON-protocol messages until one whose data has "progress" == `last`, and returns all
// read (parsed); throws if the connection ends first.
awaitable<std::vector<boost::json::object>> read_progress_until(client::WebSocketClient& client,
                                                                int last);

// Logs in to `uid` with the JSON protocol (asking for everything kept) on a connection it opens
// in `connection`, reads `count` messages, then acknowledges the last one; returns its seq.
awaitable<std::uint64_t> receive_and_ack(tcp::endpoint server, std::string uid, int count,
                                         std::optional<client::WebSocketClient>& connection);

}  // namespace herald::test
