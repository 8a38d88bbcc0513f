#!/usr/bin/env bash
# The one command of the benchmark: Herald and the peers of ../shared/peers (seed-go, nchan)
# through the same scenarios, every server a fresh process per scenario and run, servers
# interleaved so that drifting machine noise hits all alike; then the markdown with the ratios.
#
#   tools/bench/run.sh            3 runs at full size; writes docs/benchmarks.md (15-40 min)
#   tools/bench/run.sh --quick    small sizes, 1 run; writes build/bench/benchmarks.md (~3 min)
#   tools/bench/run.sh --smoke    Herald and the floor, tiny sizes; fails if anything is lost (CI)
#   tools/bench/run.sh --scale    6 cluster nodes holding 100,000 connections, each probed through
#                                 another node, beside one node (heavy: not part of the default run)
#
# "herald-cluster" is two herald nodes sharing a redis-server of their own (a free port, a
# temporary folder, no persistence), all three pinned to the server's CPU like a single server:
# subscribers dial node B and publishers send to node A, so every message crosses Redis. Its
# server CPU is both nodes and redis-server, summed. It runs the scenarios of --cluster-scenarios
# (default fanout and latency), next to herald alone in the same run.
#
# The fanout runs a second time under ../shared/peers' own Go load generator (bin/loadgen, labelled
# NAME+loadgen; not the cluster, not in --smoke): a client that no one here tuned.
#
# "floor" is herald-floor (tools/bench/floor_server.cpp): not a peer but a measuring instrument,
# the cheapest server that passes the scenarios, so that every figure can be read against what
# the kernel alone charges for the same traffic.
#
# Servers are started and stopped by PID (TERM, then KILL after 5 s), never by name. Each one
# runs pinned to the last CPU and herald-bench to the others, so neither steals from the other
# (a cluster: every node and its redis-server on that CPU).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=tools/bench/servers.sh
. "$here/servers.sh"
shared=$(realpath -m "$repo/../shared")
# ../shared is a read-only reference: anything its scripts write goes here.
export PEERS_WORK=${PEERS_WORK:-/tmp/herald-peers}
command_line="tools/bench/run.sh${*:+ $*}"

