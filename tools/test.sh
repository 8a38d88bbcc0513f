#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite: under the release preset; then against that
# build the JavaScript and browser tests and the operators' checks (OpenAPI lint, the HTTP API's
# contract tests, packaging); then under the asan (Address + UB + Leak sanitizers) and tsan
# (ThreadSanitizer) presets; then every fuzz target for 30 s.
#
#   tools/test.sh                # everything
#   tools/test.sh release        # one preset (release, asan, tsan), or `js`, `ops`, `fuzz`
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup-deps.sh
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(release js ops asan tsan fuzz)
for step in "${steps[@]}"; do
  if [ "$step" = js ]; then
    tools/test-js.sh
    continue
  fi
  if [ "$step" = fuzz ]; then
    tools/fuzz.sh
    continue
  fi
  if [ "$step" = ops ]; then
    tools/ops-test.sh
    continue
  fi
  echo "== herald: configure, build and test the '$step' preset" >&2
  cmake --workflow --preset "$step"
done
