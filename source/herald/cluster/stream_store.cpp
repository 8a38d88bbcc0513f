#include "herald/cluster/stream_store.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <random>
#include <stdexcept>

#include "herald/cluster/live_message.hpp"
#include "herald/cluster/script_reply.hpp"
#include "herald/cluster/store_error.hpp"
#include "herald/log.hpp"
#include "herald/redis/reply.hpp"

namespace herald::cluster {
namespace {

using redis::Reply;

const error_code not_prepared = make_error_code(StoreError::not_prepared);

// A random epoch, for the script to take if the user's stream needs a new one: 16 hex digits,
// from a generator seeded with 128 bits of the system's randomness, so that no two nodes (nor
// two runs of one) hand out the same sequence of epochs.
std::string new_epoch() {
    thread_local std::mt19937_64 generator = [] {
        std::random_device device;
        std::seed_seq seed{device(), device(), device(), device()};
        return std::mt19937_64(seed);
    }();
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(generator()));
    return text;
}

const StoreSettings& checked(const StoreSettings& settings) {
    if (settings.history_ttl.count() <= 0 || settings.idempotency_ttl.count() <= 0 ||
        settings.presence_ttl.count() <= 0 || settings.node_ttl.count() <= 0)
        throw std::invalid_argument("stream store durations must be positive");
    if (settings.node_id.empty()) throw std::invalid_argument("stream store needs a node id");
    return settings;
}

// What a refusal's log line quotes of Redis's text: enough to tell OOM from READONLY from a
// script's error, bounded.
std::string_view excerpt(const Reply& reply) {
    return std::string_view(reply.text).substr(0, 200);
}

redis::Command evalsha(const Script& script, const std::vector<std::string_view>& call) {
    std::vector<std::string_view> arguments{"EVALSHA", script.sha1};
    arguments.insert(arguments.end(), call.begin(), call.end());
    return redis::Command(std::span<const std::string_view>(arguments));
}

}  // namespace

StreamStore::StreamStore(redis::CommandConnection& redis, StoreSettings settings)
    : redis_(redis),
      settings_(checked(settings)),
      history_size_(std::to_string(settings_.history_size)),
      history_ttl_(std::to_string(settings_.history_ttl.count())),
      idempotency_ttl_(std::to_string(settings_.idempotency_ttl.count())),
      presence_ttl_(std::to_string(settings_.presence_ttl.count())),
      node_ttl_(std::to_string(settings_.node_ttl.count())),
      dead_kept_(std::to_string(2 * settings_.presence_ttl.count())) {}

std::optional<std::string> StreamStore::run_id() const {
    std::lock_guard lock(mutex_);
    return run_id_;
}

std::string StreamStore::dead_nodes() const {
    std::lock_guard lock(mutex_);
    return dead_nodes_;
}

void StreamStore::forget_link() {
    std::lock_guard lock(mutex_);
    run_id_.reset();
    ++link_;
}

awaitable<boost::system::result<void>> StreamStore::prepare() {
    std::uint64_t link = 0;
    {
        std::lock_guard lock(mutex_);
        link = link_;
    }
    // One round trip: which Redis this is, and every script in its cache.
    std::vector<redis::Command> commands;
    commands.push_back(redis::Command{"INFO", "server"});
    for (std::size_t i = 0; i < script_count; ++i)
        commands.push_back(redis::Command{"SCRIPT", "LOAD", script(ScriptId(i)).text});
    auto replies = co_await redis_.exec_all(std::move(commands));
    if (!replies) co_return replies.error();

    const Reply& info = replies->front();
    if (info.is_error()) {
        note("info", info, make_error_code(StoreError::redis_refused));
        co_return make_error_code(StoreError::redis_refused);
    }
    auto run = info.type == Reply::Type::string ? run_id_of(info.text) : std::nullopt;
    if (!run) co_return make_error_code(StoreError::bad_reply);
    for (std::size_t i = 0; i < script_count; ++i) {
        const Reply& loaded = (*replies)[i + 1];
        if (loaded.is_error()) {
            note(script(ScriptId(i)).name, loaded, make_error_code(StoreError::redis_refused));
            co_return make_error_code(StoreError::redis_refused);
        }
        // Redis names a script by the SHA-1 of its text, as this node does: anything else
        // would make every EVALSHA a NOSCRIPT.
        if (loaded != Reply::string(script(ScriptId(i)).sha1))
            co_return make_error_code(StoreError::bad_reply);
    }

    std::lock_guard lock(mutex_);
    // The link went down while this was on its way: its run_id may not be the next link's.
    if (link_ != link) co_return not_prepared;
    run_id_ = std::move(run);
    co_return boost::system::result<void>();
}

