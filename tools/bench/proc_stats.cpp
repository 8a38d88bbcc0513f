#include "proc_stats.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "payload.hpp"

namespace herald::bench {
namespace {

double clock_ticks_per_second() {
    static const double ticks = double(sysconf(_SC_CLK_TCK));
    return ticks;
}

struct ProcStat {
    int ppid = 0;
    double utime = 0, stime = 0, cutime = 0, cstime = 0;  // clock ticks
};

// /proc/<pid>/stat: the command name is in parentheses and may hold spaces, so the fields are
// counted from the last ')'.
bool read_stat(int pid, ProcStat& stat) {
    std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(file, text)) return false;
    auto close = text.rfind(')');
    if (close == std::string::npos) return false;
    std::istringstream fields(text.substr(close + 1));
    std::string field;
    // After ')': state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17).
    for (int number = 3; number <= 17 && fields >> field; ++number) {
        if (number == 4) stat.ppid = std::atoi(field.c_str());
        if (number == 14) stat.utime = std::atof(field.c_str());
        if (number == 15) stat.stime = std::atof(field.c_str());
        if (number == 16) stat.cutime = std::atof(field.c_str());
        if (number == 17) stat.cstime = std::atof(field.c_str());
    }
    return true;
}

// The number after `key` in a "Key:   1234 kB" file (status, smaps_rollup), or 0.
std::int64_t read_kib(const std::string& path, std::string_view key) {
    std::ifstream file(path);
    std::string line;
    while (std::getline(file, line)) {
        if (line.compare(0, key.size(), key) != 0) continue;
        return std::atoll(line.c_str() + key.size());
    }
    return 0;
}

}  // namespace

std::vector<int> ServerProcesses::members() const {
    // Scanning /proc for parent links works on every kernel, unlike /proc/<pid>/task/*/children.
    std::map<int, int> parent_of;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
        const std::string name = entry.path().filename().string();
        int pid = 0;
        auto [end, parse_error] = std::from_chars(name.data(), name.data() + name.size(), pid);
        if (parse_error != std::errc{} || end != name.data() + name.size()) continue;
        ProcStat stat;
        if (read_stat(pid, stat)) parent_of[pid] = stat.ppid;
    }
    std::vector<int> members = roots_;
    for (bool grew = true; grew;) {
        grew = false;
        for (auto [pid, ppid] : parent_of) {
            bool known = std::find(members.begin(), members.end(), pid) != members.end();
            bool parent_known = std::find(members.begin(), members.end(), ppid) != members.end();
            if (!known && parent_known) {
                members.push_back(pid);
                grew = true;
            }
        }
    }
    return members;
}

double ServerProcesses::cpu_seconds() const {
    double ticks = 0;
    for (int pid : members()) {
        ProcStat stat;
        if (!read_stat(pid, stat)) continue;
        ticks += stat.utime + stat.stime;
        if (std::find(roots_.begin(), roots_.end(), pid) != roots_.end())
            ticks += stat.cutime + stat.cstime;
    }
    return ticks / clock_ticks_per_second();
}

double ServerProcesses::scheduled_seconds() const {
    double nanoseconds = 0;
    for (int pid : members()) {
        std::error_code error;
        const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
        for (const auto& task : std::filesystem::directory_iterator(tasks, error)) {
            std::ifstream schedstat(task.path() / "schedstat");
            double on_cpu = 0;  // the first field: time spent running, in ns
            if (schedstat >> on_cpu) nanoseconds += on_cpu;
        }
    }
    return nanoseconds / 1e9;
}

Memory ServerProcesses::memory() const {
    Memory memory;
    for (int pid : members()) {
        const std::string base = "/proc/" + std::to_string(pid);
        memory.rss_kib += read_kib(base + "/status", "VmRSS:");
        memory.pss_kib += read_kib(base + "/smaps_rollup", "Pss:");
    }
    return memory;
}

bool ServerProcesses::alive() const {
    if (roots_.empty()) return true;
    return std::all_of(roots_.begin(), roots_.end(), [](int pid) {
        ProcStat stat;
        return read_stat(pid, stat);
    });
}

namespace {
double seconds_of(const rusage& usage) {
    return double(usage.ru_utime.tv_sec) + double(usage.ru_utime.tv_usec) / 1e6 +
           double(usage.ru_stime.tv_sec) + double(usage.ru_stime.tv_usec) / 1e6;
}
}  // namespace

double own_cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return seconds_of(usage);
}

double children_cpu_seconds() {
    rusage usage{};
    getrusage(RUSAGE_CHILDREN, &usage);
    return seconds_of(usage);
}

std::int64_t own_rss_kib() {
    return read_kib("/proc/self/status", "VmRSS:");
}

double machine_busy_seconds() {
    std::ifstream file("/proc/stat");
    std::string cpu;
    file >> cpu;  // "cpu": all CPUs added up
    double busy = 0;
    // user nice system idle iowait irq softirq steal; guest time is already inside user.
    for (int column = 0; column < 8; ++column) {
        double ticks = 0;
        if (!(file >> ticks)) break;
        if (column != 3 && column != 4) busy += ticks;
    }
    return busy / clock_ticks_per_second();
}

CpuWindow::CpuWindow(const ServerProcesses& server)
    : server_(server),
      start_ns_(now_ns()),
      server_start_(server.cpu_seconds()),
      server_scheduled_start_(server.scheduled_seconds()),
      own_start_(own_cpu_seconds()),
      machine_start_(machine_busy_seconds()) {}

CpuWindow::Usage CpuWindow::end(double extra_own_seconds) const {
    Usage usage;
    usage.wall_seconds = double(now_ns() - start_ns_) / 1e9;
    usage.server_seconds = server_.cpu_seconds() - server_start_;
    usage.server_scheduled_seconds = server_.scheduled_seconds() - server_scheduled_start_;
    usage.own_seconds = own_cpu_seconds() - own_start_ + extra_own_seconds;
    if (usage.wall_seconds <= 0) return usage;
    usage.machine_busy_cores = (machine_busy_seconds() - machine_start_) / usage.wall_seconds;
    double others =
        usage.machine_busy_cores - (usage.server_seconds + usage.own_seconds) / usage.wall_seconds;
    usage.other_busy_cores = std::max(0.0, others);
    return usage;
}

}  // namespace herald::bench
