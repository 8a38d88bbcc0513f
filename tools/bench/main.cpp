// herald-bench: the benchmark client. tools/bench/run.sh is the one command that drives it
// against Herald and the peers; see tools/bench/README.md.
//
//   herald-bench conns     -n 10000 ...        N idle logged-in connections: memory, connect rate
//   herald-bench scale     -n 100000 --ports P1,...,P6 --pid N1,...,N6,REDIS   the same over the
//                          nodes of a cluster, every connection probed through another node
//   herald-bench fanout    -m 1000 -c 32 -d 10s   closed-loop publishers: throughput, CPU, latency
//   herald-bench latency   -m 1000 --rate 1000    open loop at a fixed rate: latency percentiles
//   herald-bench multicast -m 10000 -k 5          one POST /send to a list of all users
//   herald-bench soak      -n 2000 --churn 50 --rate 500 -d 10m --pid P --csv F   RSS over time
//   herald-bench report    FILE.jsonl...          markdown tables and ratios
#include <csignal>
#include <iostream>

#include "options.hpp"
#include "scenario.hpp"

int main(int argc, char** argv) {
    using namespace herald::bench;
    // A peer that vanishes must fail a write, not end the process.
    std::signal(SIGPIPE, SIG_IGN);
    auto invocation = parse_invocation(argc, argv);
    if (!invocation) {
        std::cerr << "herald-bench: " << invocation.error() << '\n';
        return 2;
    }
    if (invocation->help) {
        std::cout << invocation->help_text;
        return 0;
    }
    const std::string& command = invocation->command;
    if (command == "report") return run_report(invocation->report);
    if (command == "conns" || command == "scale") return run_conns(*invocation);
    if (command == "multicast") return run_scenario(*invocation, multicast_scenario);
    if (command == "soak") return run_scenario(*invocation, soak_scenario);
    return run_scenario(*invocation, publish_scenario);
}
