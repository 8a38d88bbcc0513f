#!/usr/bin/env bash
# Installs what the benchmark's peers need, from Debian 12's own packages: Go and gorilla/websocket
# to build seed-go (GOPATH mode, no module proxy), nginx and its nchan module, and taskset; and
# for the report, gnuplot (charts) and strace (the flood scenario's system calls).
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -euo pipefail

need=()
command -v go >/dev/null || need+=(golang-go)
[ -d /usr/share/gocode/src/github.com/gorilla/websocket ] || need+=(golang-github-gorilla-websocket-dev)
command -v nginx >/dev/null || need+=(nginx-light)
[ -f /usr/lib/nginx/modules/ngx_nchan_module.so ] || need+=(libnginx-mod-nchan)
command -v taskset >/dev/null || need+=(util-linux)
command -v gnuplot >/dev/null || need+=(gnuplot-nox)  # the report's charts
command -v strace >/dev/null || need+=(strace)        # the flood's write system calls

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi

command=(apt-get install -y --no-install-recommends "${need[@]}")
if [ "$(id -u)" -ne 0 ]; then
  echo "herald bench: missing packages for the peers: ${need[*]}" >&2
  echo "herald bench: run as root:  apt-get update && DEBIAN_FRONTEND=noninteractive ${command[*]}" >&2
  exit 1
fi

echo "herald bench: installing ${need[*]}" >&2
apt-get -o DPkg::Lock::Timeout=600 update -qq
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "${command[@]:1}"
