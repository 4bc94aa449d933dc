#!/usr/bin/env bash
# Sets up the machine, builds, and runs every test:
#   1. Release build, all tests (unit + integration) through CTest;
#   2. ASan+UBSan build, all unit tests;
#   3. ThreadSanitizer build, the tests labelled "concurrent".
# Fails if any test fails or is skipped. Usage: scripts/test.sh [release|asan|tsan ...] (default: all three)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(release asan tsan)

run_ctest() {
  local dir=$1; shift
  local log
  log=$(mktemp)
  set +e
  ctest --test-dir "$dir" --output-on-failure --no-tests=error "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  set -e
  if grep -qE '\*\*\*Skipped|Not Run|Disabled' "$log"; then
    echo "test.sh: some tests were skipped or not run in $dir: failing" >&2
    rc=1
  fi
  rm -f "$log"
  return "$rc"
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/scripts/tsan.supp}

for stage in "${stages[@]}"; do
  echo "=== test.sh: $stage ==="
  start=$(date +%s)
  case "$stage" in
    release)
      scripts/build.sh release
      run_ctest build
      ;;
    asan)
      CMAKE_ARGS="-DWITH_INFERENCE=OFF" scripts/build.sh asan
      run_ctest build-asan -L unit
      ;;
    tsan)
      CMAKE_ARGS="-DWITH_INFERENCE=OFF" scripts/build.sh tsan
      run_ctest build-tsan -L concurrent
      ;;
    *) echo "unknown stage $stage" >&2; exit 2 ;;
  esac
  echo "=== test.sh: $stage passed in $(( $(date +%s) - start )) s ==="
done
