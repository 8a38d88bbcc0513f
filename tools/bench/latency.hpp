// Latency samples, kept whole: percentiles come from the sorted samples, not from a histogram,
// so p99.9 and max are exact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <boost/json/object.hpp>

namespace herald::bench {

struct Percentiles {
    std::size_t count = 0;
    double p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
};

class LatencySamples {
  public:
    void add(std::int64_t nanoseconds) { samples_.push_back(nanoseconds); }
    void append(const LatencySamples& other);
    void reserve(std::size_t count) { samples_.reserve(count); }
    std::size_t size() const { return samples_.size(); }

    // Nearest-rank percentiles: p99 of 1000 samples is the 990th smallest. Sorts the samples.
    Percentiles percentiles();

  private:
    std::vector<std::int64_t> samples_;  // nanoseconds
};

// Adds <prefix>_p50_us, _p90_us, _p99_us, _p999_us and _max_us to `out`.
void put_percentiles(boost::json::object& out, const char* prefix, const Percentiles& p);

}  // namespace herald::bench
