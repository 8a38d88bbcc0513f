// How fast a client may send frames.
#pragma once

#include <algorithm>
#include <chrono>

#include "herald/net.hpp"

namespace herald {

// A token bucket for the frames a client sends: `rate` a second, in bursts of twice that.
class InboundLimit {
  public:
    explicit InboundLimit(unsigned rate) : rate_(rate), tokens_(2.0 * rate), last_(Clock::now()) {}

    bool allow() {
        auto now = Clock::now();
        double elapsed = std::chrono::duration<double>(now - last_).count();
        last_ = now;
        tokens_ = std::min(2.0 * rate_, tokens_ + elapsed * rate_);
        if (tokens_ < 1.0) return false;
        tokens_ -= 1.0;
        return true;
    }

  private:
    double rate_;
    double tokens_;
    Clock::time_point last_;
};

}  // namespace herald
