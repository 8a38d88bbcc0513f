#include "options.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <sstream>

#include <boost/asio/ip/address.hpp>
#include <boost/program_options.hpp>

#include "herald/config.hpp"

namespace herald::bench {
namespace po = boost::program_options;
namespace {

// Flags are read as text and converted here, so that durations take units and errors name
// the flag.
struct Text {
    std::string host, port, publish_port, pid, adapter, dial_timeout, max_time, ports;
    std::string settle, hold, dial_budget, duration, drain, round_timeout;
    std::string soak_duration, sample, warmup, lead, grace;
};

po::options_description common_flags(CommonOptions& common, Text& text) {
    po::options_description flags("Common options");
    flags.add_options()("help,h", "print this help")(
        "host", po::value(&text.host)->default_value("127.0.0.1"),
        "server address (loopback only)")("port", po::value(&text.port)->default_value("8181"),
                                          "server port")(
        "publish-port", po::value(&text.publish_port),
        "send publishes and probes to this port instead (another node of a cluster)")(
        "pid", po::value(&text.pid), "server PID(s), comma-separated; descendants are included")(
        "adapter", po::value(&text.adapter)->default_value("seed"), "seed or nchan")(
        "label", po::value(&common.label), "server name in the report (default adapter@port)")(
        "note", po::value(&common.note), "free text stored with the result")(
        "run", po::value(&common.run)->default_value(1), "run number, for the report")(
        "out", po::value(&common.out), "append the result as one JSON line to this file")(
        "ws-path", po::value(&common.ws_path)->default_value("/ws"), "seed: WebSocket path")(
        "send-path", po::value(&common.send_path)->default_value("/send"), "seed: publish path")(
        "sub-prefix", po::value(&common.sub_prefix)->default_value("/sub/"),
        "nchan: subscriber path prefix")("pub-prefix",
                                         po::value(&common.pub_prefix)->default_value("/pub/"),
                                         "nchan: publisher path prefix")(
        "dial-concurrency", po::value(&common.dial_concurrency)->default_value(200),
        "WebSocket dials in flight per process")(
        "dial-timeout", po::value(&text.dial_timeout)->default_value("10s"),
        "TCP connect + handshake + login")("max-time",
                                           po::value(&text.max_time)->default_value("10m"),
                                           "watchdog: exit after this long whatever happens")(
        "uid-prefix", po::value(&common.uid_prefix), "uid prefix (default: random per run)");
    return flags;
}

po::options_description conns_flags(ConnsOptions& conns, Text& text) {
    po::options_description flags("conns: N idle logged-in connections");
    flags.add_options()("connections,n", po::value(&conns.connections)->default_value(10000),
                        "connections to open")(
        "workers", po::value(&conns.workers)->default_value(0),
        "client processes (0: one per --per-worker, at least 2)")(
        "per-worker", po::value(&conns.per_worker)->default_value(15000),
        "most connections per client process")(
        "verify", po::value(&conns.verify)->default_value(200), "probes to random uids")(
        "settle", po::value(&text.settle)->default_value("2s"),
        "wait after the last dial before sampling server memory")(
        "hold", po::value(&text.hold)->default_value("0s"), "hold the connections this long")(
        "dial-budget", po::value(&text.dial_budget)->default_value("120s"),
        "stop dialing after this long")("max-fail", po::value(&conns.max_fail)->default_value(200),
                                        "stop dialing after this many failures, all together")(
        "no-spread", "dial every connection from 127.0.0.1");
    return flags;
}

po::options_description scale_flags(Text& text) {
    po::options_description flags(
        "scale: conns over the nodes of a cluster, every connection probed through another node");
    flags.add_options()("ports", po::value(&text.ports),
                        "the nodes' ports, comma-separated (default --port); worker i dials the "
                        "node i % n and probes through the next one; the first n PIDs of --pid "
                        "are the nodes', in this order (any after them, e.g. redis-server, count "
                        "in the totals only)");
    return flags;
}

po::options_description publish_flags(PublishOptions& publish, Text& text, bool latency) {
    po::options_description flags(latency ? "latency: open loop at a fixed rate"
                                          : "fanout: closed-loop publishers to random users");
    flags.add_options()("users,m", po::value(&publish.users)->default_value(1000), "users")(
        "concurrency,c", po::value(&publish.concurrency)->default_value(latency ? 16 : 32),
        "publisher connections")("duration,d", po::value(&text.duration)->default_value("10s"),
                                 "publishing time")(
        "size", po::value(&publish.size)->default_value(64), "message size in bytes")(
        "drain", po::value(&text.drain)->default_value("5s"),
        "longest wait for outstanding deliveries")(
        "max-msgs", po::value(&publish.max_messages)->default_value(5'000'000),
        "most publishes in the run");
    if (latency)
        flags.add_options()("rate", po::value(&publish.rate)->default_value(1000), "messages/s");
    return flags;
}

po::options_description multicast_flags(MulticastOptions& multicast, Text& text) {
    po::options_description flags("multicast: one POST /send to all users, repeated");
    flags.add_options()("users,m", po::value(&multicast.users)->default_value(10000), "users")(
        "repeats,k", po::value(&multicast.repeats)->default_value(5), "sends")(
        "size", po::value(&multicast.size)->default_value(64), "message size in bytes")(
        "batch", po::value(&multicast.batch)->default_value(0),
        "messages per send: a batch POST /send {\"messages\":[...]} to random users (with "
        "--users 1: the flood scenario)")("round-timeout",
                                          po::value(&text.round_timeout)->default_value("10s"),
                                          "longest wait for one send to reach everyone");
    return flags;
}

po::options_description soak_flags(SoakOptions& soak, Text& text) {
    po::options_description flags(
        "soak: connections, churn and publishing for a long time, sampled into a CSV");
    flags.add_options()("connections,n", po::value(&soak.connections)->default_value(2000),
                        "connections held open")(
        "churn", po::value(&soak.churn)->default_value(50),
        "connections closed and reopened per second (alternately clean close and TCP reset)")(
        "rate", po::value(&soak.rate)->default_value(500), "publishes per second, in all")(
        "publishers", po::value(&soak.publishers)->default_value(4),
        "keep-alive publisher connections")(
        "duration,d", po::value(&text.soak_duration)->default_value("10m"), "length of the run")(
        "sample", po::value(&text.sample)->default_value("5s"), "interval of the CSV rows")(
        "warmup", po::value(&text.warmup)->default_value("60s"),
        "RSS must be flat after this (at most half the duration)")(
        "max-rss-growth", po::value(&soak.max_rss_growth_pct)->default_value(10),
        "fail when RSS grew by more than this many percent after warm-up")(
        "lead", po::value(&text.lead)->default_value("1s"),
        "a churned connection stops being a target this long before it closes")(
        "grace", po::value(&text.grace)->default_value("2s"),
        "time a message may take after its publish's answer before it counts as lost")(
        "size", po::value(&soak.size)->default_value(64), "message size in bytes")(
        "ramp", po::value(&soak.ramp)->default_value(500), "dials per second at the start")(
        "csv", po::value(&soak.csv), "write the samples to this CSV file (default stderr only)");
    return flags;
}

po::options_description report_flags(ReportOptions& report) {
    po::options_description flags("report: markdown from result files");
    flags.add_options()("help,h", "print this help")("output,o", po::value(&report.output),
                                                     "markdown file (default stdout)")(
        "command", po::value(&report.command), "the command that produced the results")(
        "settings", po::value(&report.settings), "settings to list in the header")(
        "baseline", po::value(&report.baseline)->default_value("herald"),
        "server the ratios are about")(
        "floor", po::value(&report.floor)->default_value("floor"),
        "label of herald-floor's runs: shown beside the others, never counted as a peer")(
        "cluster", po::value(&report.cluster)->default_value("herald-cluster"),
        "label of the cluster's runs: compared with the baseline, never counted as a peer")(
        "charts", po::value(&report.charts),
        "folder, beside the markdown, for the charts' data (cpu.dat, latency.dat, memory.dat; "
        "tools/bench/charts.gp draws them as PNG); the markdown then shows the charts")(
        "flood-writes", po::value<double>(),
        "Herald's write system calls per delivered message in a flood (strace -c)")(
        "input", po::value(&report.inputs)->multitoken(), ".jsonl result files");
    return flags;
}

boost::system::result<Duration, std::string> duration(const std::string& value, const char* flag) {
    auto parsed = parse_duration(value);
    if (!parsed) return "--" + std::string(flag) + ": " + parsed.error();
    return *parsed;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
    unsigned port = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (error != std::errc{} || end != text.data() + text.size() || port == 0 || port > 65535)
        return std::nullopt;
    return static_cast<std::uint16_t>(port);
}

std::optional<std::string> finish_common(CommonOptions& common, const Text& text) {
    std::string host = text.host == "localhost" ? "127.0.0.1" : text.host;
    error_code error;
    auto address = asio::ip::make_address(host, error);
    if (error) return "--host must be an IP address, got '" + text.host + "'";
    if (!address.is_loopback()) return "refusing non-loopback target " + host;
    common.host = host;
    auto port = parse_port(text.port);
    if (!port) return "--port: bad port";
    common.port = *port;
    if (!text.publish_port.empty()) {
        auto publish_port = parse_port(text.publish_port);
        if (!publish_port) return "--publish-port: bad port";
        common.publish_port = *publish_port;
    }
    if (text.adapter == "seed") {
        common.adapter = AdapterKind::seed;
    } else if (text.adapter == "nchan") {
        common.adapter = AdapterKind::nchan;
    } else {
        return "--adapter must be seed or nchan";
    }
    std::istringstream pids(text.pid);
    for (std::string pid; std::getline(pids, pid, ',');)
        if (!pid.empty()) common.pids.push_back(std::stoi(pid));
    auto dial_timeout = duration(text.dial_timeout, "dial-timeout");
    if (!dial_timeout) return dial_timeout.error();
    common.dial_timeout = *dial_timeout;
    auto max_time = duration(text.max_time, "max-time");
    if (!max_time) return max_time.error();
    common.max_time = *max_time;
    if (common.label.empty()) common.label = std::string(common.adapter_name()) + "@" + text.port;
    if (common.dial_concurrency < 1) return "--dial-concurrency must be at least 1";
    return std::nullopt;
}

std::optional<std::string> finish_soak(SoakOptions& soak, CommonOptions& common,
                                       const po::variables_map& values) {
    if (soak.connections < 1 || soak.publishers < 1) return "sizes must be at least 1";
    if (soak.churn < 0 || soak.rate < 0) return "--churn and --rate must not be negative";
    if (soak.ramp <= 0) return "--ramp must be positive";
    if (soak.sample <= Duration::zero() || soak.duration < soak.sample)
        return "--sample must be positive and at most --duration";
    if (common.pids.empty()) return "soak needs --pid: it samples the server's RSS and CPU";
    soak.warmup = std::min(soak.warmup, soak.duration / 2);
    // The watchdog's default is for short scenarios; a soak is as long as it is asked to be,
    // plus its ramp and drain.
    if (values["max-time"].defaulted()) common.max_time = soak.duration + std::chrono::minutes(3);
    return std::nullopt;
}

// Invocation is an aggregate, so C++20 can construct it from a string as well: errors are
// built explicitly.
using ParseResult = boost::system::result<Invocation, std::string>;
ParseResult failure(std::string message) {
    return ParseResult(boost::system::in_place_error, std::move(message));
}

}  // namespace

tcp::endpoint CommonOptions::server() const {
    return {asio::ip::make_address(host), port};
}

tcp::endpoint CommonOptions::publisher() const {
    return {asio::ip::make_address(host), publish_port ? publish_port : port};
}

std::string usage() {
    return "usage: herald-bench conns|scale|fanout|latency|multicast|soak [options]\n"
           "       herald-bench report [--output FILE] [--command TEXT] FILE.jsonl...\n"
           "Run 'herald-bench COMMAND --help' for the options of a command.\n";
}

boost::system::result<Invocation, std::string> parse_invocation(int argc, char** argv) {
    if (argc < 2) return failure(usage());
    Invocation invocation;
    invocation.command = argv[1];
    const std::string& command = invocation.command;
    Text text;
    po::options_description flags;
    po::positional_options_description positional;
    if (command == "report") {
        flags.add(report_flags(invocation.report));
        positional.add("input", -1);
    } else {
        flags.add(common_flags(invocation.common, text));
        if (command == "conns" || command == "scale") {
            flags.add(conns_flags(invocation.conns, text));
            if (command == "scale") flags.add(scale_flags(text));
        } else if (command == "fanout" || command == "latency") {
            flags.add(publish_flags(invocation.publish, text, command == "latency"));
        } else if (command == "multicast") {
            flags.add(multicast_flags(invocation.multicast, text));
        } else if (command == "soak") {
            flags.add(soak_flags(invocation.soak, text));
        } else {
            return failure("unknown command '" + command + "'\n" + usage());
        }
    }
    po::variables_map values;
    try {
        po::store(
            po::command_line_parser(argc - 1, argv + 1).options(flags).positional(positional).run(),
            values);
        po::notify(values);
    } catch (const po::error& error) {
        return failure(error.what());
    }
    if (values.count("help")) {
        std::ostringstream help;
        help << "usage: herald-bench " << command << " [options]\n" << flags;
        invocation.help = true;
        invocation.help_text = help.str();
        return invocation;
    }
    if (command == "report") {
        if (invocation.report.inputs.empty()) return failure("report: no input files");
        if (values.count("flood-writes"))
            invocation.report.flood_writes = values["flood-writes"].as<double>();
        return invocation;
    }
    if (auto error = finish_common(invocation.common, text)) return failure(*error);

    // Durations of the command's own flags; the text of flags the command lacks stays empty.
    struct DurationFlag {
        const std::string& text;
        const char* name;
        Duration& target;
    };
    const DurationFlag duration_flags[] = {
        {text.settle, "settle", invocation.conns.settle},
        {text.hold, "hold", invocation.conns.hold},
        {text.dial_budget, "dial-budget", invocation.conns.dial_budget},
        {text.duration, "duration", invocation.publish.duration},
        {text.drain, "drain", invocation.publish.drain},
        {text.round_timeout, "round-timeout", invocation.multicast.round_timeout},
        {text.soak_duration, "duration", invocation.soak.duration},
        {text.sample, "sample", invocation.soak.sample},
        {text.warmup, "warmup", invocation.soak.warmup},
        {text.lead, "lead", invocation.soak.lead},
        {text.grace, "grace", invocation.soak.grace},
    };
    for (const auto& flag : duration_flags) {
        if (flag.text.empty()) continue;
        auto parsed = duration(flag.text, flag.name);
        if (!parsed) return failure(parsed.error());
        flag.target = *parsed;
    }
    if (command == "conns" || command == "scale")
        invocation.conns.spread_sources = values.count("no-spread") == 0;
    if (command == "scale") {
        ConnsOptions& conns = invocation.conns;
        std::istringstream ports(text.ports.empty() ? text.port : text.ports);
        for (std::string port; std::getline(ports, port, ',');) {
            auto parsed = parse_port(port);
            if (!parsed) return failure("--ports: bad port '" + port + "'");
            conns.ports.push_back(*parsed);
        }
        if (conns.ports.empty()) return failure("--ports: no port");
        invocation.common.port = conns.ports.front();
        if (invocation.common.publish_port)
            return failure("scale probes through the next node of --ports, not --publish-port");
        // Every connection unless a sample was asked for.
        conns.verify_all = values["verify"].defaulted();
        if (!invocation.common.pids.empty() && invocation.common.pids.size() < conns.ports.size())
            return failure("scale: --pid needs a PID for each port of --ports, in their order");
    }
    if (command == "soak" && invocation.common.publish_port)
        return failure("soak publishes to the node it samples: no --publish-port");
    if (command == "fanout") invocation.publish.rate = 0;  // closed loop
    if (invocation.conns.connections < 1 || invocation.publish.users < 1 ||
        invocation.multicast.users < 1 || invocation.publish.concurrency < 1)
        return failure("sizes must be at least 1");
    if (command == "latency" && invocation.publish.rate < 1)
        return failure("--rate must be at least 1");
    if (command == "soak") {
        if (auto error = finish_soak(invocation.soak, invocation.common, values))
            return failure(*error);
    }
    return invocation;
}

}  // namespace herald::bench
