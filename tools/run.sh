#!/usr/bin/env bash
# Sets up, builds (release preset) and starts the server in the foreground. Arguments are
# passed to herald, e.g.  tools/run.sh --port 9000 --log-level debug
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target herald
exec build/release/herald "$@"
