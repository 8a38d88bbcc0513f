// herald-bench's command line: a subcommand, the flags every scenario shares, and its own.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/system/result.hpp>

#include "herald/net.hpp"

namespace herald::bench {

using Duration = std::chrono::milliseconds;

// How a server speaks: the seed protocol (herald, seed-go) or nchan's (see adapter.hpp).
enum class AdapterKind { seed, nchan };

struct CommonOptions {
    std::string host = "127.0.0.1";  // loopback only: this is a load generator
    std::uint16_t port = 8181;
    // Publishes (and probes) go to this port instead: another node of a cluster, so that what
    // is published crosses Redis on its way to the subscribers. 0: `port`.
    std::uint16_t publish_port = 0;
    std::vector<int> pids;  // the server's processes, for /proc sampling (descendants included)
    AdapterKind adapter = AdapterKind::seed;
    std::string label;  // the server's name in the report
    std::string note;   // free text stored with the result
    int run = 1;
    std::string out;  // append the result as one JSON line to this file
    std::string ws_path = "/ws";
    std::string send_path = "/send";
    std::string sub_prefix = "/sub/";
    std::string pub_prefix = "/pub/";
    int dial_concurrency = 200;  // WebSocket dials in flight (per process)
    Duration dial_timeout = std::chrono::seconds(10);
    Duration max_time = std::chrono::minutes(10);  // watchdog: the process ends whatever happens
    std::string uid_prefix;                        // random per run when empty

    tcp::endpoint server() const;
    tcp::endpoint publisher() const;  // where publishes go: publish_port, or port
    const char* adapter_name() const { return adapter == AdapterKind::seed ? "seed" : "nchan"; }
};

struct ConnsOptions {
    int connections = 10000;
    int workers = 0;         // 0: enough for per_worker, and at least 2
    int per_worker = 15000;  // one process may hold at most 20,000 descriptors here
    int verify = 200;        // probes to random connected uids
    Duration settle = std::chrono::seconds(2);  // after the last dial, before sampling memory
    Duration hold = Duration::zero();
    Duration dial_budget = std::chrono::seconds(120);
    int max_fail = 200;  // stop dialing after this many failures (a server out of descriptors)
    bool spread_sources = true;  // worker i dials from 127.0.0.(2+i)
    // scale: the nodes' ports (worker i dials ports[i % n]; the first n PIDs of --pid are the
    // nodes', in this order), and every connection is probed, through the next node.
    std::vector<std::uint16_t> ports;
    bool verify_all = false;
};

struct PublishOptions {
    int users = 1000;
    int concurrency = 32;  // publisher connections (fanout; latency defaults to 16)
    Duration duration = std::chrono::seconds(10);
    std::size_t size = 64;
    int rate = 1000;  // latency: messages per second, open loop
    Duration drain = std::chrono::seconds(5);
    std::int64_t max_messages = 5'000'000;
};

struct MulticastOptions {
    int users = 10000;
    int repeats = 5;
    std::size_t size = 64;
    Duration round_timeout = std::chrono::seconds(10);
    // > 0: each send is a batch publish of this many messages, each to a random user, instead
    // of one message to the list of all (the "batch" scenario).
    int batch = 0;
};

struct SoakOptions {
    int connections = 2000;
    double churn = 50;   // connections closed and reopened per second
    double rate = 500;   // publishes per second, in all
    int publishers = 4;  // keep-alive publisher connections
    Duration duration = std::chrono::minutes(10);
    Duration sample = std::chrono::seconds(5);   // one CSV row per interval
    Duration warmup = std::chrono::seconds(60);  // RSS is judged from here on
    // A connection chosen for churn stops being a publish target this long before it closes,
    // so that what was published to it can arrive first.
    Duration lead = std::chrono::seconds(1);
    // How long after its publish was answered a message may take to arrive before it counts as
    // lost (when the connection closes, or at the end).
    Duration grace = std::chrono::seconds(2);
    std::size_t size = 64;
    double ramp = 500;               // dials per second while the connections are first opened
    double max_rss_growth_pct = 10;  // from the end of warm-up to the end
    std::string csv;                 // the samples; stdout gets the result line
};

struct ReportOptions {
    std::vector<std::string> inputs;         // .jsonl files
    std::string output;                      // markdown; stdout when empty
    std::string command;                     // the command line that produced the results
    std::string settings;                    // free text: sizes, pinning (one line each)
    std::string baseline = "herald";         // the server the ratios are about
    std::string floor = "floor";             // the reference server (herald-floor): not a peer
    std::string cluster = "herald-cluster";  // the baseline's nodes sharing a Redis: not a peer
    // A folder for the charts' data (gnuplot tables; tools/bench/charts.gp draws them), named
    // relative to the markdown, which then shows the charts; none when empty.
    std::string charts;
    // Herald's write system calls per delivered message in a flood (run.sh counts them with
    // strace -c in a run of its own); no target row without it.
    std::optional<double> flood_writes;
};

struct Invocation {
    std::string command;  // conns, scale, fanout, latency, multicast, soak or report
    bool help = false;
    std::string help_text;
    CommonOptions common;
    ConnsOptions conns;
    PublishOptions publish;
    MulticastOptions multicast;
    SoakOptions soak;
    ReportOptions report;
};

// Parses argv; an error is a one-line message.
boost::system::result<Invocation, std::string> parse_invocation(int argc, char** argv);

std::string usage();

}  // namespace herald::bench
