#include "herald/cluster/redis_engine.hpp"

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <exception>
#include <functional>
#include <random>
#include <stdexcept>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>

#include "herald/actor.hpp"
#include "herald/cluster/store_error.hpp"
#include "herald/log.hpp"
#include "herald/redis/error.hpp"
#include "herald/redis/url.hpp"

namespace herald::cluster {
namespace {

// How long a node stays subscribed to a user after the user's last connection here left: a
// client that reconnects (a page reload, a network change) finds its subscription in place.
constexpr Duration linger = std::chrono::seconds(10);
// Live messages a user may have waiting while the node reads its stream; past it the oldest go,
// and the read that follows finds them in the stream.
constexpr std::size_t most_waiting = 1024;
// Users per pipelined round trip when the node reads many streams or refreshes their presence.
constexpr std::size_t users_per_round_trip = 256;
// A presence change is written this long after it happens, together with those that follow it
// (a disconnect storm is a few writes, not one per connection).
constexpr Duration presence_delay{50};

std::string random_suffix() {
    std::random_device random;
    char suffix[8];
    std::snprintf(suffix, sizeof suffix, "%06x", random() & 0xffffff);
    return suffix;
}

std::string default_node_id() {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
        std::snprintf(host, 8, "herald");
    return std::string(host) + "-" + random_suffix();
}

// Redis refuses client names with spaces; a node name is the operator's choice.
std::string client_name(std::string_view node, std::string_view role) {
    std::string name = "herald-";
    for (char c : node)
        name += (c > 0x20 && c < 0x7f) ? c : '_';
    name += '-';
    name += role;
    return name;
}

redis::RedisSettings redis_settings(const Config& config, std::string_view node,
                                    std::string_view role) {
    std::optional<std::string> password;
    if (!config.redis_password.empty()) password = config.redis_password;
    auto settings = redis::parse_redis_url(config.redis, password);
    if (!settings) throw std::invalid_argument("--redis: " + settings.error());
    settings->timeout = config.redis_timeout;
    settings->health_check_interval = config.redis_probe_interval;
    settings->client_name = client_name(node, role);
    return std::move(*settings);
}

StoreSettings store_settings(const Config& config, const std::string& node) {
    StoreSettings settings;
    settings.history_size = config.history_size;
    settings.history_ttl = config.history_ttl;
    settings.idempotency_ttl = config.idempotency_ttl;
    // A node heartbeats every probe interval: three missed and it is dead. Each user's count
    // is refreshed every third of presence_ttl (refresh_rounds()), which only ends the counts
    // of a node long dead.
    settings.node_ttl = 3 * config.redis_probe_interval;
    settings.presence_ttl = 60 * config.redis_probe_interval;
    // New for each run, even under a fixed --node-id: a node restarted within node_ttl must not
    // inherit the counts of its former run.
    settings.node_id = node + "/" + random_suffix();
    return settings;
}

// How many upkeep rounds a full refresh of the presence counts is spread over: each user is
// refreshed once per presence_ttl / 3, and more often than its meta would expire (history_ttl).
std::size_t refresh_rounds(const StoreSettings& settings, Duration probe_interval) {
    Duration period = std::min(settings.presence_ttl / 3, settings.history_ttl / 2);
    return std::max<std::size_t>(1, static_cast<std::size_t>(period / probe_interval));
}

std::string probe_channel(std::string_view node, std::size_t subscriber) {
    std::string channel = "herald:probe:";
    channel += node;
    channel += ':';
    channel += std::to_string(subscriber);
    return channel;
}

// Logs what escaped one of the engine's coroutines: a bug, which ends that coroutine only.
struct LogFailure {
    const char* what;
    void operator()(std::exception_ptr failure) const {
        if (!failure) return;
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& error) {
            log_error("cluster_task_failed", {{"task", what}, {"error", error.what()}});
        }
    }
};

// A free function, not a capturing lambda: its frame owns its arguments.
awaitable<void> record_ack(StreamStore& store, std::string uid, std::uint64_t seq) {
    auto moved = co_await store.acknowledge(std::move(uid), seq);
    if (!moved) log_debug("redis_ack_failed", {{"error", moved.error().message()}});
}

template <typename Value>
boost::system::result<Value> unavailable(error_code error) {
    return boost::system::result<Value>(boost::system::in_place_error, error);
}

}  // namespace