usage() {
  awk 'NR > 1 && !/^#/ {exit} NR > 1' "$0"
  cat <<'EOF'

Options:
  --quick | --smoke        small sizes, 1 run / Herald and the floor, tiny sizes
  --scale                  only the scale test: --scale-size's nodes and connections, then a
                           single node holding one node's share, --runs times; writes
                           build/bench/scale.jsonl (which a later full run's report includes)
  --scale-size K:N:HOLD    nodes:connections:hold (default 6:100000:30s)
  --runs K                 runs of every scenario (default 3)
  --servers LIST           any of herald,herald-cluster,seed-go,nchan,floor (default all five)
  --cluster-scenarios LIST the scenarios herald-cluster runs (default fanout,latency)
  --scenarios LIST         any of conns,fanout,latency,burst,crowd,multicast,batch,flood (default all;
                           burst is latency right after a fanout on the same server process,
                           crowd is latency while another process holds idle connections)
  --conns "N1 N2"          connection counts (default "10000 20000": 20000 shows the fd limit)
  --fanout M:C:D           users:publisher connections:duration (default 1000:32:10s)
  --latency M:R:D          users:messages per second:duration (default 1000:1000:10s)
  --multicast M:K          users:sends (default 10000:5)
  --batch M:K:N            users:sends:messages per send (default 1000:50:100): batch
                           publishes, each message to a random user
  --flood K:N              sends:messages per send (default 200:1000): batch publishes all to
                           one connected user, whose writer sends what is queued together; then
                           Herald's write system calls per delivery, counted by strace -c in a
                           run of their own (strace slows what it watches)
  --crowd N:D              crowd: idle connections:latency duration (default 10000:30s, long
                           enough for a whole round of keep-alive pings at 25 s)
  --out-dir DIR            results, logs and peer binaries (default build/bench)
  --doc                    write docs/benchmarks.md even with --quick or --smoke
  --no-build               use the binaries as they are
  --herald BIN, --bench BIN, --floor BIN  binaries to use (default build/release/...)
  --nice N                 nice level of server and load generator when root (default -10)
  --no-pin                 let server and load generator share all CPUs
  --quiet S:C              before each session wait up to S s until other processes use less
                           than C cores (default 20:0.5; --quick and --smoke: 0:0)
EOF
}

mode=full
runs="" servers="" scenarios="" conns_sizes="" fanout="" latency="" multicast="" batch="" flood="" crowd="" quiet=""
cluster_scenarios=fanout,latency scale_size=6:100000:30s
out_dir=$repo/build/bench
write_doc=0 build=1 pin=1 nice_level=-10
herald_bin=$repo/build/release/herald
bench_bin=$repo/build/release/tools/bench/herald-bench
floor_bin=$repo/build/release/tools/bench/herald-floor
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) mode=quick; shift;;
    --smoke) mode=smoke; shift;;
    --scale) mode=scale; shift;;
    --scale-size) scale_size=$2; shift 2;;
    --cluster-scenarios) cluster_scenarios=$2; shift 2;;
    --runs) runs=$2; shift 2;;
    --servers) servers=$2; shift 2;;
    --scenarios) scenarios=$2; shift 2;;
    --conns) conns_sizes=$2; shift 2;;
    --fanout) fanout=$2; shift 2;;
    --latency) latency=$2; shift 2;;
    --multicast) multicast=$2; shift 2;;
    --batch) batch=$2; shift 2;;
    --flood) flood=$2; shift 2;;
    --crowd) crowd=$2; shift 2;;
    --out-dir) out_dir=$(realpath -m "$2"); shift 2;;
    --doc) write_doc=1; shift;;
    --no-build) build=0; shift;;
    --herald) herald_bin=$(realpath -m "$2"); shift 2;;
    --bench) bench_bin=$(realpath -m "$2"); shift 2;;
    --floor) floor_bin=$(realpath -m "$2"); shift 2;;
    --nice) nice_level=$2; shift 2;;
    --no-pin) pin=0; shift;;
    --quiet) quiet=$2; shift 2;;
    -h|--help) usage; exit 0;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2;;
  esac
done

# Sizes: the peers' own defaults for a full run.
settle=2s
case "$mode" in
  full)
    : "${runs:=3}" "${servers:=herald,herald-cluster,seed-go,nchan,floor}" "${conns_sizes:=10000 20000}"
    : "${fanout:=1000:32:10s}" "${latency:=1000:1000:10s}" "${multicast:=10000:5}" "${quiet:=20:0.5}"
    : "${crowd:=10000:30s}" "${batch:=1000:50:100}" "${flood:=200:1000}";;
  quick)
    : "${runs:=1}" "${servers:=herald,herald-cluster,seed-go,nchan,floor}" "${conns_sizes:=2000}"
    : "${fanout:=200:8:3s}" "${latency:=200:500:3s}" "${multicast:=2000:3}" "${quiet:=0:0}"
    : "${crowd:=2000:3s}" "${batch:=1000:20:100}" "${flood:=50:1000}";;
  smoke)
    : "${runs:=1}" "${servers:=herald,herald-cluster,floor}" "${conns_sizes:=200}"
    : "${fanout:=50:4:1s}" "${latency:=50:200:1s}" "${multicast:=500:2}" "${quiet:=0:0}"
    : "${crowd:=100:1s}" "${batch:=100:2:50}" "${flood:=2:100}"
    settle=500ms;;
  scale)
    : "${runs:=3}" "${servers:=herald,herald-cluster}" "${quiet:=20:0.5}";;
