#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` preset: clang with ASan; clang 14 cannot build
# these coroutines with UBSan, which the g++ asan preset covers) and runs each against its
# seed corpus for a bounded time. Any crash, leak or sanitizer report fails the run; the input
# that caused it is left in build/fuzz/findings/.
#
#   tools/fuzz.sh                      # every target, 30 s each (what tools/test.sh runs)
#   tools/fuzz.sh --seconds 3600 login # one target, longer, on demand
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=30
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2;;
    -h|--help) sed -n '2,7p' "$0"; exit 0;;
    *) targets+=("$1"); shift;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(login send_body send_query http_request token config_file redis_reply live_message)

tools/setup-deps.sh
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

mkdir -p build/fuzz/findings
for target in "${targets[@]}"; do
  # New inputs go to a working corpus under build/, never into the seed corpus in the repo.
  work=build/fuzz/corpus/$target
  log=build/fuzz/$target.log
  mkdir -p "$work"
  echo "== fuzz_$target for ${seconds}s" >&2
  if ! build/fuzz/tests/fuzz/fuzz_"$target" "$work" "tests/fuzz/corpus/$target" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix="build/fuzz/findings/${target}-" -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz_$target FAILED; the input is in build/fuzz/findings/" >&2
    exit 1
  fi
  grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" >&2 || true
done