RedisEngine::RedisEngine(asio::any_io_executor executor, Hub& hub, const Config& config,
                         Metrics& metrics)
    : hub_(hub),
      metrics_(metrics),
      node_(config.node_id.empty() ? default_node_id() : config.node_id),
      probe_interval_(config.redis_probe_interval),
      linger_(linger),
      redis_timeout_(config.redis_timeout),
      commands_(executor, redis_settings(config, node_, "cmd")),
      join_slots_(executor, config.redis_max_joins),
      store_(commands_, store_settings(config, node_)),
      refresh_rounds_(refresh_rounds(store_.settings(), probe_interval_)),
      probes_seen_(config.redis_subscribers),
      link_generation_(config.redis_subscribers),
      upkeep_timer_(hub.strand()),
      presence_timer_(hub.strand()) {
    for (unsigned i = 0; i < config.redis_subscribers; ++i) {
        subscribers_.push_back(std::make_unique<redis::Subscriber>(
            executor, redis_settings(config, node_, "sub" + std::to_string(i))));
        probed_generation_.push_back(0);
    }
    hub_.set_observer(*this);
    commands_.on_event([this](redis::LinkEvent event) { on_command_link(event); });
    for (std::size_t i = 0; i < subscribers_.size(); ++i) {
        subscribers_[i]->on_message([this, i](std::string_view channel, std::string_view payload) {
            on_message(i, channel, payload);
        });
        subscribers_[i]->on_event(
            [this, i](redis::LinkEvent event) { on_subscriber_link(i, event); });
    }
}

RedisEngine::~RedisEngine() = default;

void RedisEngine::start() {
    log_info("cluster_node", {{"node", node_},
                              {"redis", redis::describe(commands_.settings())},
                              {"subscribers", subscribers_.size()}});
    commands_.start();
    for (std::size_t i = 0; i < subscribers_.size(); ++i) {
        subscribers_[i]->start();
        // In the subscriber's set from now on, subscribed again after every reconnect; the
        // first attempt may fail while the link is still coming up.
        asio::co_spawn(subscribers_[i]->get_executor(),
                       subscribers_[i]->subscribe(probe_channel(node_, i)),
                       [](std::exception_ptr, boost::system::result<void>) {});
    }
    // Acks are announced to every node, for the publishers any of them may have waiting.
    asio::co_spawn(subscribers_.front()->get_executor(),
                   subscribers_.front()->subscribe(std::string(acks_channel)),
                   [](std::exception_ptr, boost::system::result<void>) {});
    asio::co_spawn(hub_.strand(), upkeep(), LogFailure{"upkeep"});
}

void RedisEngine::stop() {
    asio::post(hub_.strand(), [this] {
        stopped_ = true;
        upkeep_timer_.cancel();
        presence_timer_.cancel();
    });
    join_slots_.close();  // logins waiting for a slot give up
    commands_.stop();
    for (auto& subscriber : subscribers_)
        subscriber->stop();
}

bool RedisEngine::ready() const {
    if (!prepared_.load(std::memory_order_acquire) || !commands_.connected()) return false;
    for (const auto& subscriber : subscribers_)
        if (!subscriber->connected()) return false;
    return true;
}

redis::Subscriber& RedisEngine::subscriber_for(std::string_view uid) {
    return *subscribers_[std::hash<std::string_view>{}(uid) % subscribers_.size()];
}

// ---- Links