awaitable<StreamStore::Replies> StreamStore::evaluate(ScriptId id, std::vector<Call> calls) {
    const Script& evaluated = script(id);
    std::vector<redis::Command> commands;
    commands.reserve(calls.size());
    for (const Call& call : calls)
        commands.push_back(evalsha(evaluated, call));
    Replies replies = co_await redis_.exec_all(std::move(commands));
    if (!replies) co_return replies;

    // Redis forgets its scripts on a restart, a failover or SCRIPT FLUSH, and SCRIPT LOAD is
    // not replicated: a refused call did nothing, so it is safe to make again.
    std::vector<std::size_t> refused;
    for (std::size_t i = 0; i < replies->size(); ++i)
        if ((*replies)[i].error_code() == "NOSCRIPT") refused.push_back(i);
    if (refused.empty()) co_return replies;
    std::vector<redis::Command> again;
    again.reserve(refused.size() + 1);
    // Pipelined ahead of the calls, so that they find it loaded.
    again.push_back(redis::Command{"SCRIPT", "LOAD", evaluated.text});
    for (std::size_t i : refused)
        again.push_back(evalsha(evaluated, calls[i]));
    Replies retried = co_await redis_.exec_all(std::move(again));
    if (!retried) co_return retried;
    // A refused SCRIPT LOAD leaves the calls refused too (their replies say why).
    for (std::size_t k = 0; k < refused.size(); ++k)
        (*replies)[refused[k]] = std::move((*retried)[k + 1]);
    co_return replies;
}

void StreamStore::note(std::string_view name, const Reply& reply, const error_code& error) {
    if (!error) {
        refusals_in_a_row_.store(0, std::memory_order_relaxed);
        return;
    }
    if (error == StoreError::redis_refused) {
        // Out of memory refuses every publish: a warning for the first of a streak, not each.
        bool first = refusals_in_a_row_.fetch_add(1, std::memory_order_relaxed) == 0;
        herald::log(first ? LogLevel::warn : LogLevel::debug, "redis_refused",
                    {{"script", name}, {"reply", excerpt(reply)}});
    } else {
        herald::log(LogLevel::warn, "redis_bad_reply", {{"script", name}});
    }
}

awaitable<boost::system::result<std::vector<PublishOutcome>>> StreamStore::publish(
    std::vector<std::string> uids, MessageBodyPtr body,
    std::optional<std::string> idempotency_key) {
    std::vector<Publication> one;
    one.push_back(Publication{std::move(uids), std::move(body), std::move(idempotency_key)});
    auto outcomes = co_await publish_many(std::move(one));
    if (!outcomes) co_return outcomes.error();
    co_return std::move(outcomes->front());
}

awaitable<boost::system::result<std::vector<std::vector<PublishOutcome>>>>
StreamStore::publish_many(std::vector<Publication> publications) {
    auto run = run_id();
    if (!run) co_return not_prepared;
    std::string dead = dead_nodes();
    std::vector<std::vector<PublishOutcome>> outcomes(publications.size());

    // What each call's views point into: reserved, so that no string moves while they do.
    struct User {
        UserKeys keys;
        std::string seen;  // the idempotency key, when there is one
        std::string candidate;
    };
    std::size_t calls_count = 0;
    for (const Publication& publication : publications)
        calls_count += publication.uids.size();
    std::vector<User> users;
    users.reserve(calls_count);
    std::vector<Call> calls;
    calls.reserve(calls_count);
    for (const Publication& publication : publications) {
        const MessageBody& body = *publication.body;
        std::string_view kind = body_kind(body) == 's' ? "s" : "j";
        for (const std::string& uid : publication.uids) {
            User& user = users.emplace_back();
            user.keys = user_keys(uid);
            user.candidate = new_epoch();
            Call call{publication.idempotency_key ? "5" : "4", user.keys.meta, user.keys.stream,
                      user.keys.presence, user.keys.latest};
            if (publication.idempotency_key) {
                user.seen = cluster::idempotency_key(uid, *publication.idempotency_key);
                call.push_back(user.seen);
            }
            call.insert(call.end(),
                        {*run, user.candidate, history_size_, history_ttl_, idempotency_ttl_, kind,
                         body.data_json, user.keys.channel, body.key, dead});
            calls.push_back(std::move(call));
        }
    }
    if (calls.empty()) co_return outcomes;
    auto replies = co_await evaluate(ScriptId::publish, std::move(calls));
    if (!replies) co_return replies.error();

    std::size_t next = 0;
    for (std::size_t p = 0; p < publications.size(); ++p) {
        outcomes[p].reserve(publications[p].uids.size());
        for (std::size_t u = 0; u < publications[p].uids.size(); ++u) {
            const Reply& reply = (*replies)[next++];
            auto outcome = publish_outcome(reply);
            note(script(ScriptId::publish).name, reply, outcome ? error_code() : outcome.error());
            if (!outcome) co_return outcome.error();
            outcomes[p].push_back(std::move(*outcome));
        }
    }
    co_return outcomes;
}

