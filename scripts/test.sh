#!/usr/bin/env bash
# README command 2 (and CI): install what is missing, build everything with
# AddressSanitizer + UndefinedBehaviorSanitizer, and run the whole test suite
# (unit, integration, end-to-end) with CTest. Extra arguments go to ctest
# (e.g. -R e2e, -L unit).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# -O1 without debug info: sanitizer builds compile much faster and still run
# the suite quickly; asserts stay on (no NDEBUG).
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1" \
      -DSTRATA_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd build-asan
ctest --output-on-failure --timeout 600 -j 2 "$@"