void RedisEngine::on_command_link(redis::LinkEvent event) {
    if (event == redis::LinkEvent::disconnected) {
        prepared_.store(false, std::memory_order_release);
        store_.forget_link();  // which Redis is behind the next link is for prepare() to learn
        return;
    }
    if (event != redis::LinkEvent::connected) return;
    if (ever_connected_.exchange(true)) metrics_.redis_reconnects.add();
    asio::co_spawn(commands_.get_executor(), prepare(), LogFailure{"prepare"});
}

// Learns the new link's Redis (its run_id, which says whether it still has the data the epochs
// stand for), loads the scripts, and heartbeats: until then, nothing is published or read. The
// node is in the node list before it writes any count, so that it is known for dead even if it
// dies before its first upkeep; and a Redis that lost the counts gets them all again.
awaitable<void> RedisEngine::prepare() {
    auto prepared = co_await store_.prepare();
    // A failure is logged, and tried again by the upkeep.
    if (!prepared) {
        log_warn("redis_prepare_failed", {{"error", prepared.error()}});
        co_return;
    }
    auto heartbeat = co_await store_.heartbeat();
    if (!heartbeat) {
        log_warn("redis_prepare_failed", {{"error", heartbeat.error()}});
        co_return;
    }
    note_heartbeat(*heartbeat);
    prepared_.store(true, std::memory_order_release);
}

// The nodes alive, for /stats; and a node taken for dead, or new to a Redis that lost the node
// list, has its counts all written again by the next upkeep.
void RedisEngine::note_heartbeat(const Heartbeat& heartbeat) {
    nodes_.store(heartbeat.alive, std::memory_order_relaxed);
    if (heartbeat.revived) rewrite_presence_.store(true, std::memory_order_relaxed);
}

void RedisEngine::on_subscriber_link(std::size_t subscriber, redis::LinkEvent event) {
    if (event == redis::LinkEvent::disconnected) link_generation_[subscriber].store(0);
    if (event != redis::LinkEvent::resubscribed) return;
    link_generation_[subscriber].store(++generations_);
    // Whatever was published to this link's users while it was down is in their streams: read
    // each one up. The users whose join is still under way read on their own.
    asio::post(hub_.strand(), [this, subscriber] {
        std::vector<std::string> users;
        for (auto& [uid, user] : followed_)
            if (!user.epoch.empty() && &subscriber_for(uid) == subscribers_[subscriber].get())
                users.push_back(uid);
        if (users.empty()) return;
        metrics_.redis_catch_ups.add(users.size());
        read_up(std::move(users));
    });
}

void RedisEngine::on_message(std::size_t subscriber, std::string_view channel,
                             std::string_view payload) {
    if (channel.starts_with("herald:probe:")) {
        std::uint64_t round = 0;
        std::from_chars(payload.data(), payload.data() + payload.size(), round);
        probes_seen_[subscriber].store(round, std::memory_order_relaxed);
        return;
    }
    if (channel == acks_channel) {
        // "<seq>\n<uid>", as the ack script announces it.
        std::size_t newline = payload.find('\n');
        std::uint64_t seq = 0;
        auto [end, error] = std::from_chars(payload.data(), payload.data() + newline, seq);
        if (newline == std::string_view::npos || error != std::errc() ||
            end != payload.data() + newline) {
            log_warn("redis_unreadable_message", {{"channel", channel}, {"error", "bad ack"}});
            return;
        }
        asio::post(hub_.strand(), [this, seq, uid = std::string(payload.substr(newline + 1))] {
            ack_waiters_.acknowledged(uid, seq);
        });
        return;
    }
    if (is_control_message(payload)) {
        auto control = decode_control_message(channel, payload);
        if (!control) {
            log_warn("redis_unreadable_message",
                     {{"channel", channel}, {"error", control.error()}});
            return;
        }
        asio::post(hub_.strand(), [this, control = std::move(*control)] {
            hub_.close_user(control.uid, control.action == ControlAction::reconnect);
        });
        return;
    }
    auto message = decode_live_message(channel, payload);
    if (!message) {
        // Not Herald's format: someone else publishes on Herald's channels. Never delivered.
        log_warn("redis_unreadable_message", {{"channel", channel}, {"error", message.error()}});
        return;
    }
    asio::post(hub_.strand(),
               [this, message = std::move(*message)]() mutable { on_live(std::move(message)); });
}

