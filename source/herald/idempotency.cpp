#include "herald/idempotency.hpp"

namespace herald {

// A uid never holds a NUL (control characters are refused), so the pair cannot be confused.
std::string Idempotency::entry_of(std::string_view uid, std::string_view key) {
    std::string entry;
    entry.reserve(uid.size() + 1 + key.size());
    entry.append(uid);
    entry += '\0';
    entry.append(key);
    return entry;
}

std::optional<Remembered> Idempotency::find(std::string_view uid, std::string_view key) const {
    auto found = outcomes_.find(entry_of(uid, key));
    if (found == outcomes_.end()) return std::nullopt;
    return found->second;
}

void Idempotency::remember(std::string_view uid, std::string_view key, Remembered outcome,
                           Clock::time_point now) {
    if (most_ == 0) return;
    while (outcomes_.size() >= most_ && !by_age_.empty()) {
        outcomes_.erase(by_age_.front().second);
        by_age_.pop_front();
    }
    auto [entry, added] = outcomes_.try_emplace(entry_of(uid, key), outcome);
    if (added) by_age_.emplace_back(now, entry->first);
}

void Idempotency::expire(Clock::time_point now) {
    while (!by_age_.empty() && now - by_age_.front().first >= ttl_) {
        outcomes_.erase(by_age_.front().second);
        by_age_.pop_front();
    }
}

}  // namespace herald