esac
: "${scenarios:=conns,fanout,latency,burst,crowd,multicast,batch,flood}"
: "${batch:=1000:50:100}" "${flood:=200:1000}"
IFS=: read -r fanout_users fanout_conc fanout_dur <<<"$fanout"
IFS=: read -r lat_users lat_rate lat_dur <<<"$latency"
IFS=: read -r mc_users mc_repeats <<<"$multicast"
IFS=: read -r batch_users batch_repeats batch_size <<<"$batch"
IFS=: read -r flood_repeats flood_size <<<"$flood"
IFS=: read -r crowd_idle crowd_dur <<<"$crowd"
IFS=: read -r quiet_max quiet_cores <<<"$quiet"
IFS=: read -r scale_nodes scale_conns scale_hold <<<"$scale_size"
IFS=, read -ra server_list <<<"$servers"
if [ "$mode" = full ] || [ "$write_doc" = 1 ]; then
  report_md=$repo/docs/benchmarks.md
else
  report_md=$out_dir/benchmarks.md
fi

logdir=$out_dir/logs
jsonl=$out_dir/results.jsonl
# The scale test's results live beside the others: a full run's report includes the last ones.
scale_jsonl=$out_dir/scale.jsonl scale_settings=$out_dir/scale.settings
[ "$mode" = scale ] && jsonl=$scale_jsonl
mkdir -p "$out_dir" "$logdir"
: >"$jsonl"

# ---- build --------------------------------------------------------------------------------
if [ "$build" = 1 ]; then
  (cd "$repo" && cmake --preset release >/dev/null &&
    cmake --build --preset release --target herald herald-bench herald-floor)
fi
for binary in "$herald_bin" "$bench_bin" "$floor_bin"; do
  [ -x "$binary" ] || { echo "run.sh: no $binary (drop --no-build?)" >&2; exit 1; }
done

needs_peer() { [[ ",$servers," == *",$1,"* ]]; }
if needs_peer herald-cluster && ! command -v redis-server >/dev/null; then
  echo "run.sh: herald-cluster needs redis-server (tools/setup-deps.sh installs it)" >&2
  exit 1
fi
seedgo_bin=$out_dir/bin/seed-go
if needs_peer seed-go || needs_peer nchan; then
  [ -d "$shared/peers" ] || { echo "run.sh: no peers at $shared/peers" >&2; exit 1; }
  "$here/setup-peers.sh"
fi
# GOPATH mode against Debian's gocode: no module proxy is involved.
go_build() { # SOURCE_DIR BINARY
  mkdir -p "$out_dir/bin"
  (cd "$1" && GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= \
    GOCACHE=${GOCACHE:-/tmp/herald-bench-gocache} go build -o "$2" .)
}
if needs_peer seed-go && { [ "$build" = 1 ] || [ ! -x "$seedgo_bin" ]; }; then
  go_build "$shared/peers/peers/seed-go" "$seedgo_bin"
fi
# The peers' own load generator drives the fanout a second time (full and quick runs): a client
# that no one here tuned, so that a claim of being ahead of the peers does not rest on
# herald-bench alone.
loadgen_bin=$out_dir/bin/loadgen
with_loadgen=0
if [ "$mode" != smoke ] && [ "$mode" != scale ] && [[ ",${scenarios:-fanout}," == *",fanout,"* ]] &&
  { needs_peer seed-go || needs_peer nchan; }; then
  with_loadgen=1
  if [ "$build" = 1 ] || [ ! -x "$loadgen_bin" ]; then go_build "$shared/peers/loadgen" "$loadgen_bin"; fi
fi
# nchan's run.sh renders its nginx.conf under this prefix instead of /tmp/nchan-bench-PORT.
export NCHAN_PREFIX=$out_dir/nchan

# ---- pinning --------------------------------------------------------------------------------
set_placement "$pin" "$nice_level"