// ---- Publishing and joining

awaitable<boost::system::result<Published>> RedisEngine::publish(PublishRequest request) {
    if (!prepared_.load(std::memory_order_acquire))
        co_return unavailable<Published>(make_error_code(redis::RedisError::not_connected));
    std::size_t users = request.uids.size();
    auto outcomes = co_await store_.publish(std::move(request.uids), std::move(request.body),
                                            std::move(request.idempotency_key));
    if (!outcomes) {
        metrics_.redis_publish_errors.add();
        log_warn("redis_publish_failed", {{"error", outcomes.error()}});
        co_return unavailable<Published>(outcomes.error());
    }
    Published published;
    published.seqs.reserve(outcomes->size());
    for (const PublishOutcome& outcome : *outcomes) {
        published.seqs.push_back(outcome.seq);
        published.delivered += outcome.delivered;
    }
    metrics_.messages_published.add(users);
    co_return published;
}

awaitable<boost::system::result<std::vector<Published>>> RedisEngine::publish_batch(
    std::vector<PublishRequest> requests) {
    using Batch = boost::system::result<std::vector<Published>>;
    if (!prepared_.load(std::memory_order_acquire))
        co_return unavailable<std::vector<Published>>(
            make_error_code(redis::RedisError::not_connected));
    std::size_t users = 0;
    std::vector<StreamStore::Publication> publications;
    publications.reserve(requests.size());
    for (PublishRequest& request : requests) {
        users += request.uids.size();
        publications.push_back(StreamStore::Publication{
            std::move(request.uids), std::move(request.body), std::move(request.idempotency_key)});
    }
    auto outcomes = co_await store_.publish_many(std::move(publications));
    if (!outcomes) {
        metrics_.redis_publish_errors.add();
        log_warn("redis_publish_failed", {{"error", outcomes.error()}});
        co_return unavailable<std::vector<Published>>(outcomes.error());
    }
    std::vector<Published> batch(outcomes->size());
    for (std::size_t i = 0; i < outcomes->size(); ++i) {
        for (const PublishOutcome& outcome : (*outcomes)[i]) {
            batch[i].seqs.push_back(outcome.seq);
            batch[i].delivered += outcome.delivered;
        }
    }
    metrics_.messages_published.add(users);
    co_return Batch(std::move(batch));
}

awaitable<boost::system::result<Joined>> RedisEngine::join(std::shared_ptr<Connection> connection,
                                                           std::optional<Since> since) {
    if (!ready()) co_return unavailable<Joined>(make_error_code(redis::RedisError::not_connected));
    auto [closed] = co_await join_slots_.async_send(error_code{}, use_nothrow);
    if (closed) co_return Joined{};  // shutting down
    JoinSlot slot(join_slots_);
    // Registered held: from now on, what the node delivers to the user waits in the connection.
    connection->hold();
    auto add = [this, connection] { return hub_.add(connection); };
    bool added = co_await ask(hub_.strand(), std::move(add));
    if (!added) co_return Joined{};  // shutting down
    const std::string& uid = connection->uid();
    // Every join waits for the confirmation, also when an earlier join asked for it.
    auto subscribed = co_await subscriber_for(uid).subscribe(StreamStore::channel_of(uid));
    if (!subscribed) {
        hub_.leave(connection);
        co_return unavailable<Joined>(subscribed.error());
    }
    auto read = co_await store_.read(uid, since, +1);
    if (!read) {
        hub_.leave(connection);
        co_return unavailable<Joined>(read.error());
    }
    auto finish = [this, connection, read = std::move(*read)]() mutable {
        return release(connection, std::move(read));
    };
    Joined joined = co_await ask(hub_.strand(), std::move(finish));
    co_return joined;
}

