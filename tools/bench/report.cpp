// report: the markdown of docs/benchmarks.md from the JSON lines the scenarios append. One table
// per scenario with a column per server (median over runs), the ratios baseline / peer, the
// issue's targets next to the measured figures, the cluster (the baseline's nodes sharing a
// Redis) beside one node, the scale test, and the runs that lost or failed something.
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include <boost/json/parse.hpp>

#include "scenario.hpp"

namespace herald::bench {
namespace {

namespace json = boost::json;

struct Run {
    std::string server;  // the label without its setting ("+burst", "+crowd")
    json::object data;
};

// Where a scenario ran: on a fresh server, right after a burst (a fanout on the same server
// process), beside many idle connections that another client process holds, or driven by the
// Go load generator of ../shared/peers instead of herald-bench (a client no one here tuned).
enum class Setting { plain, burst, crowd, loadgen };

Setting setting_of(const std::string& label) {
    if (label.find("+burst") != std::string::npos) return Setting::burst;
    if (label.find("+crowd") != std::string::npos) return Setting::crowd;
    if (label.find("+loadgen") != std::string::npos) return Setting::loadgen;
    return Setting::plain;
}

// A table: one scenario at one size in one setting.
struct Section {
    std::string scenario;
    std::int64_t target = 0;  // conns N
    Setting setting = Setting::plain;
    std::string title;
    std::map<std::string, std::vector<const Run*>> runs;  // by server
};

enum class Better { higher, lower, none };

struct Metric {
    std::string name;
    Better better;
    int precision;
    std::function<std::optional<double>(const json::object&)> value;
    bool ratio = true;  // worth a ratio (a count of lost messages is not)
};

std::optional<double> number(const json::object& data, const char* key) {
    const auto* value = data.if_contains(key);
    if (!value || !value->is_number()) return std::nullopt;
    return value->to_number<double>();
}

bool unsupported(const json::object& data) {
    const auto* supported = data.if_contains("supported");
    return supported && supported->is_bool() && !supported->as_bool();
}

auto field(const char* key, double scale = 1) {
    return [key, scale](const json::object& data) -> std::optional<double> {
        if (unsupported(data)) return std::nullopt;
        auto value = number(data, key);
        if (value) *value *= scale;
        return value;
    };
}

// The load generator of ../shared/peers writes the same fields as herald-bench but for these
// two, which are derived there from what both write.
std::optional<double> cpu_per_delivery(const json::object& data) {
    if (auto value = number(data, "server_cpu_us_per_delivery")) return value;
    auto cpu = number(data, "server_cpu_sec"), delivered = number(data, "delivered");
    if (!cpu || !delivered || *delivered == 0) return std::nullopt;
    return *cpu * 1e6 / *delivered;
}

std::optional<double> client_cpu_pct(const json::object& data) {
    if (auto value = number(data, "bench_cpu_pct")) return value;
    return number(data, "loadgen_cpu_pct");
}

// loadgen leaves out a count of lost messages that is zero.
std::optional<double> lost_messages(const json::object& data) {
    if (auto value = number(data, "lost")) return value;
    auto published = number(data, "published"), delivered = number(data, "delivered");
    if (!published || !delivered) return std::nullopt;
    return *published - *delivered;
}

std::vector<Metric> metrics_for(const std::string& scenario) {
    if (scenario == "conns") {
        auto verified = [](const json::object& data) -> std::optional<double> {
            auto verified = number(data, "verified"), tried = number(data, "verify_tried");
            if (!verified || !tried || *tried == 0) return std::nullopt;
            return 100 * *verified / *tried;
        };
        return {
            {"connections held", Better::higher, 0, field("connected")},
            {"probes verified, %", Better::higher, 1, verified, false},
            {"connect rate, conns/s", Better::higher, 0, field("conns_per_sec")},
            {"server RSS per connection, KiB", Better::lower, 2,
             field("rss_per_conn_b", 1 / 1024.)},
            {"server PSS per connection, KiB", Better::lower, 2,
             field("pss_per_conn_b", 1 / 1024.)},
            {"server CPU per connection, µs", Better::lower, 1, field("server_cpu_us_per_conn")},
            {"dial time, s", Better::none, 2, field("dial_sec")},
        };
    }
    if (scenario == "fanout") {
        return {
            {"publishes/s", Better::higher, 0, field("pub_per_sec")},
            {"deliveries/s", Better::higher, 0, field("deliv_per_sec")},
            {"server CPU per delivery, µs", Better::lower, 2, cpu_per_delivery},
            {"latency p50, ms", Better::lower, 3, field("lat_p50_us", 1e-3)},
            {"latency p99, ms", Better::lower, 3, field("lat_p99_us", 1e-3)},
            {"latency p99.9, ms", Better::lower, 3, field("lat_p999_us", 1e-3)},
            {"latency max, ms", Better::lower, 3, field("lat_max_us", 1e-3)},
            {"lost messages", Better::lower, 0, lost_messages, false},
            {"server CPU, % of a core", Better::none, 0, field("server_cpu_pct")},
            {"load generator CPU, % of a core", Better::none, 0, client_cpu_pct},
            {"other processes, busy cores", Better::none, 2, field("other_busy_cores")},
        };
    }
    if (scenario == "latency") {
        return {
            {"latency p50, ms", Better::lower, 3, field("lat_p50_us", 1e-3)},
            {"latency p90, ms", Better::lower, 3, field("lat_p90_us", 1e-3)},
            {"latency p99, ms", Better::lower, 3, field("lat_p99_us", 1e-3)},
            {"latency p99.9, ms", Better::lower, 3, field("lat_p999_us", 1e-3)},
            {"latency max, ms", Better::lower, 3, field("lat_max_us", 1e-3)},
            {"server CPU, % of a core", Better::lower, 1, field("server_cpu_pct")},
            {"lost messages", Better::lower, 0, lost_messages, false},
            {"pacer lag p99, ms", Better::none, 3, field("pacer_lag_p99_us", 1e-3)},
            {"other processes, busy cores", Better::none, 2, field("other_busy_cores")},
        };
    }
    return {
        {"deliveries/s", Better::higher, 0, field("deliv_per_sec")},
        {"server CPU per delivery, µs", Better::lower, 3, field("server_cpu_us_per_delivery")},
        {"the same from schedstat (ns, not 10 ms ticks), µs", Better::lower, 3,
         field("server_cpu_us_per_delivery_schedstat")},
        {"latency p50 (POST to receipt), ms", Better::lower, 2, field("lat_p50_us", 1e-3)},
        {"latency p99, ms", Better::lower, 2, field("lat_p99_us", 1e-3)},
        {"latency max, ms", Better::lower, 2, field("lat_max_us", 1e-3)},
        {"lost messages", Better::lower, 0, lost_messages, false},
    };
}

const char* better_text(Better better) {
    switch (better) {
        case Better::higher:
            return "higher is better";
        case Better::lower:
            return "lower is better";
        default:
            return "";
    }
}

std::string fixed(double value, int precision) {
    std::ostringstream text;
    text << std::fixed << std::setprecision(precision) << value;
    return text.str();
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    std::size_t middle = values.size() / 2;
    return values.size() % 2 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

struct Cell {
    std::optional<double> median;
    std::string text;
};

// The median of the runs, with the range when runs differ.
Cell cell(const std::vector<const Run*>& runs, const Metric& metric) {
    Cell cell;
    if (runs.empty()) {
        cell.text = "–";
        return cell;
    }
    std::vector<double> values;
    for (const Run* run : runs)
        if (auto value = metric.value(run->data)) values.push_back(*value);
    if (values.empty()) {
        cell.text = unsupported(runs.front()->data) ? "not supported" : "–";
        return cell;
    }
    cell.median = median(values);
    cell.text = fixed(*cell.median, metric.precision);
    auto [low, high] = std::minmax_element(values.begin(), values.end());
    std::string low_text = fixed(*low, metric.precision),
                high_text = fixed(*high, metric.precision);
    if (values.size() > 1 && low_text != high_text)
        cell.text += " (" + low_text + "–" + high_text + ")";
    return cell;
}

std::string read_first_line(const char* path, std::string_view key) {
    std::ifstream file(path);
    std::string line;
    while (std::getline(file, line))
        if (line.compare(0, key.size(), key) == 0) {
            auto colon = line.find(':');
            std::string value = colon == std::string::npos ? line : line.substr(colon + 1);
            value.erase(0, value.find_first_not_of(" \t"));
            return value;
        }
    return "";
}

std::string machine() {
    std::ostringstream text;
    text << sysconf(_SC_NPROCESSORS_ONLN) << " CPUs ("
         << read_first_line("/proc/cpuinfo", "model name") << "), ";
    double ram_kib = std::atof(read_first_line("/proc/meminfo", "MemTotal").c_str());
    text << fixed(ram_kib / 1024 / 1024, 0) << " GiB RAM";
    utsname name{};
    if (uname(&name) == 0) text << ", kernel " << name.release;
    return text.str();
}

std::string utc_now() {
    std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
    return text;
}

std::string text_of(const json::object& data, const char* key) {
    const auto* value = data.if_contains(key);
    return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

class Report {
  public:
    Report(std::vector<Run> runs, ReportOptions options)
        : runs_(std::move(runs)), options_(std::move(options)) {
        for (const Run& run : runs_) {
            if (std::find(servers_.begin(), servers_.end(), run.server) == servers_.end())
                servers_.push_back(run.server);
            section_of(run).runs[run.server].push_back(&run);
        }
        std::stable_sort(
            sections_.begin(), sections_.end(), [](const Section& a, const Section& b) {
                auto rank = [](const Section& s) {
                    static const char* order[] = {"conns", "fanout", "latency", "multicast",
                                                  "batch", "flood",  "scale"};
                    int index = int(std::find(std::begin(order), std::end(order), s.scenario) -
                                    std::begin(order));
                    return std::make_tuple(s.setting, index, s.target);
                };
                return rank(a) < rank(b);
            });
        for (const auto& server : servers_)
            if (server != options_.baseline && server != options_.floor &&
                server != options_.cluster)
                peers_.push_back(server);
        has_floor_ = std::find(servers_.begin(), servers_.end(), options_.floor) != servers_.end();
    }

    void write(std::ostream& out) const {
        header(out);
        targets(out);
        if (!options_.charts.empty()) show_charts(out);
        for (const Section& section : sections_)
            if (section.scenario != "scale") table(out, section);
        ratios(out);
        cluster(out);
        scale(out);
        problems(out);
    }

  private:
    Section& section_of(const Run& run) {
        const std::string scenario = text_of(run.data, "scenario");
        const Setting setting = setting_of(text_of(run.data, "label"));
        const bool burst = setting == Setting::burst;
        const std::int64_t target =
            scenario == "conns" ? std::int64_t(number(run.data, "target").value_or(0)) : 0;
        for (Section& section : sections_)
            if (section.scenario == scenario && section.setting == setting &&
                section.target == target)
                return section;
        Section section;
        section.scenario = scenario;
        section.setting = setting;
        section.target = target;
        const std::string params = text_of(run.data, "params");
        if (scenario == "conns")
            section.title = "conns, N = " + std::to_string(target) +
                            ": idle logged-in connections (" + params + ")";
        else if (scenario == "fanout" && setting == Setting::loadgen)
            section.title =
                "fanout driven by ../shared/peers' Go load generator (bin/loadgen " + params + ")";
        else if (scenario == "fanout")
            section.title =
                burst ? "fanout burst, before \"latency right after a burst\" (" + params + ")"
                      : "fanout: closed-loop publishers to random users (" + params + ")";
        else if (scenario == "latency" && setting == Setting::crowd)
            section.title = "latency beside idle connections that another client process holds (" +
                            params + ")";
        else if (scenario == "latency")
            section.title =
                burst ? "latency right after a burst, same server process (" + params + ")"
                      : "latency: open loop at a fixed rate (" + params + ")";
        else if (scenario == "flood")
            section.title =
                "flood: POST /send with many messages, all to one connected user (" + params + ")";
        else if (scenario == "batch")
            section.title =
                "batch: POST /send with many messages, each to a random user (" + params + ")";
        else
            section.title = "multicast: one POST /send to a list of all users (" + params + ")";
        sections_.push_back(section);
        return sections_.back();
    }

    // The charts' data, one gnuplot table each: a header row of names, then a row per bar
    // group, "-" where a server has no figure.
    bool write_chart_data(const std::string& folder) const {
        namespace fs = std::filesystem;
        std::error_code error;
        fs::create_directories(folder, error);
        struct Row {
            std::string label;
            const Section* section;
            std::string metric;
        };
        auto table = [&](const std::string& name, const std::string& first_column,
                         const std::vector<Row>& rows) {
            bool any = false;
            for (const Row& row : rows)
                for (const std::string& server : servers_)
                    any = any || median_of(row.section, server, row.metric).has_value();
            fs::path path = fs::path(folder) / (name + ".dat");
            fs::remove(path, error);  // an old one would be drawn as this run's
            if (!any) return true;
            charts_.push_back(name);
            std::ofstream out(path);
            out << first_column;
            for (const std::string& server : servers_)
                out << ' ' << server;
            out << '\n';
            for (const Row& row : rows) {
                out << row.label;
                for (const std::string& server : servers_) {
                    auto value = median_of(row.section, server, row.metric);
                    if (value)
                        out << ' ' << *value;
                    else
                        out << " -";
                }
                out << '\n';
            }
            return bool(out);
        };
        const std::string cpu = "server CPU per delivery, µs";
        std::vector<Row> cpu_rows;
        for (const char* scenario : {"fanout", "multicast", "batch", "flood"})
            if (const Section* section = find(scenario))
                cpu_rows.push_back({scenario, section, cpu});
        const Section* latency = find("latency");
        const Section* memory = nullptr;
        for (const Section& section : sections_)
            if (section.scenario == "conns" && section.target == largest_conns_target())
                memory = &section;
        charts_.clear();
        bool written = table("cpu", "scenario", cpu_rows);
        written &= table("latency", "percentile",
                         {{"p50", latency, "latency p50, ms"},
                          {"p90", latency, "latency p90, ms"},
                          {"p99", latency, "latency p99, ms"},
                          {"p99.9", latency, "latency p99.9, ms"}});
        written &= table(
            "memory", "connections",
            {{std::to_string(largest_conns_target()), memory, "server PSS per connection, KiB"}});
        return written;
    }

    void show_charts(std::ostream& out) const {
        if (charts_.empty()) return;
        const std::string& folder = options_.charts;
        out << "## Charts\n\n"
            << "Medians of the runs below, drawn by `tools/bench/charts.gp` from the tables in `"
            << folder << "/`.\n\n";
        for (const std::string& chart : charts_)
            out << "![" << chart_title(chart) << "](" << folder << '/' << chart << ".png)\n\n";
    }

    static std::string chart_title(const std::string& chart) {
        if (chart == "cpu") return "server CPU per delivery, µs, by scenario";
        if (chart == "latency") return "latency percentiles at a fixed rate, ms";
        return "memory per idle logged-in connection, PSS KiB";
    }

  public:
    // Writes the charts' data beside `markdown` (options' charts folder is relative to it).
    bool write_charts_data(const std::string& markdown) const {
        namespace fs = std::filesystem;
        fs::path base = markdown.empty() ? fs::path(".") : fs::path(markdown).parent_path();
        return write_chart_data((base / options_.charts).string());
    }

  private:
    std::int64_t largest_conns_target() const {
        std::int64_t largest = 0;
        for (const Section& section : sections_)
            if (section.scenario == "conns") largest = std::max(largest, section.target);
        return largest;
    }

    const Section* find(const std::string& scenario, Setting setting = Setting::plain) const {
        for (const Section& section : sections_)
            if (section.scenario == scenario && section.setting == setting) return &section;
        return nullptr;
    }

    std::optional<double> median_of(const Section* section, const std::string& server,
                                    const std::string& metric_name) const {
        if (!section) return std::nullopt;
        auto runs = section->runs.find(server);
        if (runs == section->runs.end()) return std::nullopt;
        for (const Metric& metric : metrics_for(section->scenario))
            if (metric.name == metric_name) return cell(runs->second, metric).median;
        return std::nullopt;
    }

    void header(std::ostream& out) const {
        std::string first, last;
        int max_run = 0;
        for (const Run& run : runs_) {
            std::string time = text_of(run.data, "time");
            if (first.empty() || time < first) first = time;
            if (time > last) last = time;
            max_run = std::max(max_run, int(number(run.data, "run").value_or(1)));
        }
        out << "# Herald benchmarks\n\n"
            << "Herald next to the peers of `../shared/peers` (seed-go: the founding blog post's "
               "Go "
               "design; nchan: nginx + nchan), through the same scenarios, driven by the same "
               "load generator (`tools/bench`, built on the test client). Generated by "
               "`herald-bench report`; do not edit by hand.\n\n";
        out << "- date: " << utc_now() << " (runs from " << first << " to " << last << ")\n";
        if (!options_.command.empty()) out << "- command: `" << options_.command << "`\n";
        out << "- machine: " << machine() << "\n";
        std::istringstream settings(options_.settings);
        for (std::string line; std::getline(settings, line);)
            if (!line.empty()) out << "- " << line << "\n";
        out << "- servers: ";
        for (std::size_t i = 0; i < servers_.size(); ++i)
            out << (i ? ", " : "") << servers_[i];
        out << "; " << max_run << " run(s) per scenario, every server a fresh process per run\n\n"
            << "Cells are medians over the runs, the range in brackets when runs differ. Server "
               "CPU and memory come from `/proc` of the server's own processes (nginx: master and "
               "workers summed; PSS splits the pages they share). Ratios are "
            << options_.baseline << " / peer: below 1 is better where lower is better, above 1 "
            << "where higher is better. This is a benchmark, not a test: no test asserts a "
               "time.\n\n";
        if (has_floor_)
            out << "`" << options_.floor
                << "` is not a peer but a measuring instrument: `herald-floor` "
                   "(`tools/bench/floor_server.cpp`), the cheapest server that passes these "
                   "scenarios, one epoll loop making only the system calls the traffic needs "
                   "(no limits, no history, no safety). Its figures are what this machine's "
                   "kernel and loopback charge for the traffic itself: a target below its "
                   "figure cannot be met by any server here.\n\n";
    }

    void targets(std::ostream& out) const {
        const std::string& me = options_.baseline;
        const std::string& floor = options_.floor;
        out << "## The targets\n\nThose of the second performance issue (batches, coalesced "
               "writes, a cheaper connect); the cluster's are in its own section below.\n\n| "
               "target | "
            << me << " | better peer |" << (has_floor_ ? " " + floor + " |" : std::string())
            << " met |\n"
            << "|---|--:|--:|" << (has_floor_ ? "--:|" : "") << ":-:|\n";
        auto best_peer = [&](const Section* section, const std::string& metric, bool lowest) {
            std::optional<double> best;
            for (const auto& peer : peers_)
                if (auto value = median_of(section, peer, metric))
                    if (!best || (lowest ? *value < *best : *value > *best)) best = value;
            return best;
        };
        auto text = [](std::optional<double> value, int precision) {
            return value ? fixed(*value, precision) : std::string("–");
        };
        // `reachable`: whether the floor itself meets the target; a target it misses is out of
        // reach of any server on this machine.
        auto row = [&](const std::string& target, std::optional<double> mine,
                       std::optional<double> peer, std::optional<double> floor_value, int precision,
                       std::optional<bool> met, std::optional<bool> reachable) {
            out << "| " << target << " | " << text(mine, precision) << " | "
                << text(peer, precision) << " |";
            if (has_floor_) out << " " << text(floor_value, precision) << " |";
            std::string verdict = met ? (*met ? "yes" : "**no**") : "–";
            if (met && !*met && reachable && !*reachable) verdict += " (below the floor)";
            out << " " << verdict << " |\n";
        };
        auto met_if = [](std::optional<double> value, auto predicate) -> std::optional<bool> {
            if (!value) return std::nullopt;
            return predicate(*value);
        };

        const std::string cpu_metric = "server CPU per delivery, µs";
        // Being ahead of the peers, under herald-bench and under a client that no one here tuned.
        for (Setting setting : {Setting::plain, Setting::loadgen}) {
            const Section* fanout = find("fanout", setting);
            if (!fanout) continue;
            auto cpu = median_of(fanout, me, cpu_metric);
            auto peer_cpu = best_peer(fanout, cpu_metric, true);
            auto floor_cpu = median_of(fanout, floor, cpu_metric);
            std::optional<bool> met, reachable;
            if (peer_cpu) {
                auto at_most_the_peer = [&](double v) { return v <= *peer_cpu; };
                met = met_if(cpu, at_most_the_peer);
                reachable = met_if(floor_cpu, at_most_the_peer);
            }
            row(std::string("fanout: server CPU per delivery ≤ the better peer's, µs (") +
                    (setting == Setting::loadgen ? "../shared/peers' bin/loadgen"
                                                 : "herald-bench") +
                    ")",
                cpu, peer_cpu, floor_cpu, 2, met, reachable);
        }
        // Per-message HTTP is the cost batches take away: a batch's deliveries should cost about
        // what one list's do, which the floor's multicast shows is reachable.
        const Section* multicast = find("multicast");
        auto floor_multicast_cpu = median_of(multicast, floor, cpu_metric);
        auto within_30_percent_of_the_floor = [&](double v) {
            return floor_multicast_cpu && v <= 1.3 * *floor_multicast_cpu;
        };
        if (const Section* batch = find("batch")) {
            auto batch_cpu = median_of(batch, me, cpu_metric);
            std::optional<bool> batch_met;
            if (floor_multicast_cpu) batch_met = met_if(batch_cpu, within_30_percent_of_the_floor);
            row("batch: server CPU per delivery ≤ 1.3 × the floor's multicast, µs", batch_cpu,
                best_peer(batch, cpu_metric, true), floor_multicast_cpu, 2, batch_met,
                std::optional<bool>(true));
        }
        if (options_.flood_writes)
            row("flood: write system calls per delivered message < 0.1 (strace -c)",
                options_.flood_writes, std::nullopt, std::nullopt, 3,
                met_if(options_.flood_writes, [](double v) { return v < 0.1; }), std::nullopt);
        // A new connection (handshake and login) against nchan's, at N = 10000 (or the smallest N).
        const Section* conns = nullptr;
        for (const Section& section : sections_)
            if (section.scenario == "conns" &&
                (!conns || section.target == 10000 ||
                 (conns->target != 10000 && section.target < conns->target)))
                conns = &section;
        const std::string n_text = conns ? "N = " + std::to_string(conns->target) : "no conns run";
        auto connect_cpu = median_of(conns, me, "server CPU per connection, µs");
        auto nchan_cpu = median_of(conns, "nchan", "server CPU per connection, µs");
        auto floor_connect_cpu = median_of(conns, floor, "server CPU per connection, µs");
        std::optional<bool> connect_met, connect_reachable;
        if (nchan_cpu) {
            auto at_most_nchan = [&](double v) { return v <= *nchan_cpu; };
            connect_met = met_if(connect_cpu, at_most_nchan);
            connect_reachable = met_if(floor_connect_cpu, at_most_nchan);
        }
        row("server CPU per new connection ≤ nchan's, µs (" + n_text + "; the peer column: nchan)",
            connect_cpu, nchan_cpu, floor_connect_cpu, 1, connect_met, connect_reachable);
        auto multicast_cpu = median_of(multicast, me, cpu_metric);
        std::optional<bool> multicast_met;
        if (floor_multicast_cpu)
            multicast_met = met_if(multicast_cpu, within_30_percent_of_the_floor);
        row("multicast: server CPU per delivery ≤ 1.3 × the floor's, µs", multicast_cpu,
            best_peer(multicast, cpu_metric, true), floor_multicast_cpu, 2, multicast_met,
            std::optional<bool>(true));
        const std::string memory_metric = "server PSS per connection, KiB";
        auto memory = median_of(conns, me, memory_metric);
        auto floor_memory = median_of(conns, floor, memory_metric);
        auto at_most_6 = [](double v) { return v <= 6.0; };
        row("memory per idle logged-in connection ≤ 6.0 KiB (PSS, " + n_text + ")", memory,
            best_peer(conns, memory_metric, true), floor_memory, 2, met_if(memory, at_most_6),
            met_if(floor_memory, at_most_6));
        // Only an N at the descriptor limit can show it.
        std::optional<double> held, peer_held, floor_held;
        auto keep_most = [](std::optional<double>& most, std::optional<double> value) {
            if (value && (!most || *value > *most)) most = value;
        };
        for (const Section& section : sections_) {
            if (section.scenario != "conns") continue;
            keep_most(held, median_of(&section, me, "connections held"));
            keep_most(peer_held, best_peer(&section, "connections held", false));
            keep_most(floor_held, median_of(&section, floor, "connections held"));
        }
        std::optional<bool> held_met = met_if(held, [](double v) { return v >= 19900; });
        if (held_met && !*held_met && largest_conns_target() < 19900) held_met.reset();
        row("connections held by one process ≥ 19,900 (the descriptor limit)", held, peer_held,
            floor_held, 0, held_met, std::nullopt);
        out << "\n";
    }

    // A column per server that ran the section (the cluster runs only some scenarios).
    void table(std::ostream& out, const Section& section) const {
        std::vector<std::string> columns;
        for (const auto& server : servers_)
            if (section.runs.count(server)) columns.push_back(server);
        out << "## " << section.title << "\n\n| |";
        for (const auto& server : columns)
            out << " " << server << " |";
        out << "\n|---|";
        for (std::size_t i = 0; i < columns.size(); ++i)
            out << "--:|";
        out << "\n";
        for (const Metric& metric : metrics_for(section.scenario)) {
            out << "| " << metric.name;
            if (metric.better != Better::none) out << " (" << better_text(metric.better) << ")";
            out << " |";
            for (const auto& server : columns)
                out << " " << cell(section.runs.at(server), metric).text << " |";
            out << "\n";
        }
        out << "\n";
    }

    void ratios(std::ostream& out) const {
        if (peers_.empty()) return;
        // The floor's column says how far above what the kernel alone costs each figure is.
        std::vector<std::string> others = peers_;
        if (has_floor_) others.push_back(options_.floor);
        out << "## Ratios " << options_.baseline << " / peer (medians)\n\n| scenario | metric |";
        for (const auto& other : others)
            out << " " << options_.baseline << " / " << other << " |";
        out << "\n|---|---|";
        for (std::size_t i = 0; i < others.size(); ++i)
            out << "--:|";
        out << "\n";
        for (const Section& section : sections_) {
            auto mine = section.runs.find(options_.baseline);
            if (mine == section.runs.end() || section.scenario == "scale") continue;
            std::string name = section.scenario;
            if (section.scenario == "conns") name += " N=" + std::to_string(section.target);
            if (section.setting == Setting::burst)
                name =
                    section.scenario == "fanout" ? "burst (its fanout)" : "latency after a burst";
            if (section.setting == Setting::crowd) name = "latency beside idle connections";
            if (section.setting == Setting::loadgen) name += " (bin/loadgen)";
            if (!any_peer_supports(section) && !has_floor_) {
                out << "| " << name << " | every metric |";
                for (std::size_t i = 0; i < peers_.size(); ++i)
                    out << " peer: not supported |";
                out << "\n";
                continue;
            }
            for (const Metric& metric : metrics_for(section.scenario)) {
                if (metric.better == Better::none || !metric.ratio) continue;
                auto my_value = cell(mine->second, metric).median;
                out << "| " << name << " | " << metric.name << " (" << better_text(metric.better)
                    << ") |";
                for (const auto& peer : others) {
                    auto theirs = section.runs.find(peer);
                    std::string text = "–";
                    if (theirs != section.runs.end()) {
                        Cell their_cell = cell(theirs->second, metric);
                        if (their_cell.text == "not supported")
                            text = "peer: not supported";
                        else if (my_value && their_cell.median && *their_cell.median != 0)
                            text = fixed(*my_value / *their_cell.median, 2);
                    }
                    out << " " << text << " |";
                }
                out << "\n";
            }
        }
        out << "\n";
    }

    // The cluster beside one node: the scenarios both ran, and the targets for the
    // cluster.
    void cluster(std::ostream& out) const {
        const std::string& me = options_.baseline;
        const std::string& cluster = options_.cluster;
        std::vector<const Section*> shared;
        for (const Section& section : sections_)
            if (section.scenario != "scale" && section.runs.count(me) &&
                section.runs.count(cluster))
                shared.push_back(&section);
        if (shared.empty()) return;
        out << "## The cluster beside one node\n\n"
            << "`" << cluster << "` is two " << me << " nodes sharing a redis-server of their own, "
            << "all three on the server's CPU like `" << me << "` alone. Subscribers dial node B "
            << "and publishers send to node A, so every message crosses Redis: one Lua script per "
               "publish (numbered, kept in the user's stream, PUBLISHed) on A's command link, "
               "then B's subscriber link receives it and B delivers it. Its server CPU is both "
               "nodes and redis-server, summed; "
            << cluster << " / " << me << " below 1 is better where lower is better.\n\n";

        const Section* fanout = find("fanout");
        const Section* latency = find("latency");
        auto text = [](std::optional<double> value, int precision) {
            return value ? fixed(*value, precision) : std::string("–");
        };
        auto verdict = [](std::optional<bool> met) {
            return met ? (*met ? std::string("yes") : std::string("**no**")) : std::string("–");
        };
        out << "| target | " << me << " (one node) | " << cluster << " | met |\n"
            << "|---|--:|--:|:-:|\n";
        for (const char* percentile : {"p50", "p99", "p99.9"}) {
            const std::string metric = std::string("latency ") + percentile + ", ms";
            auto mine = median_of(latency, me, metric);
            auto theirs = median_of(latency, cluster, metric);
            std::optional<bool> met;
            if (theirs && std::string(percentile) == "p99") met = *theirs < 1;
            out << "| latency at " << rate_of(latency) << " msg/s: " << percentile
                << (std::string(percentile) == "p99" ? " < 1 ms" : ", ms") << " | " << text(mine, 3)
                << " | " << text(theirs, 3) << " | " << verdict(met) << " |\n";
        }
        const std::string cpu_metric = "server CPU per delivery, µs";
        auto one_cpu = median_of(fanout, me, cpu_metric);
        auto cluster_cpu = median_of(fanout, cluster, cpu_metric);
        std::optional<bool> cpu_met;
        std::string cluster_cpu_text = text(cluster_cpu, 2);
        if (one_cpu && cluster_cpu && *one_cpu > 0) {
            cpu_met = *cluster_cpu <= 2.5 * *one_cpu;
            cluster_cpu_text += " (" + fixed(*cluster_cpu / *one_cpu, 2) + " ×)";
        }
        out << "| fanout: server CPU per delivery ≤ 2.5 × one node's, µs | " << text(one_cpu, 2)
            << " | " << cluster_cpu_text << " | " << verdict(cpu_met) << " |\n\n";

        out << "| scenario | metric | " << me << " | " << cluster << " | " << cluster << " / " << me
            << " |\n|---|---|--:|--:|--:|\n";
        for (const Section* section : shared) {
            std::string name = section->scenario;
            if (section->scenario == "conns") name += " N=" + std::to_string(section->target);
            if (section->setting == Setting::burst) name += " (after a burst)";
            if (section->setting == Setting::crowd) name += " (beside idle connections)";
            if (section->setting == Setting::loadgen) name += " (bin/loadgen)";
            for (const Metric& metric : metrics_for(section->scenario)) {
                Cell mine = cell(section->runs.at(me), metric);
                Cell theirs = cell(section->runs.at(cluster), metric);
                std::string ratio = "";
                if (metric.better != Better::none && metric.ratio && mine.median && theirs.median &&
                    *mine.median != 0)
                    ratio = fixed(*theirs.median / *mine.median, 2);
                out << "| " << name << " | " << metric.name << " | " << mine.text << " | "
                    << theirs.text << " | " << ratio << " |\n";
            }
        }
        out << "\n";
    }

    static std::string rate_of(const Section* section) {
        if (!section || section->runs.empty()) return "?";
        return fixed(number(section->runs.begin()->second.front()->data, "rate").value_or(0), 0);
    }

    // The scale test: the cluster's nodes holding many connections together, each probed through
    // another node than its own, beside one node alone holding one node's share.
    void scale(std::ostream& out) const {
        std::map<std::string, std::vector<const Run*>> runs;  // by server, whatever the size
        std::vector<std::string> columns;
        for (const Section& section : sections_) {
            if (section.scenario != "scale") continue;
            for (const auto& [server, server_runs] : section.runs) {
                auto& all = runs[server];
                all.insert(all.end(), server_runs.begin(), server_runs.end());
            }
        }
        if (runs.empty()) return;
        for (const auto& server : servers_)
            if (runs.count(server)) columns.push_back(server);
        const std::string& me = options_.baseline;
        const std::string& cluster = options_.cluster;

        auto verified_pct = [](const json::object& data) -> std::optional<double> {
            auto verified = number(data, "verified"), held = number(data, "connected");
            if (!verified || !held || *held == 0) return std::nullopt;
            return 100 * *verified / *held;
        };
        const std::vector<Metric> metrics = {
            {"nodes", Better::none, 0, field("nodes")},
            {"connections asked for", Better::none, 0, field("target")},
            {"connections held", Better::higher, 0, field("connected")},
            {"verified by a probe through another node (one node alone: itself)", Better::higher, 0,
             field("verified")},
            {"verified, % of those held", Better::higher, 1, verified_pct},
            {"of which on a later probe (their login still joining at the first)", Better::none, 0,
             field("verified_late")},
            {"connect rate, conns/s", Better::higher, 0, field("conns_per_sec")},
            {"server CPU per connection, µs (every node and redis-server)", Better::lower, 1,
             field("server_cpu_us_per_conn")},
            {"server PSS per connection, KiB (every node and redis-server)", Better::lower, 2,
             field("pss_per_conn_b", 1 / 1024.)},
            {"of which redis-server, KiB", Better::lower, 2,
             field("others_pss_per_conn_b", 1 / 1024.)},
            {"server CPU while holding them idle, % of a core", Better::lower, 1,
             field("hold_server_cpu_pct")},
            {"time to probe every connection, s", Better::none, 1, field("probe_sec")},
            {"dial time, s", Better::none, 1, field("dial_sec")},
        };
        std::string params;
        if (runs.count(cluster)) params = text_of(runs.at(cluster).front()->data, "params");
        out << "## Scale: the cluster's nodes holding connections together\n\n"
            << "`tools/bench/run.sh --scale` (not part of a full run: it is heavy). `" << cluster
            << "` here is every node of the cluster and their redis-server on the server's CPU, "
               "several herald-bench client processes dialing from 127.0.0.x, worker i dialing "
               "node i mod n; once every dial is done, every connection gets a probe published "
               "through the next node, so that it crosses Redis. `"
            << me
            << "` is one node alone holding one node's share in the same run (its probes go "
               "through itself). Memory is PSS after the dials less PSS before, per connection "
               "held; per node below. "
            << (params.empty() ? "" : "(" + params + ")") << "\n\n";
        if (runs.count(cluster)) {
            const double asked = cell(runs.at(cluster), metrics[1]).median.value_or(0);
            const double held = cell(runs.at(cluster), metrics[2]).median.value_or(0);
            const double verified = cell(runs.at(cluster), metrics[3]).median.value_or(0);
            const bool met = asked > 0 && held >= asked && verified >= asked;
            out << "Target: " << fixed(asked, 0) << " logged-in connections held and verified "
                << "across the nodes: " << (met ? "**met**" : "**not met**") << " (median held "
                << fixed(held, 0) << ", verified " << fixed(verified, 0) << ").\n\n";
        }
        out << "| |";
        for (const auto& server : columns)
            out << " " << server << " |";
        out << "\n|---|";
        for (std::size_t i = 0; i < columns.size(); ++i)
            out << "--:|";
        out << "\n";
        for (const Metric& metric : metrics) {
            out << "| " << metric.name;
            if (metric.better != Better::none) out << " (" << better_text(metric.better) << ")";
            out << " |";
            for (const auto& server : columns)
                out << " " << cell(runs.at(server), metric).text << " |";
            out << "\n";
        }
        out << "\n";

        // Per node: the cluster's nodes in the order of their ports, one node alone last.
        auto node_field = [](std::size_t index, const char* key, double scale_by = 1) {
            return [index, key, scale_by](const json::object& data) -> std::optional<double> {
                const auto* nodes = data.if_contains("per_node");
                if (!nodes || !nodes->is_array() || nodes->as_array().size() <= index)
                    return std::nullopt;
                const auto& node = nodes->as_array()[index];
                if (!node.is_object()) return std::nullopt;
                auto value = number(node.as_object(), key);
                if (value) *value *= scale_by;
                return value;
            };
        };
        std::optional<double> alone;
        if (runs.count(me))
            alone = cell(runs.at(me),
                         Metric{"", Better::lower, 2, node_field(0, "pss_per_conn_b", 1 / 1024.)})
                        .median;
        out << "| node | connections held | verified | PSS per connection, KiB | RSS per "
               "connection, KiB | PSS / one node alone's |\n|---|--:|--:|--:|--:|--:|\n";
        auto node_row = [&](const std::string& name, const std::vector<const Run*>& node_runs,
                            std::size_t index) {
            Cell pss = cell(node_runs,
                            {"", Better::lower, 2, node_field(index, "pss_per_conn_b", 1 / 1024.)});
            if (!pss.median) return false;
            out << "| " << name << " | "
                << cell(node_runs, {"", Better::none, 0, node_field(index, "connected")}).text
                << " | "
                << cell(node_runs, {"", Better::none, 0, node_field(index, "verified")}).text
                << " | " << pss.text << " | "
                << cell(node_runs,
                        {"", Better::lower, 2, node_field(index, "rss_per_conn_b", 1 / 1024.)})
                       .text
                << " | " << (alone && *alone > 0 ? fixed(*pss.median / *alone, 2) : "–") << " |\n";
            return true;
        };
        if (runs.count(cluster)) {
            std::size_t index = 0;
            while (
                node_row(cluster + " node " + std::to_string(index + 1), runs.at(cluster), index))
                ++index;
        }
        if (runs.count(me)) node_row(me + " alone", runs.at(me), 0);
        out << "\n";
    }

    // False only when every peer in the section recorded "not supported" (multicast).
    bool any_peer_supports(const Section& section) const {
        bool any_run = false;
        for (const auto& peer : peers_) {
            auto runs = section.runs.find(peer);
            if (runs == section.runs.end()) continue;
            for (const Run* run : runs->second) {
                any_run = true;
                if (!unsupported(run->data)) return true;
            }
        }
        return !any_run;
    }

    void problems(std::ostream& out) const {
        std::ostringstream lines;
        for (const Run& run : runs_) {
            const auto* ok = run.data.if_contains("ok");
            if (!ok || !ok->is_bool() || ok->as_bool()) continue;
            lines << "- " << text_of(run.data, "label") << ", " << text_of(run.data, "scenario")
                  << " (" << text_of(run.data, "params") << "), run "
                  << number(run.data, "run").value_or(0) << ":";
            const auto* errors = run.data.if_contains("errors");
            std::size_t shown = 0;
            if (errors && errors->is_array())
                for (const auto& error : errors->as_array()) {
                    if (shown++ == 4) {
                        lines << " …";
                        break;
                    }
                    if (error.is_string()) lines << " " << std::string(error.as_string()) << ";";
                }
            const auto* alive = run.data.if_contains("server_alive");
            if (alive && alive->is_bool() && !alive->as_bool()) lines << " SERVER DIED;";
            lines << "\n";
        }
        if (lines.str().empty()) {
            out << "## Checks\n\nEvery run delivered everything it sent, and nothing failed.\n";
            return;
        }
        out << "## Runs that lost or failed something\n\n"
            << "(conns at an N beyond a server's descriptor limit fails by design: its dials time "
               "out once the server cannot accept more.)\n\n"
            << lines.str();
    }

    std::vector<Run> runs_;
    mutable std::vector<std::string> charts_;  // the charts whose data was written
    ReportOptions options_;
    std::vector<std::string> servers_;
    std::vector<std::string> peers_;  // neither the baseline nor the floor
    bool has_floor_ = false;
    std::vector<Section> sections_;
};

}  // namespace

int run_report(const ReportOptions& options) {
    std::vector<Run> runs;
    for (const auto& path : options.inputs) {
        std::ifstream file(path);
        if (!file) {
            std::cerr << "herald-bench report: cannot read " << path << '\n';
            return 2;
        }
        for (std::string line; std::getline(file, line);) {
            error_code error;
            auto parsed = json::parse(line, error);
            if (error || !parsed.is_object()) continue;
            Run run;
            run.data = parsed.as_object();
            run.server = text_of(run.data, "label");
            if (auto plus = run.server.find('+'); plus != std::string::npos) run.server.erase(plus);
            if (!text_of(run.data, "scenario").empty()) runs.push_back(std::move(run));
        }
    }
    if (runs.empty()) {
        std::cerr << "herald-bench report: no results in the input\n";
        return 2;
    }
    Report report(std::move(runs), options);
    if (options.output.empty()) {
        report.write(std::cout);
        return 0;
    }
    if (!options.charts.empty() && !report.write_charts_data(options.output)) {
        std::cerr << "herald-bench report: cannot write the charts' data\n";
        return 2;
    }
    std::ofstream out(options.output);
    report.write(out);
    if (!out) {
        std::cerr << "herald-bench report: cannot write " << options.output << '\n';
        return 2;
    }
    std::cerr << "wrote " << options.output << '\n';
    return 0;
}

}  // namespace herald::bench