# ---- servers --------------------------------------------------------------------------------
# The server of a session: its processes and their ports (a cluster: its nodes', and its
# redis-server's apart), the port that subscribers dial, and the port publishes go to (a cluster:
# another node).
SRV_PIDS=() SRV_PORTS=() SRV_PORT="" SRV_PUB_PORT="" SRV_ADAPTER="" SRV_DIR=""
SRV_REDIS_PID="" SRV_REDIS_PORT=""
# For herald-bench --pid: the nodes' PIDs in the order of SRV_PORTS, then redis-server's.
srv_pid_list() { local IFS=,; echo "${SRV_PIDS[*]}${SRV_REDIS_PID:+,$SRV_REDIS_PID}"; }

# Starts one process of the server, pinned like any, and waits for its port.
launch() { # LOG PORT COMMAND...
  local log=$1 port=$2 pid
  shift 2
  # exec all the way down: the PID we hold is the server's own (nginx: its master).
  "${server_prefix[@]}" bash -c 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"' server "$@" \
    >>"$log" 2>&1 &
  pid=$!
  SRV_PIDS+=("$pid") SRV_PORTS+=("$port")
  for _ in $(seq 100); do
    port_open "$port" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "run.sh: $* did not come up on port $port (see $log)" >&2
  return 1
}

# The status code of GET PATH on 127.0.0.1:PORT, or nothing.
http_status() { # PORT PATH
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 0
    printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$2" >&3
    read -r -t 2 _ status _ <&3 && echo "$status"
  ) 2>/dev/null
}

# A redis-server of the cluster's own (a free port, a temporary folder, no persistence; never the
# system service) and NODES herald nodes on it.
start_cluster() { # NODES
  local nodes=$1 port i
  SRV_DIR=$(mktemp -d "${TMPDIR:-/tmp}/herald-bench-cluster.XXXXXX")
  SRV_REDIS_PORT=$(free_port)
  launch "$logdir/redis-server.log" "$SRV_REDIS_PORT" redis-server --port "$SRV_REDIS_PORT" \
    --bind 127.0.0.1 --dir "$SRV_DIR" --save "" --appendonly no --maxmemory 4gb \
    --maxmemory-policy noeviction --daemonize no || return 1
  SRV_REDIS_PID=${SRV_PIDS[0]} SRV_PIDS=() SRV_PORTS=()
  for i in $(seq "$nodes"); do
    port=$(free_port)
    launch "$logdir/herald-cluster.log" "$port" "$herald_bin" --address 127.0.0.1 --port "$port" \
      --log-level warn --redis "redis://127.0.0.1:$SRV_REDIS_PORT" --node-id "bench-$i" || return 1
  done
  # Ready: Redis's scripts loaded and every subscriber link up (a login before that gets 1013).
  for port in "${SRV_PORTS[@]}"; do
    for i in $(seq 100); do
      [ "$(http_status "$port" /readyz)" = 200 ] && break
      [ "$i" = 100 ] && { echo "run.sh: cluster node on $port never ready" >&2; return 1; }
      sleep 0.1
    done
  done
}

start_server() { # NAME [NODES]
  local name=$1 nodes=${2:-2} command=()
  SRV_PIDS=() SRV_PORTS=() SRV_PUB_PORT="" SRV_ADAPTER=seed
  echo "--- $(date -u +%FT%TZ) $name" >>"$logdir/$name.log"
  if [ "$name" = herald-cluster ]; then
    # Subscribers on node B, publishers to node A: every delivery crosses Redis.
    start_cluster "$nodes" || { stop_server; return 1; }
    SRV_PORT=${SRV_PORTS[1]} SRV_PUB_PORT=${SRV_PORTS[0]}
    return 0
  fi
  SRV_PORT=$(free_port)
  case "$name" in
    herald) command=("$herald_bin" --address 127.0.0.1 --port "$SRV_PORT" --log-level warn);;
    seed-go) command=("$seedgo_bin" -host 127.0.0.1 -port "$SRV_PORT");;
    nchan) command=("$shared/peers/peers/nchan/run.sh" "$SRV_PORT" 2); SRV_ADAPTER=nchan;;
    floor) command=("$floor_bin" --port "$SRV_PORT");;
    *) echo "run.sh: unknown server $name" >&2; return 1;;
  esac
  launch "$logdir/$name.log" "$SRV_PORT" "${command[@]}" || { stop_server; return 1; }
}
stop_server() { # the nodes first, then their redis-server
  local i
  for i in "${!SRV_PIDS[@]}"; do stop_pid "${SRV_PIDS[$i]}" "${SRV_PORTS[$i]}"; done
  [ -z "$SRV_REDIS_PID" ] || stop_pid "$SRV_REDIS_PID" "$SRV_REDIS_PORT"
  [ -z "$SRV_DIR" ] || rm -rf "$SRV_DIR"
  SRV_PIDS=() SRV_PORTS=() SRV_REDIS_PID="" SRV_REDIS_PORT="" SRV_DIR=""
}
trap stop_server EXIT
trap 'exit 130' INT TERM

