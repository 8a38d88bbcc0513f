#!/usr/bin/env bash
# Scrapes /metrics of the release binary after some traffic (publishes, an API error, an unknown
# path, a WebSocket upgrade) and runs Prometheus's own linter on it: `promtool check metrics`
# must have no complaint at all (it exits 1 on a parse error and 3 on a lint problem, such as a
# counter without _total or a family without HELP). promtool comes from Debian's prometheus
# package (tools/setup-deps.sh). Twice: a single node, and a cluster node on a redis-server of its
# own (with the Redis engine's families). Part of tools/ops-test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=build/release/herald
promtool=${PROMTOOL:-/usr/bin/promtool}
[ -x "$binary" ] || { echo "check-metrics: no $binary; build the release preset first" >&2; exit 1; }
[ -x "$promtool" ] || { echo "check-metrics: no $promtool; tools/setup-deps.sh installs it" >&2; exit 1; }

# Runs a herald with the given extra flags, makes some traffic, scrapes /metrics and lints it.
check_scrape() { # NAME FLAGS...
  local name=$1
  shift
  local log=$work/herald-$name.log port= herald
  "$binary" --address 127.0.0.1 --port 0 --threads 1 --log-format json --api-key "$key" "$@" \
    2>"$log" &
  herald=$!
  pids+=("$herald")

  # The start-up line names the port (bounded: 10 s).
  for _ in $(seq 100); do
    port=$(jq -r 'select(.event == "listening") | .port' "$log" 2>/dev/null | head -n1 || true)
    [ -n "$port" ] && break
    kill -0 "$herald" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$port" ] || { echo "check-metrics: herald ($name) did not start" >&2; cat "$log" >&2; exit 1; }
  local url=http://127.0.0.1:$port
  local curl=(curl --silent --show-error --max-time 5)
  # Ready: in a cluster, once its links to Redis are up (bounded: 10 s).
  for _ in $(seq 100); do
    [ "$("${curl[@]}" -o /dev/null -w '%{http_code}' "$url/readyz")" = 200 ] && break
    sleep 0.1
  done

  for i in 1 2 3; do
    "${curl[@]}" -o /dev/null -H "X-API-Key: $key" "$url/send?uid=u$i&message=m$i"
  done
  "${curl[@]}" -o /dev/null "$url/stats"          # 401
  "${curl[@]}" -o /dev/null "$url/no/such/path"   # 404
  "${curl[@]}" -o /dev/null "$url/readyz"
  # An upgrade that is answered 101 and then left without a login: the server closes it.
  "${curl[@]}" -o /dev/null --max-time 1 --http1.1 -H "Connection: Upgrade" -H "Upgrade: websocket" \
    -H "Sec-WebSocket-Version: 13" -H "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==" "$url/ws" 2>/dev/null || true

  local metrics=$work/metrics-$name.txt headers=$work/headers-$name
  "${curl[@]}" --fail -H "X-API-Key: $key" -D "$headers" -o "$metrics" "$url/metrics"
  grep -qi '^content-type: text/plain; version=0.0.4' "$headers" \
    || { echo "check-metrics ($name): /metrics answered $(grep -i '^content-type' "$headers")" >&2; exit 1; }
  grep -q '^herald_http_requests_total{endpoint="send",code="200"} 3$' "$metrics" \
    || { echo "check-metrics ($name): the publishes are not counted" >&2; exit 1; }

  local status=0
  "$promtool" check metrics <"$metrics" >"$work/promtool-$name.txt" 2>&1 || status=$?
  if [ "$status" -ne 0 ] || [ -s "$work/promtool-$name.txt" ]; then
    echo "check-metrics ($name): promtool check metrics exited $status:" >&2
    cat "$work/promtool-$name.txt" >&2
    exit 1
  fi
  echo "check-metrics ($name): $(grep -c '^# TYPE' "$metrics") families, $(grep -vc '^#' "$metrics") samples, promtool has no complaint" >&2
}

work=$(mktemp -d)
key=check-metrics-key
pids=()
trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"' EXIT

check_scrape node

# A cluster node adds the Redis engine's families: a redis-server of its own (a free port, the
# temporary folder, no persistence), never the system service.
redis_port=16379
while (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null; do redis_port=$((redis_port + 1)); done
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work" --save "" --appendonly no \
  --daemonize no >"$work/redis.log" 2>&1 &
pids+=($!)
check_scrape cluster --redis "redis://127.0.0.1:$redis_port"
grep -q '^herald_redis_reconnects_total ' "$work/metrics-cluster.txt" \
  || { echo "check-metrics (cluster): no herald_redis_* families" >&2; exit 1; }
