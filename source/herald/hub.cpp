#include "herald/hub.hpp"

#include <algorithm>
#include <utility>

#include <boost/asio/post.hpp>

#include "herald/log.hpp"
#include "herald/token.hpp"

namespace herald {

Hub::Hub(asio::any_io_executor executor, KeepAliveSettings keep_alive, Metrics& metrics)
    : strand_(asio::make_strand(executor)),
      metrics_(metrics),
      ticker_(strand_),
      keep_alive_(keep_alive) {}

void Hub::start() {
    asio::post(strand_, [this] { schedule_tick(); });
}

bool Hub::add(std::shared_ptr<Connection> connection) {
    if (stopping_) return false;
    keep_alive_.watch(*connection, Clock::now());
    Connections& connections = users_[connection->uid()];
    connections.push_back(std::move(connection));
    ++stats_.connections;
    metrics_.connections_opened.add();
    if (connections.size() == 1) {
        ++stats_.users;
        if (observer_) observer_->on_first_connection(connections.front()->uid());
    }
    return true;
}

bool Hub::remove(const Connection& connection) {
    auto found = users_.find(connection.uid());
    if (found == users_.end()) return false;
    Connections& connections = found->second;
    auto registered = std::find_if(connections.begin(), connections.end(),
                                   [&](const auto& each) { return each.get() == &connection; });
    if (registered == connections.end()) return false;
    keep_alive_.unwatch(**registered);
    // Order among a user's connections does not matter, so the last one fills the gap.
    *registered = std::move(connections.back());
    connections.pop_back();
    --stats_.connections;
    std::size_t remaining = connections.size();
    if (remaining == 0) {
        users_.erase(found);
        --stats_.users;
    }
    if (observer_) observer_->on_connection_gone(connection.uid(), remaining);
    return true;
}

std::size_t Hub::fan_out(const std::string& uid, const DeliveryPtr& delivery) {
    auto found = users_.find(uid);
    if (found == users_.end()) return 0;
    std::size_t delivered = 0;
    Connections slow;
    for (auto& connection : found->second) {
        switch (connection->enqueue(delivery)) {
            case Connection::Enqueued::yes:
                ++delivered;
                break;
            case Connection::Enqueued::full:
                slow.push_back(connection);
                break;
            case Connection::Enqueued::passed:  // it has this message already (a resume)
            case Connection::Enqueued::closed:  // its peer has left; its leave() is on the way
                break;
        }
    }
    // Closed after the loop, since closing unregisters and so changes what the loop walks.
    for (auto& connection : slow) {
        log_warn("slow_consumer", {{"conn", connection->id()},
                                   {"uid", connection->uid()},
                                   {"remote", connection->remote()}});
        close_on_strand(connection, close_reasons::slow_consumer, false);
    }
    return delivered;
}

void Hub::reset_stream(const std::string& uid, const Connection* except) {
    auto found = users_.find(uid);
    if (found == users_.end()) return;
    Connections resuming;
    for (auto& connection : found->second) {
        if (connection.get() == except) continue;
        if (connection->protocol() == Protocol::json)
            resuming.push_back(connection);
        else
            connection->restart_numbering();
    }
    for (auto& connection : resuming)
        close_on_strand(connection, close_reasons::stream_reset, true);
}

std::size_t Hub::connections_of(const std::string& uid) const {
    auto found = users_.find(uid);
    return found == users_.end() ? 0 : found->second.size();
}

std::size_t Hub::close_user(const std::string& uid, bool reconnect) {
    auto found = users_.find(uid);
    if (found == users_.end()) return 0;
    // A copy: closing unregisters, and so changes the list (and may erase it).
    Connections closing = found->second;
    const CloseReason& reason = reconnect ? close_reasons::reconnect : close_reasons::disconnected;
    for (auto& connection : closing)
        close_on_strand(connection, reason, reconnect);
    log_info("user_disconnected",
             {{"uid", uid}, {"connections", closing.size()}, {"reason", reason.reason}});
    return closing.size();
}

void Hub::leave(std::shared_ptr<Connection> connection) {
    auto unregister = [this, connection = std::move(connection)] {
        remove(*connection);
        keep_alive_.unwatch_close(*connection);
        if (stopping_ && keep_alive_.closing() == 0) ticker_.cancel();
    };
    if (strand_.running_in_this_thread()) return unregister();
    asio::post(strand_, std::move(unregister));
}

void Hub::close(std::shared_ptr<Connection> connection, const CloseReason& reason, bool flush) {
    // A connection's own side posts this before its leave(), so it runs first: the close is not
    // left waiting for a connection that is gone.
    if (strand_.running_in_this_thread()) return close_on_strand(connection, reason, flush);
    asio::post(strand_, [this, connection = std::move(connection), &reason, flush] {
        close_on_strand(connection, reason, flush);
    });
}

void Hub::close_on_strand(const std::shared_ptr<Connection>& connection, const CloseReason& reason,
                          bool flush) {
    // Only a registered connection: the first close wins, and one that has left needs none.
    if (!remove(*connection)) return;
    metrics_.closes.add(reason);
    connection->close(reason, flush);
    keep_alive_.watch_close(connection, Clock::now());
}

void Hub::close_all() {
    asio::post(strand_, [this] {
        stopping_ = true;
        Connections all;
        all.reserve(stats_.connections);
        for (auto& [uid, connections] : users_)
            all.insert(all.end(), connections.begin(), connections.end());
        for (auto& connection : all)
            close_on_strand(connection, close_reasons::shutdown, true);
        schedule_tick();
    });
}

awaitable<HubStats> Hub::stats() {
    return ask(strand_, [this] { return stats_; });
}

void Hub::schedule_tick() {
    // After shutdown the ticker only stays to abort connections that do not finish closing; once
    // there are none it stops, so that the io_context can run out of work and the server exit.
    if (stopping_ && keep_alive_.closing() == 0) {
        ticker_.cancel();
        return;
    }
    ticker_.expires_after(keep_alive_.tick_interval());
    ticker_.async_wait([this](error_code error) {
        if (!error) tick();
    });
}

void Hub::tick() {
    KeepAlive::Verdicts verdicts = keep_alive_.tick(Clock::now(), seconds_since_epoch());
    for (auto& connection : verdicts.expired) {
        log_info("token_expired", {{"conn", connection->id()}, {"uid", connection->uid()}});
        // Flushed: what was published while the token was valid still reaches the client.
        close_on_strand(connection, close_reasons::token_expired, true);
    }
    for (auto& connection : verdicts.silent) {
        log_info("pong_timeout", {{"conn", connection->id()}, {"uid", connection->uid()}});
        close_on_strand(connection, close_reasons::pong_timeout, false);
    }
    schedule_tick();
}

}  // namespace herald