Joined RedisEngine::release(const std::shared_ptr<Connection>& connection, StreamRead read) {
    const std::string& uid = connection->uid();
    auto found = followed_.find(uid);
    if (found != followed_.end()) {
        Followed& user = found->second;
        if (user.epoch.empty()) {
            // The user's first join here: the node follows its stream from this read on.
            user.epoch = read.position.epoch;
            user.last_seq = read.position.seq;
            drain(uid, user);
        } else if (user.epoch != read.position.epoch && read.position.epoch != user.retired_epoch) {
            // The stream began anew since the node last heard of it: the user's other
            // connections resume; this one starts in the new stream already.
            begin_stream(uid, user, read.position.epoch, connection.get());
            user.last_seq = read.position.seq;
            drain(uid, user);
        }
    }
    std::vector<DeliveryPtr> replay;
    replay.reserve(read.messages.size());
    for (const StoredMessage& message : read.messages)
        replay.push_back(make_delivery(message.body, message.seq, message.time_ms));
    if (connection->release(replay) == Connection::Enqueued::full)
        hub_.close(connection, close_reasons::slow_consumer, true);  // what fits, then resume
    return Joined{true, std::move(read.position)};
}

awaitable<boost::system::result<std::size_t>> RedisEngine::presence(std::string uid) {
    if (!prepared_.load(std::memory_order_acquire))
        co_return unavailable<std::size_t>(make_error_code(redis::RedisError::not_connected));
    co_return co_await store_.presence(uid);
}

// The user's presence first (the connections it has when the command goes out), then the
// command on the user's channel: every node subscribed to it (each one that holds connections
// of the user) closes them when it arrives, this one included.
awaitable<boost::system::result<std::size_t>> RedisEngine::disconnect(std::string uid,
                                                                      bool reconnect) {
    if (!prepared_.load(std::memory_order_acquire))
        co_return unavailable<std::size_t>(make_error_code(redis::RedisError::not_connected));
    auto connections = co_await store_.presence(uid);
    if (!connections) co_return unavailable<std::size_t>(connections.error());
    std::string payload =
        encode_control_message(reconnect ? ControlAction::reconnect : ControlAction::disconnect);
    redis::Command command{"PUBLISH", StreamStore::channel_of(uid), payload};
    auto published = co_await commands_.exec(std::move(command));
    if (!published) co_return unavailable<std::size_t>(published.error());
    if (published->is_error())
        co_return unavailable<std::size_t>(make_error_code(StoreError::redis_refused));
    co_return *connections;
}

void RedisEngine::acknowledge(std::string uid, std::uint64_t seq) {
    if (!prepared_.load(std::memory_order_acquire)) return;  // the client's next ack covers it
    asio::co_spawn(commands_.get_executor(), record_ack(store_, std::move(uid), seq),
                   LogFailure{"ack"});
}

// The waiter is enlisted before Redis is asked to announce the user's acks: an announcement
// can then never find it missing. Redis answers with the acknowledged seq in the same step, so
// an ack that came before is seen too.
awaitable<boost::system::result<bool>> RedisEngine::wait_for_ack(std::string uid, std::uint64_t seq,
                                                                 Duration timeout) {
    if (!prepared_.load(std::memory_order_acquire))
        co_return unavailable<bool>(make_error_code(redis::RedisError::not_connected));
    auto signal = std::make_shared<AckSignal>(co_await asio::this_coro::executor, 1);
    auto enlist = [this, &uid, seq, signal] {
        ack_waiters_.add(uid, seq, signal);
        return true;  // a step answers something
    };
    co_await ask(hub_.strand(), std::move(enlist));
    auto forget = [this, &uid, &signal] {
        ack_waiters_.remove(uid, signal.get());
        return true;
    };
    // Announced a little past the timeout: Redis's clock and this node's may disagree.
    auto acked = co_await store_.announce_acks(uid, timeout + redis_timeout_);
    if (!acked || *acked >= seq) {
        co_await ask(hub_.strand(), std::move(forget));
        if (!acked) co_return unavailable<bool>(acked.error());
        co_return true;
    }
    bool signalled = co_await wait_for_signal(*signal, timeout);
    if (!signalled) co_await ask(hub_.strand(), std::move(forget));
    co_return signalled;
}

