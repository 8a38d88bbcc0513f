#include "herald/hub.hpp"

#include <algorithm>
#include <cstdio>
#include <random>
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

// A round looks at each connection once, a few times per keep-alive period and at most once a
// second, so that a missed pong (or an expired message) is noticed at most a quarter late.
Duration round_for(const HubOptions& options) {
    Duration shortest =
        std::min({options.ping_interval, options.pong_timeout, options.close_timeout,
                  std::chrono::duration_cast<Duration>(options.history_ttl)});
    return std::clamp(shortest / 4, Duration(10), Duration(1000));
}

// The most streams one tick looks at, and the shortest tick: a round over many connections is cut
// into slices so that a message never waits behind the whole walk (2 ms once a second with
// 19,000 connections; a slice of 256 takes at most 0.13 ms, queueing its pings included; the
// ping writes follow in each connection's writer). Past 25,600 connections in a 1 s round, the
// ticks are as short as allowed and the slices grow.
constexpr std::size_t streams_per_tick = 256;
constexpr Duration shortest_tick{10};

// Random, so that a restarted server never hands out an epoch a client saw before it.
std::string new_epoch_prefix() {
    std::random_device random;
    std::uniform_int_distribution<std::uint32_t> digits;
    char text[20];
    std::snprintf(text, sizeof text, "%08x%08x", digits(random), digits(random));
    return text;
}

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// What a kept message counts against the history's byte budget. A body shared by many users
// counts for each: the bound errs on the safe side.
std::size_t history_bytes_of(const Delivery& delivery) {
    return delivery.envelope_head.size() + delivery.body->data_json.size() +
           delivery.body->text.size();
}

}  // namespace

Hub::Hub(asio::any_io_executor executor, HubOptions options)
    : strand_(asio::make_strand(executor)),
      options_(options),
      round_(round_for(options)),
      epoch_prefix_(new_epoch_prefix()),
      ticker_(strand_),
      ping_jitter_(std::random_device{}()) {}

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

awaitable<JoinResult> Hub::join(std::shared_ptr<Connection> connection,
                                std::optional<Since> since) {
    return ask([this, connection = std::move(connection), since = std::move(since)]() mutable {
        return add(std::move(connection), since);
    });
}

void Hub::leave(std::shared_ptr<Connection> connection) {
    asio::post(strand_, [this, connection = std::move(connection)] {
        remove(*connection);
        if (closing_.erase(connection.get()) != 0 && stopping_ && closing_.empty())
            ticker_.cancel();
    });
}

void Hub::close(std::shared_ptr<Connection> connection, const CloseReason& reason, bool flush) {
    // Posted by the connection before its leave(), so it runs first: the close is not left
    // waiting for a connection that is gone.
    asio::post(strand_, [this, connection = std::move(connection), &reason, flush] {
        if (closing_.contains(connection.get())) return;  // the hub closed it first: that stands
        close_connection(connection, reason, flush);
    });
}

awaitable<PublishResult> Hub::publish(std::vector<std::string> uids, MessageBodyPtr body) {
    return ask(
        [this, uids = std::move(uids), body = std::move(body)] { return deliver(uids, body); });
}

awaitable<HubStats> Hub::stats() {
    return ask([this] {
        HubStats stats = stats_;
        stats.streams = streams_.size();
        stats.history_streams = oldest_.size();
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
        connected_.for_each([&](Stream& stream) {
            for (auto& registration : stream.connections)
                all.push_back(registration.connection);
        });
        for (auto& connection : all)
            close_connection(connection, close_reasons::shutdown, true);
        schedule_tick();
    });
}

Hub::StreamEntry& Hub::stream_for(const std::string& uid) {
    auto [found, created] = streams_.try_emplace(uid);
    Stream& stream = found->second;
    if (created) stream.epoch = epoch_prefix_ + "-" + std::to_string(++streams_created_);
    stream.last_activity = Clock::now();
    return *found;
}