awaitable<boost::system::result<StreamRead>> StreamStore::read(std::string uid,
                                                               std::optional<Since> since,
                                                               int presence_delta) {
    auto run = run_id();
    if (!run) co_return not_prepared;
    UserKeys keys = user_keys(uid);
    std::string candidate = new_epoch();
    std::string_view mode = !since ? "0" : since->epoch ? "2" : "1";
    std::string_view since_epoch = since && since->epoch ? std::string_view(*since->epoch) : "";
    std::string since_seq = std::to_string(since ? since->seq : 0);
    std::string delta = std::to_string(presence_delta);
    std::vector<Call> calls;
    calls.push_back(Call{"4", keys.meta, keys.stream, keys.presence, keys.latest, *run, candidate,
                         history_size_, history_ttl_, mode, since_epoch, since_seq, delta,
                         settings_.node_id, presence_ttl_});
    auto replies = co_await evaluate(ScriptId::read, std::move(calls));
    if (!replies) co_return replies.error();
    const Reply& reply = replies->front();
    auto read = stream_read(reply, since);
    note(script(ScriptId::read).name, reply, read ? error_code() : read.error());
    co_return read;
}

awaitable<boost::system::result<std::vector<StreamRead>>> StreamStore::read_after(
    std::vector<std::pair<std::string, Since>> users) {
    auto run = run_id();
    if (!run) co_return not_prepared;
    std::vector<StreamRead> reads;
    if (users.empty()) co_return reads;

    struct User {
        UserKeys keys;
        std::string candidate;
        std::string after;
    };
    std::vector<User> prepared;
    prepared.reserve(users.size());
    std::vector<Call> calls;
    calls.reserve(users.size());
    for (const auto& [uid, since] : users) {
        User& user =
            prepared.emplace_back(User{user_keys(uid), new_epoch(), std::to_string(since.seq)});
        std::string_view mode = since.epoch ? "2" : "1";
        std::string_view since_epoch = since.epoch ? std::string_view(*since.epoch) : "";
        calls.push_back(Call{"4", user.keys.meta, user.keys.stream, user.keys.presence,
                             user.keys.latest, *run, user.candidate, history_size_, history_ttl_,
                             mode, since_epoch, user.after, "0", settings_.node_id, presence_ttl_});
    }
    auto replies = co_await evaluate(ScriptId::read, std::move(calls));
    if (!replies) co_return replies.error();

    reads.reserve(replies->size());
    for (std::size_t i = 0; i < replies->size(); ++i) {
        const Reply& reply = (*replies)[i];
        auto read = stream_read(reply, users[i].second);
        note(script(ScriptId::read).name, reply, read ? error_code() : read.error());
        if (!read) co_return read.error();
        reads.push_back(std::move(*read));
    }
    co_return reads;
}

awaitable<boost::system::result<void>> StreamStore::set_presence(
    std::vector<std::pair<std::string, std::size_t>> counts) {
    if (!run_id()) co_return not_prepared;
    if (counts.empty()) co_return boost::system::result<void>();

    struct User {
        UserKeys keys;
        std::string count;
    };
    std::vector<User> users;
    users.reserve(counts.size());
    std::vector<Call> calls;
    calls.reserve(counts.size());
    for (const auto& [uid, count] : counts) {
        User& user = users.emplace_back(User{user_keys(uid), std::to_string(count)});
        calls.push_back(Call{"2", user.keys.presence, user.keys.meta, settings_.node_id, user.count,
                             presence_ttl_, history_ttl_});
    }
    auto replies = co_await evaluate(ScriptId::set_presence, std::move(calls));
    if (!replies) co_return replies.error();
    for (const Reply& reply : *replies) {
        auto done = done_reply(reply);
        note(script(ScriptId::set_presence).name, reply, done ? error_code() : done.error());
        if (!done) co_return done.error();
    }
    co_return boost::system::result<void>();
}

