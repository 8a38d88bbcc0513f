#include "result.hpp"

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <random>

#include <boost/json/serialize.hpp>

namespace herald::bench {

void ErrorCounter::add(std::string_view kind, const error_code& error) {
    add(kind, error.message());
}

void ErrorCounter::add(std::string_view kind, std::string_view message, std::uint64_t count) {
    std::string key(kind);
    key += ": ";
    key += message;
    counts_[key] += count;
}

void ErrorCounter::merge(const boost::json::array& lines) {
    for (const auto& line : lines) {
        if (!line.is_string()) continue;
        std::string_view text = line.as_string();
        auto x = text.find("x ");
        std::uint64_t count = 1;
        if (x != std::string_view::npos) {
            count = std::strtoull(std::string(text.substr(0, x)).c_str(), nullptr, 10);
            text.remove_prefix(x + 2);
        }
        counts_[std::string(text)] += count;
    }
}

std::uint64_t ErrorCounter::total() const {
    std::uint64_t total = 0;
    for (const auto& [key, count] : counts_)
        total += count;
    return total;
}

boost::json::array ErrorCounter::to_json() const {
    boost::json::array lines;
    for (const auto& [key, count] : counts_)
        lines.emplace_back(std::to_string(count) + "x " + key);
    return lines;
}

void publish_result(boost::json::object& result, const CommonOptions& options,
                    const std::string& summary) {
    std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    char time[32];
    std::strftime(time, sizeof time, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    result["time"] = time;
    result["label"] = options.label;
    result["adapter"] = options.adapter_name();
    result["run"] = options.run;
    if (!options.note.empty()) result["note"] = options.note;
    std::string line = boost::json::serialize(result);
    std::cout << line << std::endl;
    if (!options.out.empty()) {
        std::ofstream out(options.out, std::ios::app);
        out << line << '\n';
        if (!out) std::cerr << "herald-bench: cannot append to " << options.out << '\n';
    }
    std::cerr << options.label << " " << summary << '\n';
}

std::string random_uid_prefix() {
    std::random_device random;
    char prefix[16];
    std::snprintf(prefix, sizeof prefix, "b%08x-", random());
    return prefix;
}

void raise_descriptor_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
}

}  // namespace herald::bench
