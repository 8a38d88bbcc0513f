// CPU time and memory of the server under test, read from /proc of its own processes, and the
// benchmark's own CPU, so that a result says what the server spent and how busy the machine
// was around it.
#pragma once

#include <cstdint>
#include <vector>

namespace herald::bench {

struct Memory {
    std::int64_t rss_kib = 0;  // VmRSS summed: pages shared between processes count twice
    std::int64_t pss_kib = 0;  // Pss from smaps_rollup: shared pages split, fair for nginx
};

// The server: one or more root processes and all their live descendants (nginx's workers are
// children of the master whose PID the orchestration holds).
class ServerProcesses {
  public:
    ServerProcesses() = default;
    explicit ServerProcesses(std::vector<int> roots) : roots_(std::move(roots)) {}

    bool enabled() const { return !roots_.empty(); }
    // utime + stime of every process, plus what the roots' reaped children used.
    double cpu_seconds() const;
    // The same from /proc/<pid>/task/*/schedstat, in nanoseconds rather than 10 ms ticks: for
    // windows short enough that ticks are coarse. Threads that have exited are missing.
    double scheduled_seconds() const;
    Memory memory() const;
    // Whether every root process still exists.
    bool alive() const;

  private:
    std::vector<int> members() const;
    std::vector<int> roots_;
};

double own_cpu_seconds();
// CPU of this process's children that have been waited for (the conns workers).
double children_cpu_seconds();
std::int64_t own_rss_kib();

// Busy CPU of the whole machine, from /proc/stat, in seconds (all CPUs added up).
double machine_busy_seconds();

// What the server, this process and everything else on the machine used over one window.
class CpuWindow {
  public:
    explicit CpuWindow(const ServerProcesses& server);

    struct Usage {
        double wall_seconds = 0;
        double server_seconds = 0;            // utime + stime
        double server_scheduled_seconds = 0;  // schedstat
        double own_seconds = 0;
        double machine_busy_cores = 0;
        double other_busy_cores = 0;  // neither the server nor this process: noise
    };
    // `extra_own_seconds` is CPU of helpers that belong to the benchmark (conns workers).
    Usage end(double extra_own_seconds = 0) const;

  private:
    const ServerProcesses& server_;
    std::int64_t start_ns_;
    double server_start_, server_scheduled_start_, own_start_, machine_start_;
};

}  // namespace herald::bench
