#!/usr/bin/env bash
# Build bfmon (release) and start it. Extra arguments go to bfmon; with none, it watches the built-in
# loopback exchange (`bfmon --demo`: no machine here reaches Binance). Until the terminal UI lands,
# the monitor prints its status lines headless.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
[ -f build-release/build.ninja ] || meson setup build-release -Dbuildtype=release >/dev/null
ninja -C build-release >/dev/null
if [ $# -eq 0 ]; then
    set -- --demo --headless
fi
exec build-release/bfmon "$@"
