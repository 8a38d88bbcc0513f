// How long to wait before the next reconnection attempt.
#pragma once

#include <cstdint>
#include <random>

#include "herald/redis/settings.hpp"

namespace herald::redis {

// Exponential backoff with full jitter: attempt n waits a uniformly random time in
// [0, min(most, first * 2^n)]. The randomness spreads the reconnections of many nodes (and of
// a node's several connections) after a Redis restart, instead of having them all knock at
// once, again and again.
class Backoff {
  public:
    Backoff(Duration first, Duration most, std::uint64_t seed = std::random_device{}());

    // The wait before the next attempt; each call doubles the bound until it reaches `most`.
    Duration next();
    // After a success: the next failure starts from `first` again.
    void reset() { ceiling_ = first_; }

    Duration ceiling() const { return ceiling_; }

  private:
    Duration first_;
    Duration most_;
    Duration ceiling_;
    std::mt19937_64 random_;
};

}  // namespace herald::redis
