#!/usr/bin/env bash
# Checks the packaging against the release build (tools/test.sh ops runs it):
#   1. `systemd-analyze verify` on a copy of herald.service whose Exec lines run the built binary;
#   2. `systemd-analyze security --offline=true`: the unit's exposure must stay at or below 1.5
#      (it is 1.2: what is left is the network, which a server needs, and the host's root);
#   3. the .deb (cpack): its files, its control data and maintainer scripts, and the packaged
#      binary's --help and check-config with the packaged environment file, from an unpacked copy.
set -euo pipefail
cd "$(dirname "$0")/../.."

build=build/release
binary=$build/herald
if [ ! -x "$binary" ]; then
  echo "check.sh: no $binary; build the release preset first" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() {
  echo "check.sh: $*" >&2
  exit 1
}

echo "== systemd-analyze verify herald.service" >&2
sed "s|/usr/bin/herald|$(realpath "$binary")|g" tools/packaging/herald.service >"$work/herald.service"
systemd-analyze verify "$work/herald.service"

echo "== systemd-analyze security herald.service" >&2
# --threshold counts in tenths: 15 is an exposure of 1.5.
if ! systemd-analyze security --offline=true --threshold=15 "$work/herald.service" >"$work/security.txt"; then
  grep -E '✗|Overall' "$work/security.txt" >&2 || cat "$work/security.txt" >&2
  fail "the unit's exposure went above 1.5"
fi
grep 'Overall exposure' "$work/security.txt" >&2

echo "== the .deb" >&2
rm -f "$build"/herald_*.deb
(cd "$build" && cpack -G DEB >"$work/cpack.log" 2>&1) || { cat "$work/cpack.log" >&2; fail "cpack failed"; }
package=$(ls "$build"/herald_*.deb)
dpkg-deb -c "$package" >"$work/contents.txt"
for path in ./usr/bin/herald ./usr/lib/systemd/system/herald.service ./etc/default/herald \
    ./usr/share/doc/herald/README.md; do
  grep -q " $path\$" "$work/contents.txt" || fail "$package lacks $path"
done
dpkg-deb -I "$package" >"$work/info.txt"
for field in 'Package: herald' 'Depends: .*adduser' 'Depends: .*libboost-json1.81.0' \
    'Depends: .*libssl3' 'Depends: .*libmimalloc2.0'; do
  grep -q "$field" "$work/info.txt" || fail "$package: no '$field' in its control data"
done
dpkg-deb -e "$package" "$work/control"
grep -qx /etc/default/herald "$work/control/conffiles" || fail "/etc/default/herald is not a conffile"
grep -q 'adduser --system' "$work/control/postinst" || fail "the postinst makes no system user"
for script in postinst prerm postrm; do
  sh -n "$work/control/$script" || fail "$script is not valid sh"
done

echo "== the packaged binary" >&2
dpkg-deb -x "$package" "$work/root"
"$work/root/usr/bin/herald" --help >"$work/help.txt" || fail "the packaged herald --help failed"
grep -q -- '--log-format' "$work/help.txt" || fail "the packaged herald --help lacks --log-format"
# The packaged environment file, as systemd would read it (comments and blank lines dropped).
mapfile -t settings < <(grep -E '^HERALD_[A-Z_]+=' "$work/root/etc/default/herald")
env -i "${settings[@]}" "$work/root/usr/bin/herald" check-config >"$work/settings.json" ||
  fail "check-config refuses the packaged /etc/default/herald"
jq -e '.["log-timestamps"] == false' "$work/settings.json" >/dev/null ||
  fail "check-config did not read the packaged /etc/default/herald"
echo "packaging: unit verified, exposure within bounds, $(basename "$package") checked" >&2