awaitable<boost::system::result<std::uint64_t>> RedisEngine::acked_seq(std::string uid) {
    if (!prepared_.load(std::memory_order_acquire))
        co_return unavailable<std::uint64_t>(make_error_code(redis::RedisError::not_connected));
    auto acked = co_await store_.acked_seq(std::move(uid));
    if (!acked) co_return unavailable<std::uint64_t>(acked.error());
    co_return *acked;
}

awaitable<EngineStats> RedisEngine::stats() {
    return ask(hub_.strand(), [this] {
        EngineStats stats;
        stats.streams = followed_.size();  // the history itself is in Redis
        stats.node = node_;
        stats.nodes = nodes_.load(std::memory_order_relaxed);
        return stats;
    });
}

// ---- Following users (the hub's strand)

void RedisEngine::on_first_connection(const std::string& uid) {
    followed_.try_emplace(uid);  // a user still lingering is followed still
}

void RedisEngine::on_connection_gone(const std::string& uid, std::size_t remaining) {
    auto found = followed_.find(uid);
    if (found == followed_.end()) return;
    if (remaining == 0) found->second.left_at = Clock::now();
    mark_presence(uid);
}

void RedisEngine::on_live(LiveMessage message) {
    auto found = followed_.find(message.uid);
    if (found == followed_.end()) return;  // not followed (any more)
    Followed& user = found->second;
    if (user.epoch.empty() || user.reading) return wait(user, std::move(message));
    accept(found->first, user, std::move(message));
}

// In seq order: delivers `message` if it is the next of the user's stream, drops it if it came
// already, or has the missing ones read from the stream first.
void RedisEngine::accept(const std::string& uid, Followed& user, LiveMessage message) {
    if (message.epoch != user.epoch) {
        if (message.epoch == user.retired_epoch) return;  // late, from before a reset
        begin_stream(uid, user, message.epoch);
    }
    if (message.seq <= user.last_seq) return;  // came already (a replay, a read)
    if (message.seq != user.last_seq + 1) {
        wait(user, std::move(message));
        return read_up({uid});
    }
    deliver(uid, user, StoredMessage{message.seq, message.time_ms, std::move(message.body)});
}

void RedisEngine::wait(Followed& user, LiveMessage message) {
    if (user.waiting.size() >= most_waiting) user.waiting.pop_front();
    user.waiting.push_back(std::move(message));
}

void RedisEngine::deliver(const std::string& uid, Followed& user, const StoredMessage& message) {
    user.last_seq = message.seq;
    DeliveryPtr delivery = make_delivery(message.body, message.seq, message.time_ms);
    metrics_.messages_delivered.add(hub_.fan_out(uid, delivery));
}

void RedisEngine::begin_stream(const std::string& uid, Followed& user, const std::string& epoch,
                               const Connection* except) {
    log_info("stream_reset", {{"uid", uid}, {"epoch", epoch}});
    user.retired_epoch = std::exchange(user.epoch, epoch);
    user.last_seq = 0;
    hub_.reset_stream(uid, except);
}

