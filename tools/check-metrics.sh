#!/usr/bin/env bash
# Scrapes /metrics of the release binary after some traffic (publishes, an API error, an unknown
# path, a WebSocket upgrade) and runs Prometheus's own linter on it: `promtool check metrics`
# must have no complaint at all (it exits 1 on a parse error and 3 on a lint problem, such as a
# counter without _total or a family without HELP). promtool comes from Debian's prometheus
# package (tools/setup-deps.sh). Part of tools/ops-test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=build/release/herald
promtool=${PROMTOOL:-/usr/bin/promtool}
[ -x "$binary" ] || { echo "check-metrics: no $binary; build the release preset first" >&2; exit 1; }
[ -x "$promtool" ] || { echo "check-metrics: no $promtool; tools/setup-deps.sh installs it" >&2; exit 1; }

work=$(mktemp -d)
key=check-metrics-key
"$binary" --address 127.0.0.1 --port 0 --threads 1 --log-format json --api-key "$key" \
  2>"$work/herald.log" &
herald=$!
trap 'kill "$herald" 2>/dev/null; wait "$herald" 2>/dev/null; rm -rf "$work"' EXIT

# The start-up line names the port (bounded: 10 s).
port=
for _ in $(seq 100); do
  port=$(head -n1 "$work/herald.log" 2>/dev/null | jq -r 'select(.event == "listening") | .port' 2>/dev/null || true)
  [ -n "$port" ] && break
  kill -0 "$herald" 2>/dev/null || { cat "$work/herald.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "check-metrics: herald did not start" >&2; cat "$work/herald.log" >&2; exit 1; }
url=http://127.0.0.1:$port

curl=(curl --silent --show-error --max-time 5)
for i in 1 2 3; do
  "${curl[@]}" -o /dev/null -H "X-API-Key: $key" "$url/send?uid=u$i&message=m$i"
done
"${curl[@]}" -o /dev/null "$url/stats"          # 401
"${curl[@]}" -o /dev/null "$url/no/such/path"   # 404
"${curl[@]}" -o /dev/null "$url/readyz"
# An upgrade that is answered 101 and then left without a login: the server closes it.
"${curl[@]}" -o /dev/null --max-time 1 --http1.1 -H "Connection: Upgrade" -H "Upgrade: websocket" \
  -H "Sec-WebSocket-Version: 13" -H "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==" "$url/ws" 2>/dev/null || true

"${curl[@]}" --fail -H "X-API-Key: $key" -D "$work/headers" -o "$work/metrics.txt" "$url/metrics"
grep -qi '^content-type: text/plain; version=0.0.4' "$work/headers" \
  || { echo "check-metrics: /metrics answered $(grep -i '^content-type' "$work/headers")" >&2; exit 1; }
grep -q '^herald_http_requests_total{endpoint="send",code="200"} 3$' "$work/metrics.txt" \
  || { echo "check-metrics: the publishes are not counted" >&2; exit 1; }

status=0
"$promtool" check metrics <"$work/metrics.txt" >"$work/promtool.txt" 2>&1 || status=$?
if [ "$status" -ne 0 ] || [ -s "$work/promtool.txt" ]; then
  echo "check-metrics: promtool check metrics exited $status:" >&2
  cat "$work/promtool.txt" >&2
  exit 1
fi
echo "check-metrics: $(grep -c '^# TYPE' "$work/metrics.txt") families, $(grep -vc '^#' "$work/metrics.txt") samples, promtool has no complaint" >&2
