#!/usr/bin/env bash
# README command 1: install what is missing, build a release, and start the
# whole pipeline in one process on its embedded default. Extra arguments go to
# the `strata` binary (e.g. --log.level=debug, --config deploy/strata.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_SANITIZE=OFF \
      -DBUILD_TESTING=OFF -DSTRATA_BUILD_BENCH=OFF >/dev/null
cmake --build build-release --target strata -j "$(nproc)"
exec ./build-release/allinone/strata "$@"
