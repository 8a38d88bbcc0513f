// What a single node remembers of the publishes that carried an Idempotency-Key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "herald/net.hpp"

namespace herald {

// The outcome of one user's part of a publish, as its first attempt had it.
struct Remembered {
    std::uint64_t seq = 0;
    std::size_t delivered = 0;
};

// Per (user, key): the first attempt's outcome, for `ttl`, and for at most `most` keys (past it,
// the oldest are forgotten first). A plain class: the time is passed in.
class Idempotency {
  public:
    Idempotency(Duration ttl, std::size_t most) : ttl_(ttl), most_(most) {}

    std::optional<Remembered> find(std::string_view uid, std::string_view key) const;
    void remember(std::string_view uid, std::string_view key, Remembered outcome,
                  Clock::time_point now);
    void expire(Clock::time_point now);
    std::size_t size() const { return outcomes_.size(); }

  private:
    static std::string entry_of(std::string_view uid, std::string_view key);

    Duration ttl_;
    std::size_t most_;
    std::unordered_map<std::string, Remembered> outcomes_;
    std::deque<std::pair<Clock::time_point, std::string>> by_age_;  // oldest first
};

}  // namespace herald