# Other sessions may share this machine: wait (bounded) for a quiet moment, and note how busy
# it was in the result.
busy_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9; exit}' /proc/stat; }
QUIET_NOTE=""
wait_quiet() {
  local start=$SECONDS before after busy=0
  QUIET_NOTE=""
  [ "$quiet_max" -gt 0 ] || return 0
  while :; do
    before=$(busy_ticks); sleep 1; after=$(busy_ticks)
    busy=$(awk -v a="$before" -v b="$after" 'BEGIN{printf "%.2f", (b-a)/100}')
    awk -v x="$busy" -v y="$quiet_cores" 'BEGIN{exit !(x<y)}' && break
    [ $((SECONDS - start)) -ge "$quiet_max" ] && break
  done
  QUIET_NOTE="before the run: $busy busy cores (waited $((SECONDS - start)) s)"
}

failures=()
bench() { # LABEL SCENARIO RUN ARGS...
  local label=$1 scenario=$2 run=$3 status=0
  shift 3
  echo "== $label $scenario run $run: $*" >&2
  "${bench_prefix[@]}" timeout 900 "$bench_bin" "$scenario" --adapter "$SRV_ADAPTER" \
    --port "$SRV_PORT" ${SRV_PUB_PORT:+--publish-port "$SRV_PUB_PORT"} --pid "$(srv_pid_list)" \
    --label "$label" --run "$run" --out "$jsonl" \
    --note "$QUIET_NOTE" "$@" >>"$logdir/bench.out" 2>"$logdir/bench.last" || status=$?
  cat "$logdir/bench.last" >>"$logdir/bench.err"
  sed 's/^/   /' "$logdir/bench.last" >&2
  [ "$status" = 0 ] || failures+=("$label $scenario run $run (exit $status)")
}

# Latency while a second herald-bench holds idle logged-in connections on the same server: what
# a server's own upkeep of many connections (keep-alive walks, ping rounds) costs the others.
crowd() { # LABEL RUN
  local label=$1 run=$2 holder
  local holder_err=$logdir/crowd-holder.last
  : >"$holder_err"
  "${bench_prefix[@]}" timeout 900 "$bench_bin" conns --adapter "$SRV_ADAPTER" --port "$SRV_PORT" \
    ${SRV_PUB_PORT:+--publish-port "$SRV_PUB_PORT"} --pid "$(srv_pid_list)" \
    --connections "$crowd_idle" --settle 100ms --verify 0 --hold 900s \
    >/dev/null 2>"$holder_err" &
  holder=$!
  # Its "N/N connected" line comes once it has dialed them all.
  for _ in $(seq 1200); do
    grep -q "connected in" "$holder_err" && break
    kill -0 "$holder" 2>/dev/null || break
    sleep 0.1
  done
  if grep -q "^conns: $crowd_idle/$crowd_idle connected" "$holder_err"; then
    bench "$label+crowd" latency "$run" --users "$lat_users" --rate "$lat_rate" --duration "$crowd_dur"
  else
    failures+=("$label crowd run $run: the idle connections did not all connect ($(tail -1 "$holder_err"))")
  fi
  kill "$holder" 2>/dev/null || true  # its workers end as their command pipe closes
  wait "$holder" 2>/dev/null || true
  cat "$holder_err" >>"$logdir/bench.err"
}

