#include "herald/prometheus.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>
#include <iterator>
#include <sstream>
#include <utility>
#include <vector>

#ifndef HERALD_VERSION
#define HERALD_VERSION "unknown"
#endif

namespace herald {
namespace {

// Writes the exposition: a family's HELP and TYPE lines, then its samples.
class Exposition {
  public:
    explicit Exposition(std::string& text) : text_(text) {}

    void family(std::string_view name, std::string_view type, std::string_view help) {
        text_ += "# HELP ";
        text_ += name;
        text_ += ' ';
        text_ += help;
        text_ += "\n# TYPE ";
        text_ += name;
        text_ += ' ';
        text_ += type;
        text_ += '\n';
    }

    // `labels`: the text between the braces, already escaped; empty for none.
    template <typename Number>
    void sample(std::string_view name, std::string_view labels, Number value) {
        text_ += name;
        if (!labels.empty()) {
            text_ += '{';
            text_ += labels;
            text_ += '}';
        }
        text_ += ' ';
        append_number(text_, value);
        text_ += '\n';
    }

    template <typename Number>
    void single(std::string_view name, std::string_view type, std::string_view help, Number value) {
        family(name, type, help);
        sample(name, {}, value);
    }

    static void append_number(std::string& text, std::uint64_t value) {
        char digits[24];
        text.append(digits, std::to_chars(std::begin(digits), std::end(digits), value).ptr);
    }
    // The shortest text that reads back as the same double, without an exponent: bucket bounds
    // read as queries write them (le="0.0001", not le="1e-04").
    static void append_number(std::string& text, double value) {
        char digits[352];  // the longest fixed text of a double
        auto end =
            std::to_chars(std::begin(digits), std::end(digits), value, std::chars_format::fixed)
                .ptr;
        text.append(digits, end);
    }