// What a read from the stream found: the messages after the node's last, delivered in order,
// then the live ones that waited for it. Seqs may skip the messages collapsed by a newer one with
// their key; `recovered` says whether anything else is missing (evicted before it was read, or
// never kept: history off).
void RedisEngine::apply(const std::string& uid, Followed& user, const StreamRead& read) {
    bool complete = read.position.recovered.value_or(false);
    if (read.position.epoch != user.epoch) {
        begin_stream(uid, user, read.position.epoch);  // the JSON-protocol connections are told
        complete = true;
    }
    for (const StoredMessage& message : read.messages)
        if (message.seq > user.last_seq) deliver(uid, user, message);
    if (read.position.seq > user.last_seq) user.last_seq = read.position.seq;
    // JSON-protocol connections cannot get what is lost: they resume and learn it.
    if (!complete) hub_.reset_stream(uid);
    drain(uid, user);
}

// The live messages that waited, in order; a read that one of them starts makes the rest wait
// for it in turn.
void RedisEngine::drain(const std::string& uid, Followed& user) {
    std::deque<LiveMessage> waiting = std::move(user.waiting);
    user.waiting.clear();
    while (!waiting.empty()) {
        if (user.reading) {
            for (auto& message : waiting)
                user.waiting.push_back(std::move(message));
            return;
        }
        LiveMessage message = std::move(waiting.front());
        waiting.pop_front();
        accept(uid, user, std::move(message));
    }
}

void RedisEngine::read_up(std::vector<std::string> uids) {
    std::vector<std::string> reading;
    for (auto& uid : uids) {
        auto found = followed_.find(uid);
        if (found == followed_.end() || found->second.epoch.empty() || found->second.reading)
            continue;
        found->second.reading = true;
        reading.push_back(std::move(uid));
    }
    if (reading.empty()) return;
    asio::co_spawn(hub_.strand(), read_up_now(std::move(reading)), LogFailure{"read_up"});
}

// Runs on the hub's strand; the users are marked `reading`, so live messages wait meanwhile.
awaitable<void> RedisEngine::read_up_now(std::vector<std::string> uids) {
    for (std::size_t first = 0; first < uids.size(); first += users_per_round_trip) {
        std::size_t last = std::min(uids.size(), first + users_per_round_trip);
        // With the epoch the node's seq counts in: a stream that began anew meanwhile (Redis
        // lost its data) is read from its start, not from an old seq that means nothing there.
        std::vector<std::pair<std::string, Since>> after;
        for (std::size_t i = first; i < last; ++i) {
            auto found = followed_.find(uids[i]);
            if (found == followed_.end())
                after.emplace_back(uids[i], Since{});
            else
                after.emplace_back(uids[i], Since{found->second.epoch, found->second.last_seq});
        }
        auto reads = co_await store_.read_after(after);
        for (std::size_t i = 0; i < after.size(); ++i) {
            auto found = followed_.find(after[i].first);
            if (found == followed_.end()) continue;
            Followed& user = found->second;
            user.reading = false;
            if (!reads) {
                user.stale = true;  // read again at the next upkeep; its messages keep waiting
                continue;
            }
            apply(found->first, user, (*reads)[i]);
        }
    }
}

void RedisEngine::mark_presence(const std::string& uid) {
    presence_changed_.insert(uid);
    if (presence_flush_pending_ || stopped_) return;
    presence_flush_pending_ = true;
    asio::co_spawn(hub_.strand(), flush_presence(), LogFailure{"presence"});
}

awaitable<void> RedisEngine::flush_presence() {
    presence_timer_.expires_after(presence_delay);
    co_await presence_timer_.async_wait(use_nothrow);
    while (!presence_changed_.empty() && !stopped_) {
        std::vector<std::pair<std::string, std::size_t>> counts;
        for (auto it = presence_changed_.begin();
             it != presence_changed_.end() && counts.size() < users_per_round_trip;) {
            counts.emplace_back(*it, hub_.connections_of(*it));
            it = presence_changed_.erase(it);
        }
        // A failure is mended by the next upkeep, which then refreshes every count.
        auto set = co_await store_.set_presence(counts);
        if (!set) rewrite_presence_.store(true, std::memory_order_relaxed);
    }
    presence_flush_pending_ = false;
}

