#!/usr/bin/env bash
# One command from a fresh clone to a real build: system packages, npm dependencies (which
# also build hb's CLI through `prepare`), then `hb build` of the basic example.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
npm ci
node_modules/.bin/hb build //examples/basic/...
echo
echo "built: $(ls hb-out/examples/basic/app/)"
echo "next:  npm test    (all tests)    |    node_modules/.bin/hb --help"
