#include "latency.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace herald::bench {

void LatencySamples::append(const LatencySamples& other) {
    samples_.insert(samples_.end(), other.samples_.begin(), other.samples_.end());
}

Percentiles LatencySamples::percentiles() {
    Percentiles result;
    result.count = samples_.size();
    if (samples_.empty()) return result;
    std::sort(samples_.begin(), samples_.end());
    auto at = [&](double quantile) {
        auto rank = static_cast<std::size_t>(std::ceil(quantile * double(samples_.size())));
        std::size_t index = rank == 0 ? 0 : std::min(rank, samples_.size()) - 1;
        return double(samples_[index]) / 1e3;
    };
    result.p50_us = at(0.50);
    result.p90_us = at(0.90);
    result.p99_us = at(0.99);
    result.p999_us = at(0.999);
    result.max_us = double(samples_.back()) / 1e3;
    return result;
}

void put_percentiles(boost::json::object& out, const char* prefix, const Percentiles& p) {
    std::string key(prefix);
    out[key + "_p50_us"] = p.p50_us;
    out[key + "_p90_us"] = p.p90_us;
    out[key + "_p99_us"] = p.p99_us;
    out[key + "_p999_us"] = p.p999_us;
    out[key + "_max_us"] = p.max_us;
}

}  // namespace herald::bench
