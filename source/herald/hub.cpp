#include "herald/hub.hpp"

#include <algorithm>
#include <type_traits>

#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>

#include "herald/log.hpp"
#include "herald/token.hpp"

namespace herald {
namespace {

// The ticker looks at each connection a few times per keep-alive period, and at most once a
// second, so that a missed pong is noticed at most a quarter of a period late.
Duration tick_interval_for(const HubOptions& options) {
    Duration shortest =
        std::min({options.ping_interval, options.pong_timeout, options.close_timeout});
    return std::clamp(shortest / 4, Duration(10), Duration(1000));
}

}  // namespace

Hub::Hub(asio::any_io_executor executor, HubOptions options)
    : strand_(asio::make_strand(executor)),
      options_(options),
      tick_interval_(tick_interval_for(options)),
      ticker_(strand_) {}

template <typename Request>
auto Hub::ask(Request request) {
    using Result = std::invoke_result_t<Request&>;
    auto initiate = [](auto handler, asio::strand<asio::any_io_executor> strand, Request request) {
        // The caller's executor is kept busy until the answer is back on it.
        auto caller = asio::prefer(asio::get_associated_executor(handler),
                                   asio::execution::outstanding_work.tracked);
        // dispatch: when the strand is idle the request runs at once, on the caller's thread.
        asio::dispatch(strand, [handler = std::move(handler), request = std::move(request),
                                caller = std::move(caller)]() mutable {
            Result result = request();
            // post, never dispatch: the caller must not resume inside the strand, where it would
            // hold up every other request, and where a later request of its own would jump ahead
            // of the ones it had posted (a leave, say).
            asio::post(caller,
                       [handler = std::move(handler), result = std::move(result)]() mutable {
                           std::move(handler)(std::move(result));
                       });
        });
    };
    return asio::async_initiate<const asio::use_awaitable_t<>, void(Result)>(
        std::move(initiate), asio::use_awaitable, strand_, std::move(request));
}

void Hub::start() {
    asio::post(strand_, [this] { schedule_tick(); });
}

awaitable<bool> Hub::join(std::shared_ptr<Connection> connection) {
    return ask([this, connection = std::move(connection)]() mutable {
        return add(std::move(connection));
    });
}

void Hub::leave(std::shared_ptr<Connection> connection) {
    asio::post(strand_, [this, connection = std::move(connection)] {
        remove(*connection);
        if (closing_.erase(connection.get()) != 0 && stopping_ && closing_.empty())
            ticker_.cancel();
    });
}

awaitable<std::size_t> Hub::publish(std::vector<std::string> uids, MessagePtr message) {
    return ask([this, uids = std::move(uids), message = std::move(message)] {
        return deliver(uids, message);
    });
}

awaitable<HubStats> Hub::stats() {
    return ask([this] {
        HubStats stats = stats_;
        stats.users = users_.size();
        return stats;
    });
}

awaitable<Admission> Hub::admit(asio::ip::address address) {
    return ask([this, address] {
        if (options_.max_connections != 0 && admitted_ >= options_.max_connections)
            return Admission::server_full;
        if (options_.max_connections_per_address != 0) {
            std::size_t& count = admitted_per_address_[address];
            if (count >= options_.max_connections_per_address) {
                if (count == 0) admitted_per_address_.erase(address);
                return Admission::address_full;
            }
            ++count;
        }
        ++admitted_;
        return Admission::admitted;
    });
}

void Hub::release(asio::ip::address address) {
    asio::post(strand_, [this, address] {
        --admitted_;
        if (options_.max_connections_per_address == 0) return;
        auto found = admitted_per_address_.find(address);
        if (found != admitted_per_address_.end() && --found->second == 0)
            admitted_per_address_.erase(found);
    });
}

void Hub::close_all() {
    asio::post(strand_, [this] {
        stopping_ = true;
        std::vector<std::shared_ptr<Connection>> all;
        all.reserve(stats_.connections);
        for (auto& [uid, registrations] : users_)
            for (auto& registration : registrations)
                all.push_back(registration.connection);
        for (auto& connection : all)
            close_connection(connection, close_reasons::shutdown, true);
        schedule_tick();
    });
}

bool Hub::add(std::shared_ptr<Connection> connection) {
    if (stopping_) return false;
    auto& registrations = users_[connection->uid()];
    registrations.push_back({std::move(connection), Clock::now() + options_.ping_interval, {}});
    ++stats_.connections;
    return true;
}

bool Hub::remove(const Connection& connection) {
    auto user = users_.find(connection.uid());
    if (user == users_.end()) return false;
    auto& registrations = user->second;
    auto found =
        std::find_if(registrations.begin(), registrations.end(),
                     [&](const Registration& r) { return r.connection.get() == &connection; });
    if (found == registrations.end()) return false;
    // Order among a user's connections does not matter, so the last one fills the gap.
    *found = std::move(registrations.back());
    registrations.pop_back();
    if (registrations.empty()) users_.erase(user);
    --stats_.connections;
    return true;
}

std::size_t Hub::deliver(const std::vector<std::string>& uids, const MessagePtr& message) {
    std::size_t delivered = 0;
    std::vector<std::shared_ptr<Connection>> slow;
    for (const auto& uid : uids) {
        ++stats_.messages_published;
        auto user = users_.find(uid);
        if (user == users_.end()) continue;
        for (auto& registration : user->second) {
            switch (registration.connection->enqueue(message)) {
                case Connection::Enqueued::yes:
                    ++delivered;
                    break;
                case Connection::Enqueued::full:
                    slow.push_back(registration.connection);
                    break;
                case Connection::Enqueued::closed:  // its peer has left; its leave() is on the way
                    break;
            }
        }
    }
    // Closed after the loop, since closing unregisters and so changes what the loop walks.
    for (auto& connection : slow) {
        ++stats_.slow_consumer_disconnects;
        log_warn("slow_consumer", {{"conn", connection->id()},
                                   {"uid", connection->uid()},
                                   {"remote", connection->remote()}});
        close_connection(connection, close_reasons::slow_consumer, false);
    }
    stats_.messages_delivered += delivered;
    return delivered;
}

void Hub::close_connection(const std::shared_ptr<Connection>& connection, const CloseReason& reason,
                           bool flush) {
    remove(*connection);
    connection->close(reason, flush);
    closing_.try_emplace(connection.get(),
                         Closing{connection, Clock::now() + options_.close_timeout});
}

void Hub::schedule_tick() {
    // After shutdown the ticker only stays to drop connections that do not finish closing; once
    // there are none it stops, so that the io_context can run out of work and the server exit.
    if (stopping_ && closing_.empty()) {
        ticker_.cancel();
        return;
    }
    ticker_.expires_after(tick_interval_);
    ticker_.async_wait([this](error_code error) {
        if (!error) tick();
    });
}

void Hub::tick() {
    auto now = Clock::now();
    std::int64_t now_seconds = seconds_since_epoch();
    std::vector<std::shared_ptr<Connection>> silent, expired;
    for (auto& [uid, registrations] : users_) {
        for (auto& registration : registrations) {
            auto& connection = *registration.connection;
            std::int64_t expiry = connection.token_expiry();
            if (expiry != 0 && now_seconds >= expiry) {
                expired.push_back(registration.connection);
                continue;
            }
            if (registration.ping_sent != Clock::time_point{}) {
                if (connection.last_heard() >= registration.ping_sent)
                    registration.ping_sent = {};
                else if (now - registration.ping_sent >= options_.pong_timeout)
                    silent.push_back(registration.connection);
            }
            if (now >= registration.next_ping) {
                connection.enqueue_ping();
                if (registration.ping_sent == Clock::time_point{}) registration.ping_sent = now;
                registration.next_ping = now + options_.ping_interval;
            }
        }
    }
    for (auto& connection : expired) {
        log_info("token_expired", {{"conn", connection->id()}, {"uid", connection->uid()}});
        // Flushed: what was published while the token was valid still reaches the client.
        close_connection(connection, close_reasons::token_expired, true);
    }
    for (auto& connection : silent) {
        log_info("pong_timeout", {{"conn", connection->id()}, {"uid", connection->uid()}});
        close_connection(connection, close_reasons::pong_timeout, false);
    }
    for (auto it = closing_.begin(); it != closing_.end();) {
        if (now < it->second.abort_at) {
            ++it;
            continue;
        }
        it->second.connection->abort();
        it = closing_.erase(it);
    }
    schedule_tick();
}

}  // namespace herald
