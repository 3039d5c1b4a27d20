#!/usr/bin/env bash
# Run every libFuzzer target for a bounded time:  bash scripts/fuzz.sh [SECONDS] [TARGET...]
#   SECONDS  per target (default 60); TARGETs default to every target (one tests/fuzz/<t>.dict each).
# Configures a clang build with -Dfuzz=true ($BF_FUZZ_DIR, default build-fuzz), builds the
# targets, extracts seed corpora from the real captures (../shared/fixtures, docs/sample) with
# tests/fuzz/seeds.py, and runs each target with its dictionary over a corpus kept in the build
# tree (seeds + tests/data/fuzz/<target>/ + what earlier runs found), so the repository stays clean.
# Exits non-zero on any crash, leak, timeout or out-of-memory, and prints where the reproducer is;
# a reproducer belongs in tests/data/fuzz/<target>/, where the Criterion driver replays it in every
# build.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
secs=${1:-60}
shift || true
dir=${BF_FUZZ_DIR:-$root/build-fuzz}
fixtures=${BF_FIXTURES:-$root/../shared/fixtures}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in tests/fuzz/*.dict; do
        targets+=("$(basename "$f" .dict)")
    done
fi

if [ ! -f "$dir/build.ninja" ]; then
    CC=clang meson setup "$dir" -Dfuzz=true -Dbuildtype=debugoptimized >/dev/null
fi
ninja -C "$dir" "${targets[@]/#/tests/fuzz/}" >/dev/null

seeds=$dir/fuzz/seeds
if [ ! -d "$seeds" ]; then
    if [ -d "$fixtures" ]; then
        python3 tests/fuzz/seeds.py "$fixtures" docs/sample "$seeds.tmp"
    else
        echo "fuzz: no fixtures at $fixtures: seeding from tests/data/fuzz only" >&2
        mkdir -p "$seeds.tmp"
    fi
    mv "$seeds.tmp" "$seeds"
fi

status=0
for t in "${targets[@]}"; do
    corpus=$dir/fuzz/corpus/$t      # grows across runs; libFuzzer writes new inputs here
    start=$dir/fuzz/start/$t        # read-only inputs: extracted seeds and the checked-in files
    artifacts=$dir/fuzz/artifacts/$t
    log=$dir/fuzz/$t.log
    rm -rf "$artifacts" # so that what is listed below was found by this run
    mkdir -p "$corpus" "$artifacts"
    rm -rf "$start"
    mkdir -p "$start"
    [ -d "$seeds/$t" ] && cp "$seeds/$t"/. "$start"/ -r
    cp tests/data/fuzz/"$t"/. "$start"/ -r
    echo "== $t: ${secs}s"
    set +e
    "$dir/tests/fuzz/$t" "$corpus" "$start" -dict="tests/fuzz/$t.dict" \
        -max_total_time="$secs" -close_fd_mask=1 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" >"$log" 2>&1
    rc=$?
    set -e
    grep -E "^stat::(number_of_executed_units|peak_rss_mb)|^Done [0-9]+ runs" "$log" || true
    echo "   corpus: $(find "$corpus" -type f | wc -l) files"
    if [ $rc -ne 0 ]; then
        status=1
        echo "FAILED: $t exited $rc; log: $log" >&2
        grep -E "ERROR: |runtime error:|fuzz invariant broken|SUMMARY:" "$log" | head -5 >&2 || true
        for a in "$artifacts"/*; do
            [ -e "$a" ] && echo "   reproducer: $a  (rerun: $dir/tests/fuzz/$t $a)" >&2
        done
    fi
done
exit $status
