// The engine: the seam between the HTTP API and WebSocket sessions above, and streams below.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/system/result.hpp>

#include "herald/config.hpp"
#include "herald/connection.hpp"
#include "herald/message.hpp"
#include "herald/net.hpp"

namespace herald {

// A message for some users. With an idempotency key, a retry of the same publish (same key, per
// user, within the idempotency TTL) gets the first attempt's outcome and publishes nothing again,
// whatever its body: a backend may retry a publish whose answer it did not get.
struct PublishRequest {
    std::vector<std::string> uids;
    MessageBodyPtr body;
    std::optional<std::string> idempotency_key;
};

// What a publish did: the connections it was queued to, and its seq in each user's stream (in
// the order of the uids; 0 for a user whose stream is not kept).
struct Published {
    std::size_t delivered = 0;
    std::vector<std::uint64_t> seqs;
};

// What a join did: whether the connection is registered, and where it starts in its stream.
struct Joined {
    bool joined = false;  // false once the server is shutting down
    StreamPosition position;
};

struct EngineStats {
    std::size_t streams = 0;  // users connected, with history, or seen within the history TTL
    std::size_t history_streams = 0;
    std::size_t history_messages = 0;
    std::size_t history_bytes = 0;
    std::string node;       // this node's name
    std::size_t nodes = 1;  // nodes alive in the cluster
};

// Where messages get their place in their users' streams and reach every connection of those
// users, wherever they are: on this node alone (LocalEngine), or across a cluster. Everything
// above it (the HTTP API, the WebSocket sessions) is the same for every engine.
//
// An engine's operations fail only when what it stands on (a cluster's Redis) cannot serve: the
// caller says so (503, close 1013) rather than answer as if all were well.
class Engine {
  public:
    virtual ~Engine() = default;

    // Starts the engine's own upkeep (expiry, links to other nodes), and stops it at shutdown,
    // so that the io_context can run out of work.
    virtual void start() = 0;
    virtual void stop() = 0;

    // Numbers the message in each user's stream, keeps it in their history, and gets it to every
    // connection of each of the request's users.
    virtual awaitable<boost::system::result<Published>> publish(PublishRequest request) = 0;

    // Many publishes at once (a batch): each as publish() does it, in order; on a single node in
    // one step, in a cluster in one round trip to Redis.
    virtual awaitable<boost::system::result<std::vector<Published>>> publish_batch(
        std::vector<PublishRequest> requests) = 0;

    // Registers `connection` with the hub (its user's first connection on this node is when the
    // engine starts to follow the user's stream here) and resumes it: queues what it missed since
    // `since`, before any live message, each message once. Completes once the registration is
    // in effect, so that whatever is published after that reaches the connection. The
    // connection leaves through Hub::leave; its user's last one going is the engine's moment to
    // stop following the stream here.
    virtual awaitable<boost::system::result<Joined>> join(std::shared_ptr<Connection> connection,
                                                          std::optional<Since> since) = 0;

    // The connections of `uid`, on every node.
    virtual awaitable<boost::system::result<std::size_t>> presence(std::string uid) = 0;

    // Closes every connection of `uid`, on every node: with 1012 "reconnect" (come back and log
    // in again, with fresh claims) or 1008 "disconnected" (do not come back). Returns how many
    // connections the user had then: those closed (a single node), or the user's presence
    // across the cluster when the command went out (its nodes close theirs as it reaches them).
    virtual awaitable<boost::system::result<std::size_t>> disconnect(std::string uid,
                                                                     bool reconnect) = 0;

    // A connection of `uid` handled every message of its stream up to `seq` (an ack, which is
    // cumulative): the user's acknowledged seq moves up to it (never down, never past the
    // stream's last seq), and the publishers waiting for it, on any node, are answered. An ack
    // that cannot be recorded (Redis unreachable) is dropped: the client's next one covers it.
    virtual void acknowledge(std::string uid, std::uint64_t seq) = 0;

    // Waits until `uid` acknowledged `seq` (true: a connection of the user, on any node, handled
    // it) or `timeout` passed (false). A user without a connection is waited for too: a device
    // that comes online may acknowledge the replay.
    virtual awaitable<boost::system::result<bool>> wait_for_ack(std::string uid, std::uint64_t seq,
                                                                Duration timeout) = 0;

    // The last seq `uid` acknowledged; 0 for none.
    virtual awaitable<boost::system::result<std::uint64_t>> acked_seq(std::string uid) = 0;

    // Whether the engine can serve now (a cluster's Redis is reachable): what /readyz says.
    virtual bool ready() const = 0;

    virtual awaitable<EngineStats> stats() = 0;
};

}  // namespace herald
