#include "herald/history.hpp"

#include <cstdio>
#include <random>

namespace herald {
namespace {

// Random, so that a restarted server never hands out an epoch a client saw before it.
std::string new_epoch_prefix() {
    std::random_device random;
    std::uniform_int_distribution<std::uint32_t> digits;
    char text[20];
    std::snprintf(text, sizeof text, "%08x%08x", digits(random), digits(random));
    return text;
}

// What a kept message counts against the byte budget. A body shared by many users counts for
// each: the bound errs on the safe side.
std::size_t bytes_of(const Delivery& delivery) {
    return delivery.size(Protocol::json) + delivery.body->text.size();
}

}  // namespace

HistoryLimits history_limits(const Config& config) {
    return {config.history_size, config.history_ttl, config.history_max_bytes};
}

History::History(HistoryLimits limits) : limits_(limits), epoch_prefix_(new_epoch_prefix()) {}

History::Entry& History::stream_for(const std::string& uid, Clock::time_point now) {
    auto [found, made] = streams_.try_emplace(uid);
    Stream& stream = found->second;
    if (made) stream.epoch = epoch_prefix_ + "-" + std::to_string(++streams_made_);
    stream.last_used = now;
    return *found;
}

void History::pin(const std::string& uid, Clock::time_point now) {
    stream_for(uid, now).second.pinned = true;
}

void History::unpin(const std::string& uid, Clock::time_point now) {
    auto found = streams_.find(uid);
    if (found == streams_.end()) return;
    found->second.pinned = false;
    found->second.last_used = now;
    left_.emplace_back(now, found->first);
}

DeliveryPtr History::append(const std::string& uid, MessageBodyPtr body, Clock::time_point now,
                            std::int64_t time_ms) {
    auto found = streams_.find(uid);
    if (found == streams_.end() && limits_.messages == 0) return nullptr;
    Entry& entry = found != streams_.end() ? *found : stream_for(uid, now);
    Stream& stream = entry.second;
    stream.last_used = now;
    DeliveryPtr delivery = make_delivery(std::move(body), ++stream.last_seq, time_ms);
    if (limits_.messages != 0)
        keep(entry, delivery, now);
    else
        stream.evicted_through = delivery->seq;  // nothing is kept
    return delivery;
}

Replay History::replay(const std::string& uid, const std::optional<Since>& since,
                       Clock::time_point now) {
    Entry& entry = stream_for(uid, now);
    const Stream& stream = entry.second;
    // A stream made here for a resume alone goes a TTL from now, like one its user left.
    if (stream.unused() && stream.last_seq == 0) left_.emplace_back(now, entry.first);
    Replay replay;
    replay.position.epoch = stream.epoch;
    replay.position.seq = stream.last_seq;
    if (!since) return replay;

    bool same_stream = !since->epoch || *since->epoch == stream.epoch;
    std::uint64_t after = same_stream ? since->seq : 0;  // another epoch: everything kept is new
    // A seq without an epoch cannot prove which stream it counts in (seq 0, everything kept,
    // needs no proof): what is kept after it is sent, but not as a recovery. Nothing evicted
    // after the client's seq: the messages a newer one with their key made obsolete were not
    // missed, the newer one stands for them.
    bool proven = since->epoch || since->seq == 0;
    replay.position.recovered = same_stream && proven && since->seq <= stream.last_seq &&
                                since->seq >= stream.evicted_through;
    for (const Kept& kept : stream.kept)
        if (kept.delivery->seq > after) replay.messages.push_back(kept.delivery);
    return replay;
}

bool History::acknowledge(const std::string& uid, std::uint64_t seq) {
    auto found = streams_.find(uid);
    if (found == streams_.end()) return false;
    Stream& stream = found->second;
    if (seq <= stream.acked_seq || seq > stream.last_seq) return false;
    stream.acked_seq = seq;
    return true;
}

std::uint64_t History::acked(const std::string& uid) const {
    auto found = streams_.find(uid);
    return found == streams_.end() ? 0 : found->second.acked_seq;
}

void History::keep(Entry& entry, DeliveryPtr delivery, Clock::time_point now) {
    Stream& stream = entry.second;
    std::size_t bytes = bytes_of(*delivery);
    if (bytes > limits_.bytes) {
        // Keeping it would evict everyone's history and then itself. A stream made for it alone
        // goes a TTL from now, like one its last connection left.
        stream.evicted_through = delivery->seq;
        if (stream.unused()) left_.emplace_back(now, entry.first);
        return;
    }
    // Latest wins: the kept message with the same key is obsolete.
    if (const std::string& key = delivery->body->key; !key.empty()) {
        for (std::size_t i = 0; i < stream.kept.size(); ++i) {
            if (stream.kept[i].delivery->body->key != key) continue;
            erase_kept(entry, i);
            break;  // there is at most one: each keyed message replaces the one before it
        }
    }
    std::uint64_t order = ++kept_count_;
    if (stream.kept.empty()) stream.oldest_entry = oldest_.emplace(order, &entry.first).first;
    bytes_ += bytes;
    ++messages_;
    stream.kept.push_back({order, bytes, now, std::move(delivery)});
    if (stream.kept.size() > limits_.messages) forget_oldest(entry);
    // Over the budget, the oldest messages of all go first, whoever they were for. The newest
    // fits on its own (checked above), so this never forgets the message just kept.
    while (bytes_ > limits_.bytes && !oldest_.empty()) {
        const std::string* owner = oldest_.begin()->second;
        auto found = streams_.find(*owner);
        forget_oldest(*found);
        if (owner != &entry.first) drop_if_unused(found);
    }
}

void History::forget_oldest(Entry& entry) {
    Stream& stream = entry.second;
    stream.evicted_through = stream.kept.front().delivery->seq;
    erase_kept(entry, 0);
}

void History::erase_kept(Entry& entry, std::size_t index) {
    Stream& stream = entry.second;
    bytes_ -= stream.kept[index].bytes;
    --messages_;
    if (index != 0) {
        stream.kept.erase(stream.kept.begin() + static_cast<std::ptrdiff_t>(index));
        return;
    }
    // The stream's key moves on to its next message in a node taken out and put back, not
    // freed and allocated again: a full history does this on every publish.
    auto key = oldest_.extract(stream.oldest_entry);
    stream.kept.pop_front();
    if (stream.kept.empty()) {
        stream.kept.shrink_to_fit();  // an idle user's stream holds no block
        return;
    }
    key.value().first = stream.kept.front().order;
    stream.oldest_entry = oldest_.insert(std::move(key)).position;
}

// A stream evicted under the byte budget goes at once if nothing else holds it: its epoch goes
// with it, so a client that comes back later learns that it may have missed something.
void History::drop_if_unused(Streams::iterator found) {
    if (found->second.unused()) streams_.erase(found);
}

// For a stream that may have become unused: it goes if it has not been used since `idle_since`;
// otherwise it is looked at again a TTL from now.
void History::drop_if_unused_since(Streams::iterator found, Clock::time_point idle_since,
                                   Clock::time_point now) {
    const Stream& stream = found->second;
    if (!stream.unused()) return;
    if (stream.last_used < idle_since)
        streams_.erase(found);
    else
        left_.emplace_back(now, found->first);
}

void History::expire(Clock::time_point now) {
    auto cutoff = now - limits_.ttl;
    // The oldest of all first: once one is young enough, so are the rest.
    while (!oldest_.empty()) {
        auto found = streams_.find(*oldest_.begin()->second);
        if (found->second.kept.front().at >= cutoff) break;
        forget_oldest(*found);
        drop_if_unused_since(found, cutoff, now);
    }
    // Only the streams left unused a TTL ago are looked at, not every stream: with churn there
    // are many more streams kept than users connected.
    while (!left_.empty() && left_.front().first < cutoff) {
        auto found = streams_.find(left_.front().second);
        left_.pop_front();
        if (found != streams_.end()) drop_if_unused_since(found, cutoff, now);
    }
}

HistoryStats History::stats() const {
    return {streams_.size(), oldest_.size(), messages_, bytes_};
}

}  // namespace herald