awaitable<boost::system::result<std::size_t>> StreamStore::presence(std::string uid) {
    if (!run_id()) co_return not_prepared;
    UserKeys keys = user_keys(uid);
    std::string dead = dead_nodes();
    std::vector<Call> calls;
    calls.push_back(Call{"1", keys.presence, dead});
    auto replies = co_await evaluate(ScriptId::presence, std::move(calls));
    if (!replies) co_return replies.error();
    const Reply& reply = replies->front();
    auto count = count_reply(reply);
    note(script(ScriptId::presence).name, reply, count ? error_code() : count.error());
    co_return count;
}

awaitable<boost::system::result<bool>> StreamStore::acknowledge(std::string uid,
                                                                std::uint64_t seq) {
    // In place: a bool could be made from an error_code too.
    using Moved = boost::system::result<bool>;
    if (!run_id()) co_return Moved(boost::system::in_place_error, not_prepared);
    UserKeys keys = user_keys(uid);
    std::string seq_text = std::to_string(seq);  // the call holds views: named, so it outlives them
    std::vector<Call> calls;
    calls.push_back(Call{"2", keys.meta, keys.ack_wait, seq_text, uid, acks_channel});
    auto replies = co_await evaluate(ScriptId::ack, std::move(calls));
    if (!replies) co_return Moved(boost::system::in_place_error, replies.error());
    const Reply& reply = replies->front();
    auto moved = count_reply(reply);
    note(script(ScriptId::ack).name, reply, moved ? error_code() : moved.error());
    if (!moved) co_return Moved(boost::system::in_place_error, moved.error());
    co_return *moved == 1;
}

awaitable<boost::system::result<std::uint64_t>> StreamStore::announce_acks(std::string uid,
                                                                           Duration ttl) {
    if (!run_id()) co_return not_prepared;
    UserKeys keys = user_keys(uid);
    std::string ttl_text = std::to_string(std::max<Duration::rep>(ttl.count(), 1));
    std::vector<Call> calls;
    calls.push_back(Call{"2", keys.meta, keys.ack_wait, ttl_text});
    auto replies = co_await evaluate(ScriptId::wait_for_ack, std::move(calls));
    if (!replies) co_return replies.error();
    const Reply& reply = replies->front();
    auto acked = count_reply(reply);
    note(script(ScriptId::wait_for_ack).name, reply, acked ? error_code() : acked.error());
    if (!acked) co_return acked.error();
    co_return static_cast<std::uint64_t>(*acked);
}

awaitable<boost::system::result<std::uint64_t>> StreamStore::acked_seq(std::string uid) {
    if (!run_id()) co_return not_prepared;
    redis::Command command{"HGET", user_keys(uid).meta, "a"};
    auto reply = co_await redis_.exec(std::move(command));
    if (!reply) co_return reply.error();
    if (reply->is_nil()) co_return std::uint64_t{0};
    std::uint64_t seq = 0;
    const std::string& text = reply->text;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seq);
    if (reply->is_error() || error != std::errc() || end != text.data() + text.size())
        co_return make_error_code(StoreError::bad_reply);
    co_return seq;
}

awaitable<boost::system::result<Heartbeat>> StreamStore::heartbeat() {
    if (!run_id()) co_return not_prepared;
    std::vector<Call> calls;
    calls.push_back(Call{"1", nodes_key, settings_.node_id, node_ttl_, dead_kept_});
    auto replies = co_await evaluate(ScriptId::heartbeat, std::move(calls));
    if (!replies) co_return replies.error();
    const Reply& reply = replies->front();
    auto read = heartbeat_reply(reply);
    note(script(ScriptId::heartbeat).name, reply, read ? error_code() : read.error());
    if (!read) co_return read.error();
    std::lock_guard lock(mutex_);
    dead_nodes_ = std::move(read->dead_nodes);
    co_return read->heartbeat;
}

}  // namespace herald::cluster
