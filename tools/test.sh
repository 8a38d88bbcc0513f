#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite, under each preset in turn.
#
#   tools/test.sh                # release, then asan (AddressSanitizer + UBSan)
#   tools/test.sh release        # one preset
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup-deps.sh
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(release asan)
for preset in "${presets[@]}"; do
  echo "== herald: configure, build and test the '$preset' preset" >&2
  cmake --workflow --preset "$preset"
done
