#!/usr/bin/env bash
# The JavaScript client's tests and the browser tests, against build/release/herald:
#   tests/js       node --test, the client (source/js/herald.js) against a real server
#   tests/browser  node --test + playwright-core driving Debian's chromium (tools/setup-deps.sh)
# The npm tools come from tests/package-lock.json (npm ci). Node and npm are not installed by the
# project: this fails, saying so, when they are missing. Called by `tools/test.sh js`.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in node npm; do
  if ! command -v "$tool" > /dev/null; then
    echo "herald: the js step needs Node.js 20 or later and npm on the PATH ('$tool' is missing)" >&2
    exit 1
  fi
done
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "herald: the js step needs Node.js 20 or later (found $(node --version))" >&2
  exit 1
fi

echo "== herald: build the release server for the JavaScript tests" >&2
[ -f build/release/build.ninja ] || cmake --preset release > /dev/null
cmake --build --preset release --target herald

echo "== herald: npm ci in tests/" >&2
(cd tests && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)

echo "== herald: JavaScript client tests (tests/js)" >&2
# --experimental-eventsource: Node 20's EventSource (global in Node 22), for js/sse.test.js.
(cd tests && node --experimental-eventsource --test --test-concurrency=1 js/)
echo "== herald: browser tests (tests/browser)" >&2
(cd tests && node --test --test-concurrency=1 browser/)