  private:
    std::string& text_;
};

std::string label(std::string_view name, std::string_view value) {
    std::string text(name);
    text += "=\"";
    text += escape_label_value(value);
    text += '"';
    return text;
}

// The close table's slugs, each once, in the table's order.
std::vector<std::string_view> slugs_of_the_close_table() {
    std::vector<std::string_view> slugs;
    for (const CloseReason* reason : close_reasons::all)
        if (std::find(slugs.begin(), slugs.end(), reason->slug) == slugs.end())
            slugs.push_back(reason->slug);
    return slugs;
}

// The server's closes of a connection in service (a refresh with a bad token among them): shown
// at 0 too, so that a rate over any of them works from the start.
constexpr std::array in_service{
    &close_reasons::shutdown,        &close_reasons::slow_consumer,
    &close_reasons::pong_timeout,    &close_reasons::token_expired,
    &close_reasons::inbound_rate,    &close_reasons::refresh_for_another_sub,
    &close_reasons::stream_reset,    &close_reasons::try_again_later,
    &close_reasons::token_malformed, &close_reasons::disconnected,
    &close_reasons::reconnect,
};

bool in_service_slug(std::string_view slug) {
    for (const CloseReason* reason : in_service)
        if (reason->slug == slug) return true;
    return false;
}

// The closes that only a connection in service gets, never a login: not shown among the refused
// logins unless counted there.
constexpr std::array only_in_service{
    &close_reasons::slow_consumer, &close_reasons::pong_timeout,
    &close_reasons::inbound_rate,  &close_reasons::refresh_for_another_sub,
    &close_reasons::stream_reset,  &close_reasons::disconnected,
    &close_reasons::reconnect,
};

bool login_slug(std::string_view slug) {
    for (const CloseReason* reason : only_in_service)
        if (reason->slug == slug) return false;
    return true;
}

// Several reasons of the table may share a slug: their counts add up under it.
template <typename Count>
std::uint64_t sum_by_slug(const Count& count, std::string_view slug) {
    std::uint64_t sum = 0;
    for (const CloseReason* reason : close_reasons::all)
        if (reason->slug == slug) sum += count.read(*reason);
    return sum;
}

void render_histogram(Exposition& out, std::string_view name, std::string_view help,
                      const Histogram& histogram) {
    out.family(name, "histogram", help);
    std::string bucket_name = std::string(name) + "_bucket";
    std::uint64_t cumulative = 0;
    const double per_second = static_cast<double>(histogram.units_per_second());
    for (std::size_t i = 0; i <= histogram.size(); ++i) {
        cumulative += histogram.count(i);
        std::string le = "le=\"";
        if (i == histogram.size()) {
            le += "+Inf";
        } else {
            Exposition::append_number(le, static_cast<double>(histogram.bound(i)) / per_second);
        }
        le += '"';
        out.sample(bucket_name, le, cumulative);
    }
    // The count is the +Inf bucket's, read once above, so that the two always agree; the sum is
    // read apart and may be a few observations ahead.
    out.sample(std::string(name) + "_sum", {}, static_cast<double>(histogram.sum()) / per_second);
    out.sample(std::string(name) + "_count", {}, cumulative);
}

// The fields of /proc/self/stat after the command name (which may hold spaces and parentheses),
// numbered from 3 as proc(5) numbers them.
std::optional<std::vector<std::string>> stat_fields() {
    std::ifstream file("/proc/self/stat");
    std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    auto end_of_name = text.rfind(')');
    if (end_of_name == std::string::npos) return std::nullopt;
    std::istringstream rest(text.substr(end_of_name + 1));
    std::vector<std::string> fields{"", "", ""};  // 0 unused, 1 pid, 2 comm
    for (std::string field; rest >> field;)
        fields.push_back(field);
    if (fields.size() <= 24) return std::nullopt;
    return fields;
}

// The boot time, in seconds since 1970 (/proc/stat's btime).
std::optional<std::uint64_t> boot_time() {
    std::ifstream file("/proc/stat");
    for (std::string line; std::getline(file, line);)
        if (line.starts_with("btime ")) return std::stoull(line.substr(6));
    return std::nullopt;
}

std::uint64_t count_open_fds() {
    DIR* directory = opendir("/proc/self/fd");
    if (directory == nullptr) return 0;
    std::uint64_t count = 0;
    while (const dirent* entry = readdir(directory))
        if (entry->d_name[0] != '.') ++count;
    closedir(directory);
    return count - 1;  // the directory's own descriptor, open while it is read
}

}  // namespace

std::string escape_label_value(std::string_view value) {
    std::string escaped;
    escaped.reserve(value.size());
    for (char c : value) {
        if (c == '\\')
            escaped += "\\\\";
        else if (c == '"')
            escaped += "\\\"";
        else if (c == '\n')
            escaped += "\\n";
        else
            escaped += c;
    }
    return escaped;
}

std::string_view build_version() {
    return HERALD_VERSION;
}

std::optional<ProcessStats> read_process_stats() {
    auto fields = stat_fields();
    auto booted = boot_time();
    if (!fields || !booted) return std::nullopt;
    try {
        const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
        const auto page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
        ProcessStats stats;
        stats.cpu_seconds =
            static_cast<double>(std::stoull((*fields)[14]) + std::stoull((*fields)[15])) / ticks;
        stats.start_time_seconds =
            static_cast<double>(*booted) + static_cast<double>(std::stoull((*fields)[22])) / ticks;
        stats.virtual_memory_bytes = std::stoull((*fields)[23]);
        stats.resident_memory_bytes = std::stoull((*fields)[24]) * page;
        stats.open_fds = count_open_fds();
        rlimit limit{};
        if (getrlimit(RLIMIT_NOFILE, &limit) == 0)
            stats.max_fds = limit.rlim_cur == RLIM_INFINITY ? UINT64_MAX : limit.rlim_cur;
        return stats;
    } catch (const std::exception&) {  // a field that is not a number: a kernel we do not know
        return std::nullopt;
    }
}

std::string render_prometheus(const Metrics& metrics, const ExpositionContext& context) {
    std::string text;
    text.reserve(8192);
    Exposition out(text);

    out.family("herald_build_info", "gauge", "Herald's version, as a label; always 1.");
    out.sample("herald_build_info", label("version", context.version), std::uint64_t{1});
    out.family("herald_node_info", "gauge", "This node's name (--node-id), as a label; always 1.");
    out.sample("herald_node_info", label("node", context.engine.node), std::uint64_t{1});
    out.single("herald_nodes", "gauge", "Nodes alive in the cluster (1 for a single node).",
               std::uint64_t{context.engine.nodes});

    out.single("herald_connections", "gauge", "WebSocket connections logged in on this node.",
               std::uint64_t{context.hub.connections});
    out.single("herald_users", "gauge", "Users with at least one connection on this node.",
               std::uint64_t{context.hub.users});
    out.single("herald_streams", "gauge",
               "Users whose stream is kept: connected, with history, or gone for less than "
               "--history-ttl.",
               std::uint64_t{context.engine.streams});
    out.single("herald_history_messages", "gauge", "Messages kept in history, all users together.",
               std::uint64_t{context.engine.history_messages});
    out.single("herald_history_bytes", "gauge", "Bytes of the messages kept in history.",
               std::uint64_t{context.engine.history_bytes});

    out.single("herald_messages_published_total", "counter",
               "Messages published, one per (message, user).", metrics.messages_published.read());
    out.single("herald_messages_delivered_total", "counter",
               "Messages queued to connections, one per (message, connection).",
               metrics.messages_delivered.read());
    out.single("herald_connections_opened_total", "counter", "WebSocket connections logged in.",
               metrics.connections_opened.read());

    const std::vector<std::string_view> slugs = slugs_of_the_close_table();
    out.family("herald_disconnects_total", "counter",
               "Connections in service that ended, by reason: the server's close (the close "
               "table's slug) or the peer's end.");
    for (std::string_view slug : slugs) {
        std::uint64_t count = sum_by_slug(metrics.disconnects, slug);
        if (count > 0 || in_service_slug(slug))
            out.sample("herald_disconnects_total", label("reason", slug), count);
    }
    for (std::size_t i = 0; i < peer_end_slugs.size(); ++i)
        out.sample("herald_disconnects_total", label("reason", peer_end_slugs[i]),
                   metrics.disconnects.read(static_cast<PeerEnd>(i)));

    out.family("herald_logins_refused_total", "counter",
               "WebSocket logins refused, by the close table's slug.");
    for (std::string_view slug : slugs) {
        std::uint64_t count = sum_by_slug(metrics.logins_refused, slug);
        if (count > 0 || login_slug(slug))
            out.sample("herald_logins_refused_total", label("reason", slug), count);
    }

    out.family("herald_resumes_total", "counter",
               "Logins that asked to resume (since), by whether every missed message followed.");
    out.sample("herald_resumes_total", label("recovered", "true"),
               metrics.resumes_recovered.read());
    out.sample("herald_resumes_total", label("recovered", "false"),
               metrics.resumes_not_recovered.read());

    // Only the pairs that happened: endpoints times statuses would be a hundred series of 0. The
    // family's HELP and TYPE come with its first sample.
    bool requests_described = false;
    for (std::size_t e = 0; e < endpoint_names.size(); ++e) {
        for (std::size_t s = 0; s <= CountByRequest::other_status; ++s) {
            std::uint64_t count = metrics.http_requests.read(static_cast<Endpoint>(e), s);
            if (count == 0) continue;
            if (!std::exchange(requests_described, true))
                out.family("herald_http_requests_total", "counter",
                           "HTTP answers, by endpoint and status code (101: a WebSocket upgrade).");
            std::string code = s == CountByRequest::other_status
                                   ? std::string("other")
                                   : std::to_string(CountByRequest::statuses[s]);
            out.sample("herald_http_requests_total",
                       label("endpoint", endpoint_names[e]) + "," + label("code", code), count);
        }
    }

    render_histogram(out, "herald_publish_duration_seconds",
                     "GET and POST /send that reached the engine (200, 503): from the request "
                     "read whole to the answer written.",
                     metrics.publish_duration);
    render_histogram(out, "herald_delivery_lag_seconds",
                     "From a message's publish to its frame handed to the socket, sampled (one "
                     "write in 64 per I/O thread; replays of older messages left out).",
                     metrics.delivery_lag);

    if (context.cluster) {
        out.single("herald_redis_publish_errors_total", "counter",
                   "Publishes refused (503) because Redis failed them.",
                   metrics.redis_publish_errors.read());
        out.single("herald_redis_reconnects_total", "counter",
                   "Times the command link to Redis came back after a loss.",
                   metrics.redis_reconnects.read());
        out.single("herald_redis_probes_missed_total", "counter",
                   "Subscriber links that stopped delivering (a missed probe) and were restarted.",
                   metrics.redis_probes_missed.read());
        out.single("herald_redis_catch_ups_total", "counter",
                   "Users read up from their streams after a loss.",
                   metrics.redis_catch_ups.read());
    }

    if (const auto& process = context.process) {
        out.single("process_cpu_seconds_total", "counter",
                   "Total user and system CPU time spent in seconds.", process->cpu_seconds);
        out.single("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                   process->resident_memory_bytes);
        out.single("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
                   process->virtual_memory_bytes);
        out.single("process_open_fds", "gauge", "Number of open file descriptors.",
                   process->open_fds);
        out.single("process_max_fds", "gauge", "Maximum number of open file descriptors.",
                   process->max_fds);
        out.single("process_start_time_seconds", "gauge",
                   "Start time of the process since unix epoch in seconds.",
                   process->start_time_seconds);
    }
    return text;
}

}  // namespace herald