JoinResult Hub::add(std::shared_ptr<Connection> connection, const std::optional<Since>& since) {
    JoinResult result;
    if (stopping_) return result;
    Stream& stream = stream_for(connection->uid()).second;
    result.joined = true;
    result.position.epoch = stream.epoch;
    result.position.seq = stream.last_seq;
    if (stream.connections.empty()) {
        ++stats_.users;
        connected_.add(stream);
    }
    // The first ping falls at random in the second half of the interval, so that connections
    // that came in a burst are not pinged in one; each keeps its place from then on.
    std::uniform_int_distribution<Duration::rep> jitter(0, options_.ping_interval.count() / 2);
    Duration first_ping = options_.ping_interval - Duration(jitter(ping_jitter_));
    stream.connections.push_back({connection, Clock::now() + first_ping, {}});
    ++stats_.connections;
    if (!since) return result;

    // The replay is queued here, in the step that registers the connection: every message
    // published before it is in the history, every one after reaches the connection live.
    std::uint64_t first_kept =
        stream.history.empty() ? stream.last_seq + 1 : stream.history.front().delivery->seq;
    bool same_stream = !since->epoch || *since->epoch == stream.epoch;
    std::uint64_t after = same_stream ? since->seq : 0;  // another epoch: everything kept is new
    result.position.recovered =
        same_stream && since->seq <= stream.last_seq && since->seq + 1 >= first_kept;
    for (const Kept& kept : stream.history) {
        if (kept.delivery->seq <= after) continue;
        if (connection->enqueue(kept.delivery) == Connection::Enqueued::full) {
            // More than its outbox takes: what fits is sent before the close, so that it comes
            // back and resumes from where it got to. Without the flush it would get nothing, and
            // come back for the same replay again and again.
            ++stats_.slow_consumer_disconnects;
            close_connection(connection, close_reasons::slow_consumer, true);
            break;
        }
    }
    return result;
}

bool Hub::remove(const Connection& connection) {
    auto found = streams_.find(connection.uid());
    if (found == streams_.end()) return false;
    auto& registrations = found->second.connections;
    auto registration =
        std::find_if(registrations.begin(), registrations.end(),
                     [&](const Registration& r) { return r.connection.get() == &connection; });
    if (registration == registrations.end()) return false;
    // Order among a user's connections does not matter, so the last one fills the gap.
    *registration = std::move(registrations.back());
    registrations.pop_back();
    --stats_.connections;
    // Kept for the history TTL even without messages, so that a client that comes back soon
    // finds the same epoch and learns it missed nothing.
    found->second.last_activity = Clock::now();
    if (registrations.empty()) {
        --stats_.users;
        connected_.remove(found->second);
        left_.emplace_back(found->second.last_activity, found->first);
    }
    return true;
}

PublishResult Hub::deliver(const std::vector<std::string>& uids, const MessageBodyPtr& body) {
    PublishResult result;
    result.seqs.reserve(uids.size());
    std::int64_t time = now_ms();
    std::vector<std::shared_ptr<Connection>> slow;
    for (const auto& uid : uids) {
        ++stats_.messages_published;
        auto found = streams_.find(uid);
        if (found == streams_.end() && options_.history_size == 0) {
            result.seqs.push_back(0);  // nobody to deliver to and nowhere to keep it
            continue;
        }
        StreamEntry& entry = found != streams_.end() ? *found : stream_for(uid);
        Stream& stream = entry.second;
        stream.last_activity = Clock::now();
        DeliveryPtr delivery = make_delivery(body, ++stream.last_seq, time);
        result.seqs.push_back(delivery->seq);
        for (auto& registration : stream.connections) {
            switch (registration.connection->enqueue(delivery)) {
                case Connection::Enqueued::yes:
                    ++result.delivered;
                    break;
                case Connection::Enqueued::full:
                    slow.push_back(registration.connection);
                    break;
                case Connection::Enqueued::closed:  // its peer has left; its leave() is on the way
                    break;
            }
        }
        if (options_.history_size != 0) keep(entry, std::move(delivery));
    }
    // Closed after the loop, since closing unregisters and so changes what the loop walks.
    for (auto& connection : slow) {
        ++stats_.slow_consumer_disconnects;
        log_warn("slow_consumer", {{"conn", connection->id()},
                                   {"uid", connection->uid()},
                                   {"remote", connection->remote()}});
        close_connection(connection, close_reasons::slow_consumer, false);
    }
    stats_.messages_delivered += result.delivered;
    return result;
}

void Hub::keep(StreamEntry& entry, DeliveryPtr delivery) {
    Stream& stream = entry.second;
    std::size_t bytes = history_bytes_of(*delivery);
    if (bytes > options_.history_max_bytes) {
        // Keeping it would evict everyone's history and then itself. A stream made for it alone
        // goes a TTL from now, like one its last connection left.
        if (stream.unused()) left_.emplace_back(Clock::now(), entry.first);
        return;
    }
    std::uint64_t order = ++kept_;
    if (stream.history.empty()) stream.oldest_entry = oldest_.emplace(order, &entry.first).first;
    stats_.history_bytes += bytes;
    ++stats_.history_messages;
    stream.history.push_back({order, bytes, std::move(delivery)});
    if (stream.history.size() > options_.history_size) forget_oldest(entry);
    // Over the budget, the oldest messages of all go first, whoever they were for.
    while (stats_.history_bytes > options_.history_max_bytes && !oldest_.empty()) {
        const std::string* owner = oldest_.begin()->second;
        auto found = streams_.find(*owner);
        forget_oldest(*found);
        if (owner != &entry.first) drop_if_unused(found);
    }
}

