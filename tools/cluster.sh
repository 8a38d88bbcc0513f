#!/usr/bin/env bash
# Starts a local Herald cluster for development: a redis-server of its own (a free port, a
# temporary folder, never the system service) and N herald nodes on consecutive ports, all in the
# foreground; Ctrl-C stops everything. Arguments after the node count go to every node.
#
#   tools/cluster.sh                 # 3 nodes on 8181, 8182, 8183
#   tools/cluster.sh 2 --log-level debug
#   HERALD_CLUSTER_PORT=9000 tools/cluster.sh 4
set -euo pipefail
cd "$(dirname "$0")/.."

nodes=${1:-3}
[ $# -gt 0 ] && shift
first_port=${HERALD_CLUSTER_PORT:-8181}

tools/setup-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target herald

work=$(mktemp -d /tmp/herald-cluster.XXXXXX)
pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap stop INT TERM EXIT

# A port nothing listens on, for Redis.
redis_port=16379
while (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null; do redis_port=$((redis_port + 1)); done
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work" --save "" --appendonly no \
  --maxmemory 256mb --maxmemory-policy noeviction --daemonize no >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
  sleep 0.1
done
echo "cluster: redis://127.0.0.1:$redis_port (log $work/redis.log)"

for i in $(seq 0 $((nodes - 1))); do
  port=$((first_port + i))
  build/release/herald --address 127.0.0.1 --port "$port" --redis "redis://127.0.0.1:$redis_port" \
    --node-id "node$i" "$@" &
  pids+=($!)
  echo "cluster: node$i on http://127.0.0.1:$port (ws://127.0.0.1:$port/ws)"
done
echo "cluster: Ctrl-C stops all"
wait -n "${pids[@]}"
