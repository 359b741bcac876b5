#!/usr/bin/env bash
# `npm pack` / `npm publish` run this (package.json "prepack"): the package ships compiled TypeScript
# (dist/src, without the tests: package.json "files"), so compile it first, after removing compiled files
# whose TypeScript source is gone (a deleted or renamed module would be packed otherwise). The native addon
# is not shipped: the package's install builds it (scripts/install-addon.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d dist ]; then
  while IFS= read -r js; do
    src=${js#dist/}
    [ -e "${src%.js}.ts" ] || rm -f "$js" "${js%.js}.d.ts" "$js.map"
  done < <(find dist -name '*.js')
fi
npx --no-install tsc -p tsconfig.json
