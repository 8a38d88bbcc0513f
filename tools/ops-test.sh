#!/usr/bin/env bash
# The operators' checks, against the release build (tools/test.sh runs this as its `ops` step):
# the OpenAPI document's lint, the HTTP API's contract tests (node --test, the real binary),
# `promtool check metrics` on a real scrape of /metrics (tools/check-metrics.sh), and the
# packaging (the systemd unit and the .deb: tools/packaging/check.sh).
#
# The JavaScript tools come from tests/package.json and its lockfile (npm ci), run with the
# machine's own Node 20 or later, never Debian's nodejs.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "herald: $tool not found (Node 20 or later is needed)" >&2; exit 1; }
done
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "herald: Node $(node --version) is too old; 20 or later is needed" >&2
  exit 1
fi

echo "== herald: build the release binary" >&2
cmake --preset release >/dev/null
cmake --build --preset release --target herald

echo "== herald: npm ci (tests/package-lock.json)" >&2
npm ci --prefix tests --no-audit --no-fund --loglevel=error

echo "== herald: lint docs/openapi.yaml" >&2
npm --prefix tests run --silent lint:openapi

echo "== herald: the HTTP API's contract tests" >&2
npm --prefix tests run --silent test:api

echo "== herald: promtool check metrics on a scrape of /metrics" >&2
tools/check-metrics.sh

echo "== herald: packaging" >&2
tools/packaging/check.sh
