#include "herald/local_engine.hpp"

#include <algorithm>

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>

namespace herald {
namespace {

// Expired history is looked for a few times per TTL and at most once a second, so that a
// message is forgotten at most a quarter of the TTL late.
Duration expiry_interval_for(const HistoryLimits& limits) {
    return std::clamp(limits.ttl / 4, Duration(10), Duration(1000));
}

}  // namespace

LocalEngine::LocalEngine(Hub& hub, const Config& config, Metrics& metrics)
    : hub_(hub),
      metrics_(metrics),
      node_(config.node_id.empty() ? "local" : config.node_id),
      expiry_interval_(expiry_interval_for(history_limits(config))),
      history_(history_limits(config)),
      idempotency_(config.idempotency_ttl, config.idempotency_max_keys),
      expiry_timer_(hub.strand()) {
    hub_.set_observer(*this);
}

void LocalEngine::start() {
    asio::post(hub_.strand(), [this] { schedule_expiry(); });
}

void LocalEngine::stop() {
    asio::post(hub_.strand(), [this] {
        stopped_ = true;
        expiry_timer_.cancel();
    });
}

void LocalEngine::schedule_expiry() {
    if (stopped_) return;
    expiry_timer_.expires_after(expiry_interval_);
    expiry_timer_.async_wait([this](error_code error) {
        if (error) return;
        auto now = Clock::now();
        history_.expire(now);
        idempotency_.expire(now);
        schedule_expiry();
    });
}

awaitable<boost::system::result<Published>> LocalEngine::publish(PublishRequest request) {
    return ask(hub_.strand(), [this, request = std::move(request)] {
        return boost::system::result<Published>(deliver(request));
    });
}

awaitable<boost::system::result<std::vector<Published>>> LocalEngine::publish_batch(
    std::vector<PublishRequest> requests) {
    return ask(hub_.strand(), [this, requests = std::move(requests)] {
        std::vector<Published> published;
        published.reserve(requests.size());
        for (const PublishRequest& request : requests)
            published.push_back(deliver(request));
        return boost::system::result<std::vector<Published>>(std::move(published));
    });
}

Published LocalEngine::deliver(const PublishRequest& request) {
    Published published;
    published.seqs.reserve(request.uids.size());
    auto now = Clock::now();
    std::int64_t time_ms = wall_clock_ms();
    std::size_t published_here = 0, delivered_here = 0;
    for (const auto& uid : request.uids) {
        if (request.idempotency_key) {
            if (auto first = idempotency_.find(uid, *request.idempotency_key)) {
                published.seqs.push_back(first->seq);  // a retry: answered, not published again
                published.delivered += first->delivered;
                continue;
            }
        }
        DeliveryPtr delivery = history_.append(uid, request.body, now, time_ms);
        // Without a stream (history off, user unknown) there is nobody to deliver to either: a
        // connected user's stream is pinned.
        Remembered outcome;
        if (delivery) outcome = {delivery->seq, hub_.fan_out(uid, delivery)};
        published.seqs.push_back(outcome.seq);
        published.delivered += outcome.delivered;
        ++published_here;
        delivered_here += outcome.delivered;
        if (request.idempotency_key)
            idempotency_.remember(uid, *request.idempotency_key, outcome, now);
    }
    metrics_.messages_published.add(published_here);
    metrics_.messages_delivered.add(delivered_here);
    return published;
}

awaitable<boost::system::result<std::size_t>> LocalEngine::presence(std::string uid) {
    return ask(hub_.strand(), [this, uid = std::move(uid)] {
        return boost::system::result<std::size_t>(hub_.connections_of(uid));
    });
}

void LocalEngine::acknowledge(std::string uid, std::uint64_t seq) {
    asio::post(hub_.strand(), [this, uid = std::move(uid), seq] {
        if (history_.acknowledge(uid, seq)) ack_waiters_.acknowledged(uid, seq);
    });
}

awaitable<boost::system::result<bool>> LocalEngine::wait_for_ack(std::string uid, std::uint64_t seq,
                                                                 Duration timeout) {
    auto signal = std::make_shared<AckSignal>(co_await asio::this_coro::executor, 1);
    // Registered in the step that reads the acknowledged seq: an ack comes before it (seen
    // here) or after it (signalled), never in between.
    auto enlist = [this, &uid, seq, signal] {
        if (history_.acked(uid) >= seq) return true;
        ack_waiters_.add(uid, seq, signal);
        return false;
    };
    bool acked = co_await ask(hub_.strand(), std::move(enlist));
    if (acked) co_return true;
    acked = co_await wait_for_signal(*signal, timeout);
    if (!acked) {
        auto forget = [this, &uid, &signal] {
            ack_waiters_.remove(uid, signal.get());
            return true;  // a step answers something
        };
        co_await ask(hub_.strand(), std::move(forget));
    }
    co_return acked;
}

awaitable<boost::system::result<std::uint64_t>> LocalEngine::acked_seq(std::string uid) {
    return ask(hub_.strand(), [this, uid = std::move(uid)] {
        return boost::system::result<std::uint64_t>(history_.acked(uid));
    });
}

awaitable<boost::system::result<std::size_t>> LocalEngine::disconnect(std::string uid,
                                                                      bool reconnect) {
    return ask(hub_.strand(), [this, uid = std::move(uid), reconnect] {
        return boost::system::result<std::size_t>(hub_.close_user(uid, reconnect));
    });
}

awaitable<boost::system::result<Joined>> LocalEngine::join(std::shared_ptr<Connection> connection,
                                                           std::optional<Since> since) {
    return ask(hub_.strand(), [this, connection = std::move(connection), since = std::move(since)] {
        return boost::system::result<Joined>(add(connection, since));
    });
}

Joined LocalEngine::add(const std::shared_ptr<Connection>& connection,
                        const std::optional<Since>& since) {
    Joined joined;
    if (!hub_.add(connection)) return joined;  // shutting down
    joined.joined = true;
    // The replay is queued in the step that registers the connection: every message published
    // before it is in the history, every one after reaches the connection live.
    Replay replay = history_.replay(connection->uid(), since, Clock::now());
    joined.position = std::move(replay.position);
    for (DeliveryPtr& message : replay.messages) {
        if (connection->enqueue(std::move(message)) == Connection::Enqueued::full) {
            // More than its outbox takes: what fits is sent before the close, so that it comes
            // back and resumes from where it got to. Without the flush it would get nothing, and
            // come back for the same replay again and again.
            hub_.close(connection, close_reasons::slow_consumer, true);
            break;
        }
    }
    return joined;
}

void LocalEngine::on_first_connection(const std::string& uid) {
    history_.pin(uid, Clock::now());
}

void LocalEngine::on_connection_gone(const std::string& uid, std::size_t remaining) {
    if (remaining == 0) history_.unpin(uid, Clock::now());
}

awaitable<EngineStats> LocalEngine::stats() {
    return ask(hub_.strand(), [this] {
        HistoryStats history = history_.stats();
        return EngineStats{history.streams, history.holding, history.messages,
                           history.bytes,   node_,           1};
    });
}

}  // namespace herald
