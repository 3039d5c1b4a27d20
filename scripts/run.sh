#!/usr/bin/env bash
# Build bfmon (release) and start it. Extra arguments go to bfmon; with none, it watches the built-in
# loopback exchange in the terminal UI (`bfmon --demo`: no machine here reaches Binance).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
[ -f build-release/build.ninja ] || meson setup build-release -Dbuildtype=release >/dev/null
ninja -C build-release >/dev/null
if [ $# -eq 0 ]; then
    set -- --demo
fi
exec build-release/bfmon "$@"