session() { # SERVER SCENARIO RUN [N]
  local name=$1 scenario=$2 run=$3
  wait_quiet
  if ! start_server "$name"; then
    failures+=("$name $scenario run $run: server did not start")
    return 0
  fi
  case "$scenario" in
    conns) bench "$name" conns "$run" --connections "$4" --settle "$settle";;
    fanout) bench "$name" fanout "$run" --users "$fanout_users" --concurrency "$fanout_conc" --duration "$fanout_dur";;
    latency) bench "$name" latency "$run" --users "$lat_users" --rate "$lat_rate" --duration "$lat_dur";;
    burst)
      bench "$name+burst" fanout "$run" --users "$fanout_users" --concurrency "$fanout_conc" --duration "$fanout_dur"
      bench "$name+burst" latency "$run" --users "$lat_users" --rate "$lat_rate" --duration "$lat_dur";;
    crowd) crowd "$name" "$run";;
    multicast) bench "$name" multicast "$run" --users "$mc_users" --repeats "$mc_repeats";;
    batch) bench "$name" multicast "$run" --users "$batch_users" --repeats "$batch_repeats" --batch "$batch_size";;
    flood) bench "$name" multicast "$run" --users 1 --repeats "$flood_repeats" --batch "$flood_size";;
  esac
  stop_server
}

# The scale test: NODES cluster nodes holding N connections together, every connection probed
# through another node than its own; or one node alone holding one node's share.
scale_session() { # SERVER RUN
  local name=$1 run=$2 connections=$scale_conns ports
  wait_quiet
  if [ "$name" = herald-cluster ]; then
    start_server herald-cluster "$scale_nodes" || { failures+=("$name scale run $run: no cluster"); return 0; }
    SRV_PUB_PORT=""  # herald-bench scale probes through the next node itself
  else
    start_server "$name" || { failures+=("$name scale run $run: server did not start"); return 0; }
    connections=$(((scale_conns + scale_nodes - 1) / scale_nodes))
  fi
  ports=$(IFS=,; echo "${SRV_PORTS[*]}")
  bench "$name" scale "$run" --ports "$ports" --connections "$connections" --hold "$scale_hold" \
    --settle "$settle" --dial-budget 300s --max-time 20m
  stop_server
}

# ---- the runs -------------------------------------------------------------------------------
has() { [[ ",$scenarios," == *",$1,"* ]]; }
# herald-cluster runs only the scenarios of --cluster-scenarios.
# Batch publishes are Herald's own (the peers and the floor have none: its target compares with
# the floor's multicast), and so are floods, which are made of them.
runs_scenario() {
  { [ "$1" != herald-cluster ] || [[ ",$cluster_scenarios," == *",$2,"* ]]; } &&
    { { [ "$2" != batch ] && [ "$2" != flood ]; } || [[ "$1" == herald* ]]; }
}

