#!/usr/bin/env bash
# Configure and build one flavour of the tree.
#   scripts/build.sh [release|asan|tsan] [ninja targets...]
# Build directories: build/ (Release), build-asan/ (ASan+UBSan), build-tsan/ (ThreadSanitizer).
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-release}
shift || true
JOBS=${JOBS:-$(nproc)}
# ccache: rewrite absolute paths under the checkout to relative ones, so clones in different
# directories (CI's fresh clone, a developer's tree) share cache entries.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
case "$flavour" in
  release) dir=build; args=(-DCMAKE_BUILD_TYPE=Release) ;;
  asan) dir=build-asan; args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSANITIZE=address) ;;
  tsan) dir=build-tsan; args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DSANITIZE=thread) ;;
  *) echo "usage: scripts/build.sh [release|asan|tsan] [targets...]" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" -G Ninja "${args[@]}" ${CMAKE_ARGS:-} >/dev/null
cmake --build "$dir" -j "$JOBS" ${1:+--target "$@"}
