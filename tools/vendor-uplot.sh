#!/usr/bin/env bash
# Copies uPlot (the charts of /status) from the npm package into source/web/vendor/, where the
# build embeds it: its minified script and style sheet and its licence, with the version recorded
# in source/web/vendor/uPlot.version. The version is the one tests/package.json pins (and
# tests/package-lock.json locks); run after `npm ci` in tests/, and commit what changed:
#
#   (cd tests && npm ci) && tools/vendor-uplot.sh
#
# The JavaScript tests (tests/js/pages.test.js) check that the copies match the package.
set -euo pipefail
cd "$(dirname "$0")/.."

package=tests/node_modules/uplot
vendor=source/web/vendor
[ -f "$package/package.json" ] || { echo "vendor-uplot: no $package; run npm ci in tests/ first" >&2; exit 1; }

pinned=$(node -p 'require("./tests/package.json").devDependencies.uplot')
installed=$(node -p "require('./$package/package.json').version")
license=$(node -p "require('./$package/package.json').license")
if [ "$pinned" != "$installed" ]; then
  echo "vendor-uplot: tests/package.json pins uplot $pinned, node_modules has $installed: npm ci first" >&2
  exit 1
fi

mkdir -p "$vendor"
cp "$package/dist/uPlot.iife.min.js" "$vendor/uPlot.iife.min.js"
cp "$package/dist/uPlot.min.css" "$vendor/uPlot.min.css"
cp "$package/LICENSE" "$vendor/uPlot.LICENSE.txt"
cat >"$vendor/uPlot.version" <<TEXT
uplot $installed ($license), from npm by tools/vendor-uplot.sh:
  dist/uPlot.iife.min.js -> uPlot.iife.min.js
  dist/uPlot.min.css     -> uPlot.min.css
  LICENSE                -> uPlot.LICENSE.txt
TEXT
echo "vendor-uplot: uplot $installed copied into $vendor" >&2