// Every probe interval: probes, the node's heartbeat, a slice of its presence counts (all of them
// when the heartbeat says the node was taken for dead or Redis lost them, or a write of counts
// failed), and the users to read up or to stop following.
awaitable<void> RedisEngine::upkeep() {
    for (std::size_t round = 1;; ++round) {
        upkeep_timer_.expires_after(probe_interval_);
        auto [error] = co_await upkeep_timer_.async_wait(use_nothrow);
        if (error || stopped_) co_return;
        if (!prepared_.load(std::memory_order_acquire) && commands_.connected()) co_await prepare();
        if (!prepared_.load(std::memory_order_acquire)) continue;
        co_await probe(round);
        auto heartbeat = co_await store_.heartbeat();
        if (heartbeat) note_heartbeat(*heartbeat);
        bool all = rewrite_presence_.exchange(false, std::memory_order_relaxed);

        // A slice by the uid's hash: the same users each time, the refreshes spread evenly.
        std::size_t slice = round % refresh_rounds_;
        std::vector<std::pair<std::string, std::size_t>> counts;
        for (const auto& [uid, user] : followed_) {
            if (!all && std::hash<std::string>{}(uid) % refresh_rounds_ != slice) continue;
            if (std::size_t connections = hub_.connections_of(uid))
                counts.emplace_back(uid, connections);
        }
        for (std::size_t first = 0; first < counts.size(); first += users_per_round_trip) {
            auto last = counts.begin() + static_cast<std::ptrdiff_t>(
                                             std::min(counts.size(), first + users_per_round_trip));
            std::vector<std::pair<std::string, std::size_t>> some(
                counts.begin() + static_cast<std::ptrdiff_t>(first), last);
            auto set = co_await store_.set_presence(some);
            if (!set) rewrite_presence_.store(true, std::memory_order_relaxed);
        }

        unfollow_lingering(Clock::now());
        std::vector<std::string> stale;
        for (auto& [uid, user] : followed_)
            if (user.stale && !user.reading) {
                user.stale = false;
                stale.push_back(uid);
            }
        if (!stale.empty()) read_up(std::move(stale));
    }
}

// The probes of the last round: one that a connected subscriber link never delivered means the
// link stopped delivering while it looked up (a failover that lost its subscriptions, a network
// that drops one direction): it is restarted, and its users are read up once it is back. Then
// this round's probes.
awaitable<void> RedisEngine::probe(std::size_t round) {
    for (std::size_t i = 0; i < subscribers_.size(); ++i) {
        bool missed = probed_generation_[i] != 0 &&
                      probed_generation_[i] == link_generation_[i].load() &&
                      probes_seen_[i].load(std::memory_order_relaxed) < probes_sent_;
        if (!missed) continue;
        metrics_.redis_probes_missed.add();
        log_warn("redis_probe_missed", {{"subscriber", i}, {"round", probes_sent_}});
        subscribers_[i]->reconnect();
    }
    probes_sent_ = round;
    std::string number = std::to_string(round);
    for (std::size_t i = 0; i < subscribers_.size(); ++i) {
        probed_generation_[i] = link_generation_[i].load();
        std::string channel = probe_channel(node_, i);
        redis::Command command{"PUBLISH", channel, number};
        co_await commands_.exec(std::move(command));
    }
}

void RedisEngine::unfollow_lingering(Clock::time_point now) {
    for (auto it = followed_.begin(); it != followed_.end();) {
        const auto& [uid, user] = *it;
        bool lingering =
            hub_.connections_of(uid) == 0 && !user.reading && now - user.left_at >= linger_;
        if (!lingering) {
            ++it;
            continue;
        }
        asio::co_spawn(subscriber_for(uid).get_executor(),
                       subscriber_for(uid).unsubscribe(StreamStore::channel_of(uid)),
                       [](std::exception_ptr, boost::system::result<void>) {});
        it = followed_.erase(it);
    }
}

}  // namespace herald::cluster
