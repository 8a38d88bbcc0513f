#!/usr/bin/env bash
# Soak test: Herald under a steady mix of idle connections, churn and publishing for a long time
# (10 minutes by default), sampled every few seconds into a CSV (server RSS and CPU, /stats,
# delivery latency, losses) and drawn to a PNG. Fails when a message was lost, something went
# wrong, or the server's RSS grew by more than --max-rss-growth percent after warm-up.
#
#   tools/soak.sh                      10 minutes; results in build/soak/
#   tools/soak.sh --duration 1m        a quick look
#   tools/soak.sh --doc                also writes docs/soak.md, docs/soak.png, docs/soak.csv
#
# A 10-minute run is longer than one foreground shell command may take here; start it in the
# background:  nohup tools/soak.sh --doc > /tmp/soak.log 2>&1 &
#
# The server is started on a free port and stopped by its PID (TERM, then KILL after 5 s),
# pinned to the last CPU and herald-bench to the others (taskset), as tools/bench/run.sh does.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=tools/bench/servers.sh
. "$here/bench/servers.sh"
command_line="tools/soak.sh${*:+ $*}"

usage() {
  awk 'NR > 1 && !/^#/ {exit} NR > 1' "$0"
  cat <<'EOF'

Options:
  --duration D         length of the run (default 10m; units ms, s, m)
  --connections N      connections held open (default 2000)
  --churn R            connections closed and reopened per second (default 50)
  --rate M             publishes per second (default 500)
  --sample S           interval of the CSV rows (default 5s)
  --warmup W           RSS must be flat after this (default 60s, at most half the duration)
  --max-rss-growth P   fail when RSS grew more than P percent after warm-up (default 10)
  --out-dir DIR        CSV, PNG, result and logs (default build/soak)
  --doc                also write docs/soak.csv, docs/soak.png and docs/soak.md
  --no-plot            no PNG (and no gnuplot install)
  --no-build           use the binaries as they are
  --replot             no run: redraw (and with --doc rewrite docs/) from the last run in --out-dir
  --herald BIN, --bench BIN   binaries to use (default build/release/...)
  --server-note TEXT   what the server binary is, for docs/soak.md (default: the commit of
                       this work tree, and whether source/ has uncommitted changes)
  -- ARGS              more herald-bench soak flags (herald-bench soak --help)
EOF
}

duration=10m connections=2000 churn=50 rate=500 sample=5s warmup=60s max_growth=10
out_dir=$repo/build/soak
write_doc=0 plot=1 build=1 replot=0
herald_bin=$repo/build/release/herald
bench_bin=$repo/build/release/tools/bench/herald-bench
extra=() server_note=""
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2;;
    --connections) connections=$2; shift 2;;
    --churn) churn=$2; shift 2;;
    --rate) rate=$2; shift 2;;
    --sample) sample=$2; shift 2;;
    --warmup) warmup=$2; shift 2;;
    --max-rss-growth) max_growth=$2; shift 2;;
    --out-dir) out_dir=$(realpath -m "$2"); shift 2;;
    --doc) write_doc=1; shift;;
    --no-plot) plot=0; shift;;
    --no-build) build=0; shift;;
    --replot) replot=1; build=0; shift;;
    --herald) herald_bin=$(realpath -m "$2"); shift 2;;
    --bench) bench_bin=$(realpath -m "$2"); shift 2;;
    --server-note) server_note=$2; shift 2;;
    --) shift; extra=("$@"); break;;
    -h|--help) usage; exit 0;;
    *) echo "soak.sh: unknown option $1" >&2; usage >&2; exit 2;;
  esac
done
[ "$write_doc" = 1 ] && plot=1