void Hub::forget_oldest(StreamEntry& entry) {
    Stream& stream = entry.second;
    // The stream's key moves on to its next message in a node taken out and put back, not
    // freed and allocated again: a full history does this on every publish.
    auto key = oldest_.extract(stream.oldest_entry);
    stats_.history_bytes -= stream.history.front().bytes;
    --stats_.history_messages;
    stream.history.pop_front();
    if (stream.history.empty()) {
        stream.history.shrink_to_fit();  // an idle user's stream holds no block
        return;
    }
    key.value().first = stream.history.front().order;
    stream.oldest_entry = oldest_.insert(std::move(key)).position;
}

// A stream goes once it has no connection, keeps no message, and has not been used for the
// history TTL, or at once when evicted under the byte budget: its epoch goes with it, so a
// client that comes back later learns that it may have missed something.
void Hub::drop_if_unused(std::unordered_map<std::string, Stream>::iterator found) {
    const Stream& stream = found->second;
    if (stream.unused()) streams_.erase(found);
}

// For a stream that may have become unused: it goes if it has not been used since `idle_since`;
// otherwise it is looked at again a TTL from now.
void Hub::drop_if_unused_since(std::unordered_map<std::string, Stream>::iterator found,
                               Clock::time_point idle_since) {
    const Stream& stream = found->second;
    if (!stream.unused()) return;
    if (stream.last_activity < idle_since)
        streams_.erase(found);
    else
        left_.emplace_back(Clock::now(), found->first);
}

void Hub::expire_history() {
    std::int64_t cutoff =
        now_ms() -
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.history_ttl).count();
    auto idle_since = Clock::now() - options_.history_ttl;
    // The oldest of all first: once one is young enough, so are the rest.
    while (!oldest_.empty()) {
        auto found = streams_.find(*oldest_.begin()->second);
        if (found->second.history.front().delivery->time_ms >= cutoff) break;
        forget_oldest(*found);
        drop_if_unused_since(found, idle_since);
    }
    // Only the streams whose last connection left a TTL ago are looked at, not every stream:
    // with churn there are many more streams kept than users connected.
    while (!left_.empty() && left_.front().first < idle_since) {
        auto found = streams_.find(left_.front().second);
        left_.pop_front();
        // One used since (published to, with history off) is looked at again a TTL later.
        if (found != streams_.end()) drop_if_unused_since(found, idle_since);
    }
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
    ticker_.expires_after(round_ / slices_);
    ticker_.async_wait([this](error_code error) {
        if (!error) tick();
    });
}

void Hub::tick() {
    auto now = Clock::now();
    // A round is cut into as many ticks as its walk needs, and into more if connections arrive
    // during it (a reconnect storm), so that no tick walks more than its share.
    std::size_t most = std::max<std::size_t>(1, round_ / shortest_tick);
    std::size_t needed = std::clamp<std::size_t>(
        (connected_.size() + streams_per_tick - 1) / streams_per_tick, 1, most);
    if (connected_.round_begins()) {
        slices_ = needed;
        abort_stuck_closes(now);
    } else {
        slices_ = std::max(slices_, needed);
    }
    walk_slice(now);
    expire_history();
    schedule_tick();
}

// Looks at the next slice of the round's connections: pings the ones due, and closes the ones
// that did not answer the last ping in time or whose token has expired.
void Hub::walk_slice(Clock::time_point now) {
    std::int64_t now_seconds = seconds_since_epoch();
    std::size_t step = (connected_.size() + slices_ - 1) / slices_;
    std::vector<std::shared_ptr<Connection>> silent, expired;
    connected_.walk(step, [&](Stream& stream) {
        for (auto& registration : stream.connections) {
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
    });
    // Closed after the walk, which a close changes: it takes the stream out of connected_.
    for (auto& connection : expired) {
        log_info("token_expired", {{"conn", connection->id()}, {"uid", connection->uid()}});
        // Flushed: what was published while the token was valid still reaches the client.
        close_connection(connection, close_reasons::token_expired, true);
    }
    for (auto& connection : silent) {
        log_info("pong_timeout", {{"conn", connection->id()}, {"uid", connection->uid()}});
        close_connection(connection, close_reasons::pong_timeout, false);
    }
}

void Hub::abort_stuck_closes(Clock::time_point now) {
    for (auto it = closing_.begin(); it != closing_.end();) {
        if (now < it->second.abort_at) {
            ++it;
            continue;
        }
        it->second.connection->abort();
        it = closing_.erase(it);
    }
}

}  // namespace herald
