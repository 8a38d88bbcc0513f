#include "herald/redis/backoff.hpp"

#include <algorithm>

namespace herald::redis {

// A zero first bound would never grow: retries in a tight loop against a server that is down.
Backoff::Backoff(Duration first, Duration most, std::uint64_t seed)
    : first_(std::max(first, Duration(1))),
      most_(std::max(most, first_)),
      ceiling_(first_),
      random_(seed) {}

Duration Backoff::next() {
    std::uniform_int_distribution<Duration::rep> pick(0, ceiling_.count());
    Duration wait(pick(random_));
    ceiling_ = std::min(most_, ceiling_ * 2);
    return wait;
}

}  // namespace herald::redis