# ---- tools ----------------------------------------------------------------------------------
# gnuplot draws the PNG, jq reads the result for docs/soak.md; both only when needed.
need=()
command -v taskset >/dev/null || need+=(util-linux)
if [ "$plot" = 1 ]; then command -v gnuplot >/dev/null || need+=(gnuplot-nox); fi
if [ "$write_doc" = 1 ]; then command -v jq >/dev/null || need+=(jq); fi
if [ ${#need[@]} -gt 0 ]; then
  install=(apt-get install -y --no-install-recommends "${need[@]}")
  if [ "$(id -u)" -ne 0 ]; then
    echo "soak.sh: missing packages: ${need[*]}" >&2
    echo "soak.sh: run as root:  apt-get update && DEBIAN_FRONTEND=noninteractive ${install[*]}" >&2
    exit 1
  fi
  echo "soak.sh: installing ${need[*]}" >&2
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "${install[@]:1}"
fi

mkdir -p "$out_dir"
csv=$out_dir/soak.csv png=$out_dir/soak.png result=$out_dir/result.jsonl
server_log=$out_dir/server.log bench_log=$out_dir/bench.log

# ---- pinning --------------------------------------------------------------------------------
set_placement 1 -10

# ---- the server -----------------------------------------------------------------------------
SRV_PID="" server_port=""
start_server() { # PORT
  # exec: the PID we hold is the server's own. Its soft descriptor limit goes up to the hard one.
  "${server_prefix[@]}" bash -c 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"' server \
    "$herald_bin" --address 127.0.0.1 --port "$1" --log-level warn >"$server_log" 2>&1 &
  SRV_PID=$!
  for _ in $(seq 100); do
    port_open "$1" && return 0
    kill -0 "$SRV_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "soak.sh: herald did not come up on port $1 (see $server_log)" >&2
  return 1
}
stop_server() {
  [ -n "$SRV_PID" ] || return 0
  stop_pid "$SRV_PID" "$server_port"
  SRV_PID=""
}
trap stop_server EXIT
trap 'exit 130' INT TERM

# ---- the soak -------------------------------------------------------------------------------
# What the server binary is, for docs/soak.md; taken before the build, since source/ may change
# during a long run.
describe_server() {
  server_note="\`${herald_bin#"$repo"/}\`"
  [ "$herald_bin" = "$repo/build/release/herald" ] || return 0
  server_note+=" built from commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')"
  git -C "$repo" diff --quiet HEAD -- source CMakeLists.txt 2>/dev/null ||
    server_note+=" with uncommitted changes in source/"
}

status=0
run_soak() {
  [ -n "$server_note" ] || describe_server
  if [ "$build" = 1 ]; then
    "$repo/tools/setup-deps.sh"
    (cd "$repo" &&
      { [ -f build/release/CMakeCache.txt ] || cmake --preset release >/dev/null; } &&
      cmake --build --preset release --target herald herald-bench)
  fi
  for binary in "$herald_bin" "$bench_bin"; do
    [ -x "$binary" ] || { echo "soak.sh: no $binary (drop --no-build?)" >&2; exit 1; }
  done
  : >"$result"
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >"$out_dir/load.txt"
  server_port=$(free_port)
  local port=$server_port
  start_server "$port" || exit 1
  echo "soak.sh: herald (PID $SRV_PID, port $port); $connections connections, churn $churn/s," \
    "$rate publishes/s for $duration; samples in $csv" >&2
  "${bench_prefix[@]}" "$bench_bin" soak --port "$port" --pid "$SRV_PID" --label herald \
    --connections "$connections" --churn "$churn" --rate "$rate" --duration "$duration" \
    --sample "$sample" --warmup "$warmup" --max-rss-growth "$max_growth" --csv "$csv" \
    --out "$result" "${extra[@]}" >/dev/null 2>"$bench_log" || status=$?
  stop_server
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out_dir/load.txt"
  tail -n 1 "$bench_log" >&2
  [ "$status" = 0 ] || echo "soak.sh: herald-bench soak exited $status (see $bench_log)" >&2
  [ -s "$csv" ] && [ -s "$result" ] || exit "$((status ? status : 1))"
}

if [ "$replot" = 1 ]; then
  [ -s "$csv" ] && [ -s "$result" ] || { echo "soak.sh: no run to redraw in $out_dir" >&2; exit 1; }
  grep -q '"ok":true' "$result" || status=1
else
  run_soak
fi

# A number from the result line, without jq.
field() { sed -n "s/.*\"$1\":\([0-9.eE+-]*\).*/\1/p" "$result" | tail -n 1; }

# ---- the plot -------------------------------------------------------------------------------
if [ "$plot" = 1 ]; then
  warmup_s=$(field warmup_sec)
  run_connections=$(field connections)
  title="Herald soak: $run_connections connections, churn $(printf %g "$(field churn_per_sec)")/s,"
  title+=" $(printf %g "$(field rate)") publishes/s, $(sed -n 's/.*"time":"\([0-9-]*\)T.*/\1/p' "$result" | tail -n 1)"
  gnuplot <<EOF
set terminal pngcairo size 1000,1100 font "sans,10"
set output "$png"
set datafile separator comma
set datafile columnheaders
set multiplot layout 4,1 title "$title"
set grid
set xrange [0:*]
set key top right
set lmargin 10
warmup = ${warmup_s:-0} / 60.0
set arrow 1 from warmup, graph 0 to warmup, graph 1 nohead dashtype 2 linecolor "gray"
set label 1 "end of warm-up" at warmup, graph 0.9 offset 0.5,0 textcolor "gray"
set ylabel "RSS (MiB)"
set yrange [0:*]
set key bottom right
plot "$csv" using (column("elapsed_s")/60):(column("server_rss_kb")/1024.0) with linespoints pointsize 0.5 title "server RSS"
unset label 1
set key top right
set ylabel "CPU (%)"
plot "$csv" using (column("elapsed_s")/60):"server_cpu_pct" with lines title "server", \
     "" using (column("elapsed_s")/60):"bench_cpu_pct" with lines title "herald-bench"
set ylabel "connections"
set yrange [0:$run_connections * 1.25]
plot "$csv" using (column("elapsed_s")/60):"connections" with lines linewidth 3 title "connections (/stats)", \
     "" using (column("elapsed_s")/60):"users" with lines title "users (/stats)"
set ylabel "latency (ms)"
set xlabel "minutes"
set logscale y
set yrange [*:*]
plot "$csv" using (column("elapsed_s")/60):"latency_p50_ms" with lines title "p50", \
     "" using (column("elapsed_s")/60):"latency_p99_ms" with lines title "p99", \
     "" using (column("elapsed_s")/60):"latency_max_ms" with lines dashtype 3 title "max"
unset multiplot
EOF
  echo "soak.sh: plot in $png" >&2
fi

# ---- docs/soak.md ---------------------------------------------------------------------------
if [ "$write_doc" = 1 ]; then
  docs=$repo/docs
  mkdir -p "$docs"
  cp "$csv" "$docs/soak.csv"
  cp "$png" "$docs/soak.png"
  r() { jq -r "$1" "$result"; }
  mib() { jq -r "($1) / 1024 * 10 | round / 10" "$result"; }
  fixed() { jq -r "($1) * 100 | round / 100 | if . == 0 then 0 else . end" "$result"; }
  verdict="passed"
  [ "$(r .ok)" = true ] || verdict="FAILED (see the errors below)"
  if [ "$(r .rss_flat)" = true ]; then
    rss_verdict="flat after warm-up: within $(r .max_rss_growth_pct)% of its value at the end of warm-up"
  else
    rss_verdict="**not flat after warm-up**: it grew by more than $(r .max_rss_growth_pct)%"
  fi
  load=$(paste -sd';' "$out_dir/load.txt" 2>/dev/null | sed 's/;/; /' || true)
  errors=$(jq -r '.errors[]? | "- " + .' "$result")
  cpu_model=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
  memory_gib=$(awk '/^MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)
  [ -n "$server_note" ] || describe_server
  cat >"$docs/soak.md" <<EOF
# Soak test

Herald under a steady mix of idle connections, churn and publishing for $(fixed '.duration_sec / 60') min,
sampled every $(r .sample_sec) s. Written by \`tools/soak.sh --doc\`, which any later run replaces; the
command of this one:

\`\`\`sh
$command_line
\`\`\`

- date: $(r .time); server: $server_note
- machine: $(nproc) x $cpu_model, $memory_gib GiB, $(uname -sr); $pin_text${load:+; $load}
- load: $(r .connections) connections, half in seed mode and half in the JSON protocol;
  $(r .churn_per_sec) a second closed (alternately a clean WebSocket close and a TCP reset) and
  reopened with a new uid; $(r .rate) publishes a second over $(r .publishers) keep-alive
  connections to random connected users: about 45% \`GET /send\`, 45% \`POST /send {"uid"}\`,
  10% \`POST /send {"uids":[2 to 5]}\` (every other list names a uid twice); messages of
  $(r .size) bytes
- warm-up: $(r .warmup_sec) s; after it RSS may grow by at most $(r .max_rss_growth_pct)%

Result: **$verdict**. Server RSS is $rss_verdict.

![RSS, CPU, connections and latency over the run](soak.png)

| figure | value |
|---|---|
| server RSS before the load | $(mib .server_rss_before_kb) MiB |
| server RSS at the end of warm-up ($(fixed .rss_warmup_at_sec) s) | $(mib .rss_warmup_kb) MiB |
| server RSS at the end | $(mib .rss_end_kb) MiB ($(fixed .rss_growth_pct)%) |
| server RSS: highest after warm-up | $(mib .rss_max_after_warmup_kb) MiB |
| server RSS: slope after warm-up (least squares) | $(fixed .rss_slope_kb_per_min) KiB/min |
| server CPU after warm-up (one core = 100%) | $(fixed .server_cpu_pct_mean)% |
| latency p50 / p99 / p99.9 / max | $(fixed '.lat_p50_us / 1000') / $(fixed '.lat_p99_us / 1000') / $(fixed '.lat_p999_us / 1000') / $(fixed '.lat_max_us / 1000') ms |
| publishes answered (failed) | $(r .publishes) ($(r .publish_failures)) |
| messages expected / received / lost | $(r .expected) / $(r .received) / $(r .lost) |
| logins / connections churned | $(r .logins) / $(r .churned) |
| connections closed by the server | $(r .dropped_connections) |
| errors | $(jq -r '[.errors[]? | capture("^(?<n>[0-9]+)x") | .n | tonumber] | add // 0' "$result") |
${errors:+
Errors:

$errors
}
How it counts. Latency runs from the publish (a \`CLOCK_MONOTONIC\` stamp in the message) to
its arrival. A message is lost when the server's answer said it was queued to a connection
(\`{"delivered":N}\` naming every target) and it had not arrived when that connection closed
(churned, or at the end of the run), at least $(r .grace_sec) s after the answer; a connection
the server closes is an error of its own. RSS is VmRSS from \`/proc/<pid>/status\`; CPU is
utime + stime from \`/proc/<pid>/stat\` over each interval.

[soak.csv](soak.csv) holds every sample: \`elapsed_s\`, \`server_rss_kb\`, \`server_cpu_pct\`,
\`connections\`, \`users\`, \`messages_published\`, \`messages_delivered\` (the server's
\`/stats\`, which count the probes of seed logins too), \`latency_p50_ms\`, \`latency_p99_ms\`,
\`latency_max_ms\` (over the interval), \`lost\`, \`errors\`, \`publishes\`, \`received\`,
\`churned\` (so far), \`bench_cpu_pct\`.
EOF
  echo "soak.sh: wrote docs/soak.md, docs/soak.png, docs/soak.csv" >&2
fi
exit "$status"
