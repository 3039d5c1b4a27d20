#!/usr/bin/env bash
# Build bfmon and run every test, the way CI does:
#   1. gcc, warnings as errors, all suites (also 'interop': ccxt from npm against bfmon sim)
#   2. clang, warnings as errors, all suites but 'interop'
#   3. gcc with AddressSanitizer + UndefinedBehaviorSanitizer, all suites but 'interop'
#   4. gcc with ThreadSanitizer, the threaded suites
#   5. valgrind memcheck of a headless replay of the shipped samples
#   6. every libFuzzer target for a minute (scripts/fuzz.sh; BF_FUZZ_SECONDS overrides)
#   7. formatting check (clang-format)
# Any failure, warning or sanitizer report fails the run. Ends with one "N passed, N failed" line
# counting every Criterion test case across the runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

root=$(pwd)
out=${BF_TEST_OUT:-$root/build-test}
mkdir -p "$out"
jobs=$(nproc)

# The real Binance captures live beside the clone (../shared/fixtures); BF_FIXTURES points
# elsewhere. Without them the fixture tests fail, each saying where it looked: say so once up front.
export BF_FIXTURES=${BF_FIXTURES:-$root/../shared/fixtures} # scripts/fuzz.sh seeds from them too
fixtures=$BF_FIXTURES
if [ ! -d "$fixtures" ]; then
    echo "warning: no real Binance captures at $fixtures: the fixture tests will fail" \
        "(set BF_FIXTURES to their directory)" >&2
fi

configure() { # dir, compiler, meson args...
    local dir=$1 compiler=$2
    shift 2
    if [ ! -f "$out/$dir/build.ninja" ]; then
        CC=$compiler meson setup "$out/$dir" "$@" >/dev/null
    fi
    meson configure "$out/$dir" -Dfixtures_dir="$(realpath -m "$fixtures")" >/dev/null
    ninja -C "$out/$dir" >/dev/null
}

run_suites() { # dir, wrapper-or-empty, meson test args...
    local dir=$1 wrapper=$2
    shift 2
    local w=()
    [ -n "$wrapper" ] && w=(--wrapper "$wrapper")
    echo "== $dir: meson test $*"
    if ! meson test -C "$out/$dir" --logbase testlog --print-errorlogs --num-processes "$jobs" "${w[@]}" "$@"; then
        echo "FAILED in $dir" >&2
        status=1
    fi
    # A sanitizer report fails the run even where the test itself passed: Criterion counts a leak
    # found when a test's process exits as a teardown crash but still exits 0.
    # meson names the log after the wrapper when there is one (testlog-setarch.txt under TSan).
    local log
    log=$(ls -t "$out/$dir"/meson-logs/testlog*.txt | head -1)
    if grep -nE "ERROR: (AddressSanitizer|LeakSanitizer)|WARNING: ThreadSanitizer|runtime error:|crashed during (setup|teardown)" "$log" | head -20; then
        echo "FAILED in $dir: sanitizer report in $log" >&2
        status=1
    fi
}

status=0
configure gcc gcc --werror
run_suites gcc ""
configure clang clang --werror
run_suites clang "" --no-suite interop
configure asan gcc --werror -Db_sanitize=address,undefined -Dbuildtype=debug
run_suites asan "" --no-suite interop
# TSan maps shadow memory at fixed addresses; without ASLR it works on every kernel's mmap_rnd_bits.
configure tsan gcc --werror -Db_sanitize=thread -Dbuildtype=debug
run_suites tsan "setarch -R" --suite threads

# Memcheck over a headless replay of every shipped sample: no invalid access, no definite leak.
# Exit 1 is replay's verdict on the sim sample (it holds an injected gap); memcheck's own is 9.
echo "== valgrind memcheck: bfmon replay --headless docs/sample/*.gz"
vg_rc=0
valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    "$out/gcc/bfmon" replay --headless docs/sample/*.gz >/dev/null || vg_rc=$?
if [ "$vg_rc" -ne 0 ] && [ "$vg_rc" -ne 1 ]; then
    echo "FAILED: valgrind memcheck of the headless replay (exit $vg_rc)" >&2
    status=1
fi

# libFuzzer: every target for a bounded time over seeds from the real captures (tests/fuzz).
echo "== libFuzzer: bash scripts/fuzz.sh ${BF_FUZZ_SECONDS:-60}"
if ! BF_FUZZ_DIR="$out/fuzz" bash scripts/fuzz.sh "${BF_FUZZ_SECONDS:-60}"; then
    echo "FAILED: a fuzz target found a crash, leak or timeout" >&2
    status=1
fi

echo "== clang-format"
mapfile -t sources < <(git ls-files '*.c' '*.h')
if [ ${#sources[@]} -gt 0 ] && ! clang-format --dry-run --Werror "${sources[@]}"; then
    echo "FAILED: code is not formatted (run: clang-format -i \$(git ls-files '*.c' '*.h'))" >&2
    status=1
fi

# Criterion prints "Synthesis: Tested: N | Passing: N | Failing: N | Crashing: N" per test program.
# Every failed case is repeated here with its assertion (cut to 25 lines), so the end of the run's
# output says what failed even where only the tail of a long log is kept.
python3 - "$out" <<'PY' || status=1
import glob, re, sys
passed = failed = 0
reports = []
for log in sorted(glob.glob(sys.argv[1] + "/*/meson-logs/testlog*.txt")):
    text = open(log, errors="replace").read()
    for m in re.finditer(r"Synthesis: Tested: +(\d+) \| Passing: +(\d+) \| Failing: +(\d+) \| Crashing: +(\d+)",
                         text):
        passed += int(m.group(2))
        failed += int(m.group(3)) + int(m.group(4))
    block = []
    for line in text.splitlines():
        if line.startswith("[----]"):
            block.append(line)
        elif line.startswith("[FAIL]"):
            cut = block[:25] + ([f"[----]   ... {len(block) - 25} more lines"] if len(block) > 25 else [])
            reports.append("\n".join([f"-- {log}"] + cut + [line]))
            block = []
        else:
            block = []
if reports:
    print("== failed test cases")
    print("\n".join(reports))
print(f"criterion: {passed} passed, {failed} failed")
sys.exit(1 if failed or passed == 0 else 0)
PY
exit $status