# Herald's write system calls per delivered message in a flood, counted by strace -c attached
# to the server, in a run of its own; prints the figure or why there is none.
flood_write_calls() {
  command -v strace >/dev/null || { echo "not measured (no strace)"; return 0; }
  wait_quiet >&2
  start_server herald >&2 || { echo "not measured (the server did not start)"; return 0; }
  local counts=$logdir/flood-strace.txt tracer delivered
  strace -c -f -e trace=write,writev,sendmsg,sendto,sendmmsg -o "$counts" -p "$(srv_pid_list)" 2>/dev/null &
  tracer=$!
  # Counting starts once the server has a tracer.
  for _ in $(seq 100); do
    [ "$(awk '/^TracerPid:/{print $2}' "/proc/${SRV_PIDS[0]}/status" 2>/dev/null)" != 0 ] && break
    kill -0 "$tracer" 2>/dev/null || break
    sleep 0.1
  done
  "${bench_prefix[@]}" timeout 900 "$bench_bin" multicast --adapter "$SRV_ADAPTER" --port "$SRV_PORT" \
    --pid "$(srv_pid_list)" --users 1 --repeats 20 --batch "$flood_size" \
    >"$logdir/flood-strace.out" 2>>"$logdir/bench.err" || true
  kill -INT "$tracer" 2>/dev/null || true
  wait "$tracer" 2>/dev/null || true
  stop_server >&2
  delivered=$(grep -o '"delivered":[0-9]*' "$logdir/flood-strace.out" | head -1 | cut -d: -f2)
  awk -v d="${delivered:-0}" '$NF=="total"{calls=$4}
    END{if (d > 0 && calls > 0) printf "%.3f (%d calls for %d messages)\n", calls/d, calls, d;
        else print "not measured (strace could not attach)"}' "$counts" 2>/dev/null ||
    echo "not measured (strace could not attach)"
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
if [ "$mode" = scale ]; then
  for run in $(seq "$runs"); do
    for name in "${server_list[@]}"; do scale_session "$name" "$run"; done
  done
  scenarios=""
fi
if has conns; then
  for n in $conns_sizes; do
    for run in $(seq "$runs"); do
      for name in "${server_list[@]}"; do
        runs_scenario "$name" conns && session "$name" conns "$run" "$n"
      done
    done
  done
fi
flood_calls=""
# The fanout again, driven by ../shared/peers' bin/loadgen (same sizes; labelled NAME+loadgen):
# herald, the peers and the floor, never the cluster (loadgen publishes where it subscribes).
loadgen_session() { # SERVER RUN
  local name=$1 run=$2 status=0
  wait_quiet
  start_server "$name" || { failures+=("$name loadgen fanout run $run: server did not start"); return 0; }
  echo "== $name+loadgen fanout run $run" >&2
  "${bench_prefix[@]}" timeout 900 "$loadgen_bin" fanout -adapter "$SRV_ADAPTER" -port "$SRV_PORT" \
    -pid "$(srv_pid_list)" -children -label "$name+loadgen" -run "$run" -out "$jsonl" \
    -note "$QUIET_NOTE" -m "$fanout_users" -c "$fanout_conc" -d "$fanout_dur" \
    >"$logdir/loadgen.last" 2>&1 || status=$?
  cat "$logdir/loadgen.last" >>"$logdir/loadgen.log"
  tail -n 1 "$logdir/loadgen.last" | cut -c1-300 | sed 's/^/   /' >&2
  [ "$status" = 0 ] || failures+=("$name loadgen fanout run $run (exit $status)")
  stop_server
}
if [ "$with_loadgen" = 1 ]; then
  for run in $(seq "$runs"); do
    for name in "${server_list[@]}"; do
      [ "$name" = herald-cluster ] || loadgen_session "$name" "$run"
    done
  done
fi
for scenario in fanout latency burst crowd multicast batch flood; do
  has "$scenario" || continue
  for run in $(seq "$runs"); do
    for name in "${server_list[@]}"; do
      runs_scenario "$name" "$scenario" && session "$name" "$scenario" "$run"
    done
  done
done
if has flood && [ "$mode" != smoke ] && [[ ",$servers," == *",herald,"* ]]; then
  flood_calls=$(flood_write_calls)
  echo "== herald flood: write system calls per delivered message: $flood_calls" >&2
fi

# ---- the report -----------------------------------------------------------------------------
# The report of a full run includes the last scale test's results; one of the scale test alone
# (--scale) is of those only, unless --doc asks for docs/benchmarks.md: then with the last run's.
cluster_text="herald-cluster: its redis-server and both nodes on the server's CPU(s) too"
if [ "$mode" = scale ]; then
  {
    echo "scale test: \`$command_line\` ($(date -u +%F)): $scale_nodes nodes and their redis-server, or one node alone, on the server's CPU(s); ${pin_text}; $scale_conns connections (one node alone: one node's share), each probed through the next node, held ${scale_hold}; load average before / after: ${load_before} / $(cut -d' ' -f1-3 /proc/loadavg)"
  } >"$scale_settings"
else
  settings="pinning: $pin_text; $cluster_text (one I/O thread each: herald sizes its pool by the CPUs it may run on)
sizes: conns N = ${conns_sizes}; fanout ${fanout_users} users, ${fanout_conc} publisher connections, ${fanout_dur}; latency ${lat_users} users, ${lat_rate} msg/s, ${lat_dur}; crowd: the same latency for ${crowd_dur} beside ${crowd_idle} idle connections; multicast ${mc_users} users, ${mc_repeats} sends; batch ${batch_users} users, ${batch_repeats} sends of ${batch_size} messages; flood ${flood_repeats} sends of ${flood_size} messages to one user; messages of 64 bytes
${flood_calls:+flood, herald alone: write system calls per delivered message, ${flood_size} messages a send (strace -c, a run of its own): $flood_calls
}per-process open-file limit (hard; no one can raise it here): $(ulimit -Hn)
load average before / after: ${load_before} / $(cut -d' ' -f1-3 /proc/loadavg)
raw results: \`${jsonl#"$repo"/}\` (one JSON line per run); logs in \`${logdir#"$repo"/}\`"
  printf '%s\n' "$settings" >"$out_dir/results.settings"
  printf '%s\n' "$command_line" >"$out_dir/results.command"
  # The figure alone, for the report's targets.
  printf '%s\n' "${flood_calls%% *}" >"$out_dir/results.flood_writes"
fi
inputs=() report_settings="" report_command=$command_line flood_args=()
if [ "$mode" != scale ] || [ "$write_doc" = 1 ]; then
  if [ -s "$out_dir/results.jsonl" ]; then
    inputs+=("$out_dir/results.jsonl")
    report_settings=$(cat "$out_dir/results.settings" 2>/dev/null || true)
    report_command=$(cat "$out_dir/results.command" 2>/dev/null || echo "$command_line")
    flood_writes=$(cat "$out_dir/results.flood_writes" 2>/dev/null || true)
    [[ "$flood_writes" =~ ^[0-9.]+$ ]] && flood_args=(--flood-writes "$flood_writes")
  fi
fi
if { [ "$mode" = full ] || [ "$mode" = scale ]; } && [ -s "$scale_jsonl" ]; then
  inputs+=("$scale_jsonl")
  report_settings+=${report_settings:+$'\n'}$(cat "$scale_settings" 2>/dev/null || true)
fi
mkdir -p "$(dirname "$report_md")"
# The charts: their data beside the markdown (docs/benchmarks/ for docs/benchmarks.md), drawn by
# gnuplot when it is installed (setup-peers.sh installs it); the smoke test draws none.
charts_args=() charts_dir=""
if [ "$mode" != smoke ]; then
  charts_dir=$(dirname "$report_md")/$(basename "$report_md" .md)
  charts_args=(--charts "$(basename "$charts_dir")")
  rm -f "$charts_dir"/*.png
fi
"$bench_bin" report --output "$report_md" --command "$report_command" --settings "$report_settings" \
  "${charts_args[@]}" "${flood_args[@]}" "${inputs[@]}"
if [ -n "$charts_dir" ]; then
  if command -v gnuplot >/dev/null; then
    for table in "$charts_dir"/*.dat; do
      [ -e "$table" ] || continue
      gnuplot -e "table='$table'" "$here/charts.gp" || failures+=("chart of $table")
    done
  else
    echo "run.sh: no gnuplot, so no charts (tools/bench/setup-peers.sh installs gnuplot-nox)" >&2
  fi
fi

if [ ${#failures[@]} -gt 0 ]; then
  echo "run.sh: runs that lost or failed something (details in $report_md):" >&2
  printf '  %s\n' "${failures[@]}" >&2
  # A peer losing messages is a result; in the smoke test, anything lost is a failure.
  [ "$mode" = smoke ] && exit 1
fi
exit 0
