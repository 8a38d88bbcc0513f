#!/usr/bin/env bash
# Installs what Herald needs to build and test, from Debian 12's own packages only.
#
# Boost comes from the versioned 1.81 packages: Debian's default Boost (1.74) has no Boost.JSON,
# and the unversioned libboost-*-dev meta packages would remove 1.81, so they are never named here.
# chromium is Debian's own build, for the browser tests of tests/browser (playwright-core drives
# it; nothing downloads a browser). Node and npm are not installed here: tools/test.sh js uses
# them when they are on the PATH.
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -euo pipefail

packages=(
  g++ cmake ninja-build ccache pkg-config
  clang libclang-rt-14-dev
  libssl-dev
  libboost1.81-dev
  libboost-json1.81-dev
  libboost-url1.81-dev
  libboost-program-options1.81-dev
  libboost-test1.81-dev
  chromium
  # tools/ops-test.sh: systemd-analyze (the unit's checks), dpkg-shlibdeps (the .deb's Depends),
  # jq. Node and npm are the machine's own (Node 20 or later), never Debian's nodejs.
  systemd dpkg-dev jq
  # tools/ops-test.sh: promtool (/usr/bin/promtool) checks a real scrape of /metrics
  prometheus
  # the cluster: hiredis (its RESP reply parser and command formatter) and the tests' own
  # redis-server processes (never the system service)
  libhiredis-dev
  redis-server
  # the server's allocator (CMakeLists.txt says why)
  libmimalloc-dev
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

command=(apt-get install -y --no-install-recommends "${missing[@]}")
if [ "$(id -u)" -ne 0 ]; then
  echo "herald: missing packages: ${missing[*]}" >&2
  echo "herald: run as root:  apt-get update && DEBIAN_FRONTEND=noninteractive ${command[*]}" >&2
  exit 1
fi

echo "herald: installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${command[@]}"
