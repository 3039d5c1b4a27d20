#!/usr/bin/env bash
# Build bfmon (release) and start it. Extra arguments go to bfmon; with none, it replays the sample
# capture shipped in docs/sample (until the live TUI lands, this is the monitor's headless face).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
[ -f build-release/build.ninja ] || meson setup build-release -Dbuildtype=release >/dev/null
ninja -C build-release >/dev/null
if [ $# -eq 0 ]; then
    set -- replay docs/sample/btcusdt_20240808_head2000.txt.gz --headless --json
fi
exec build-release/bfmon "$@"
