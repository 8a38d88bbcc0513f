// The hub: this node's connections by user, and delivery to them.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "herald/actor.hpp"
#include "herald/close_reason.hpp"
#include "herald/connection.hpp"
#include "herald/keep_alive.hpp"
#include "herald/message.hpp"
#include "herald/metrics.hpp"
#include "herald/net.hpp"

namespace herald {

struct HubStats {
    std::size_t connections = 0;
    std::size_t users = 0;  // users with at least one connection here
};

// What the hub tells the engine above it, on the hub's strand: the moments a user gets its first
// connection on this node and loses one (`remaining` 0: its last), where a cluster engine
// subscribes to the user's messages, counts its presence and unsubscribes, and where a single
// node's history holds the user's stream.
class HubObserver {
  public:
    virtual void on_first_connection(const std::string& uid) = 0;
    virtual void on_connection_gone(const std::string& uid, std::size_t remaining) = 0;

  protected:
    ~HubObserver() = default;
};

// An actor: all of its state belongs to its strand, and callers reach it only by posting
// requests there, so no mutex guards it. It knows this node's connections by uid, and queues an
// already numbered message to the connections of its user; it knows nothing of streams, history
// or other nodes (the engine's business, see engine.hpp). It never waits on a connection: it
// only queues to outboxes and closes the full ones as slow consumers.
//
// It also keeps its connections alive: a ticker on the strand drives the KeepAlive, and closes
// the connections it reports (silent, or with an expired token).
class Hub {
  public:
    Hub(asio::any_io_executor executor, KeepAliveSettings keep_alive, Metrics& metrics);

    // The engine, told of first and last connections; set before start().
    void set_observer(HubObserver& observer) { observer_ = &observer; }
    // Starts the keep-alive ticker.
    void start();

    // An engine may run its own steps on this strand, so that numbering a message and queueing
    // it to the connections are one step.
    const Strand& strand() const { return strand_; }

    // On the strand only.

    // Registers `connection` under its uid; false once the hub is shutting down (the caller then
    // closes the connection itself). A message fanned out after this reaches it.
    bool add(std::shared_ptr<Connection> connection);
    // Queues `delivery` to every connection of `uid` here; returns how many it was queued to. A
    // connection whose outbox is full is closed as a slow consumer instead.
    std::size_t fan_out(const std::string& uid, const DeliveryPtr& delivery);
    // The user's stream began anew, or lost messages that cannot be replayed: JSON-protocol
    // connections, which track seqs, are closed with 1012 "stream reset" (after what is queued)
    // so that they resume and learn it; seed-mode ones keep receiving, numbered anew.
    // `except`: a connection joining with the new stream's position already.
    void reset_stream(const std::string& uid, const Connection* except = nullptr);
    // How many connections `uid` has here.
    std::size_t connections_of(const std::string& uid) const;
    // POST /disconnect, on this node: closes every connection of `uid` here with 1012
    // "reconnect" (after what is queued: the client resumes after it anyway) or 1008
    // "disconnected" (at once: a logout or a ban stops delivery now). Returns how many.
    std::size_t close_user(const std::string& uid, bool reconnect);

    // Any thread (run at once when called on the strand, else posted to it).

    // Unregisters `connection`, if it still is registered.
    void leave(std::shared_ptr<Connection> connection);
    // Closes a registered connection: unregisters it, so that nothing more is queued to it, has
    // its writer send a close frame with `reason` (after what is already queued, with `flush`;
    // instead of it, without), and aborts it if it has not ended by the close timeout. `reason`
    // must outlive the connection: an entry of the close table.
    void close(std::shared_ptr<Connection> connection, const CloseReason& reason, bool flush);
    // Shutdown: refuses further connections and closes every one with 1001 after what is
    // already queued to it.
    void close_all();

    awaitable<HubStats> stats();

  private:
    using Connections = std::vector<std::shared_ptr<Connection>>;

    bool remove(const Connection& connection);
    void close_on_strand(const std::shared_ptr<Connection>& connection, const CloseReason& reason,
                         bool flush);
    void schedule_tick();
    void tick();

    Strand strand_;
    Metrics& metrics_;
    HubObserver* observer_ = nullptr;

    // Everything below belongs to strand_.
    asio::steady_timer ticker_;
    KeepAlive keep_alive_;
    std::unordered_map<std::string, Connections> users_;
    HubStats stats_;
    bool stopping_ = false;
};

}  // namespace herald
