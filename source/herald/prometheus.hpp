// /metrics: Herald's counters, gauges and the process's own figures in the Prometheus text
// exposition format (version 0.0.4). Written by hand: the format is a few lines of text, and a
// client library would bring a registry, a web server and their dependencies.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "herald/engine.hpp"
#include "herald/hub.hpp"
#include "herald/metrics.hpp"

namespace herald {

inline constexpr std::string_view prometheus_content_type =
    "text/plain; version=0.0.4; charset=utf-8";

// The process's own figures, as Prometheus's client libraries name them (process_*).
struct ProcessStats {
    double cpu_seconds = 0;
    std::uint64_t resident_memory_bytes = 0;
    std::uint64_t virtual_memory_bytes = 0;
    std::uint64_t open_fds = 0;
    std::uint64_t max_fds = 0;
    double start_time_seconds = 0;  // since 1970
};

// From /proc/self (and the open-file limit); nothing when /proc cannot be read.
std::optional<ProcessStats> read_process_stats();

// Herald's version (the project's, from CMake): herald_build_info's label.
std::string_view build_version();

// What the exposition says besides the counters.
struct ExpositionContext {
    HubStats hub;
    EngineStats engine;
    std::optional<ProcessStats> process;
    std::string_view version;  // herald_build_info
    bool cluster = false;      // --redis: the Redis engine's counters are shown too
};

// The whole exposition: HELP and TYPE for each family, then its samples.
std::string render_prometheus(const Metrics& metrics, const ExpositionContext& context);

// A label value as the format wants it: backslash, double quote and line feed escaped.
std::string escape_label_value(std::string_view value);

}  // namespace herald
