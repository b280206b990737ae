#!/usr/bin/env bash
# Installs the Debian 12 packages Strata needs to build, test and run.
# Idempotent and quiet: when everything is already installed it prints nothing
# and touches nothing. Used by scripts/run.sh, scripts/test.sh and CI.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang-format
  # libraries (see docs/architecture.md for what each is used for)
  librdkafka-dev libsimdjson-dev libre2-dev libspdlog-dev libfmt-dev catch2
  libboost-dev libboost-system-dev libcurl4-openssl-dev libyaml-cpp-dev
  libzstd-dev liblz4-dev zlib1g-dev libsnappy-dev libprotobuf-dev protobuf-compiler
  libxxhash-dev libbenchmark-dev libssl-dev
  # the agent's journald source
  libsystemd-dev
  # tools the tests and benchmarks use
  curl wrk procps openssl ripgrep sqlite3 libsqlite3-dev
  # systemd-analyze: tests/deploy checks the units under deploy/systemd;
  # systemd-journal-remote writes the journal files the agent's journal tests read
  systemd systemd-journal-remote
  # peers the tests and benchmarks run side by side, and the libFuzzer runtime
  prometheus victoria-metrics prometheus-node-exporter prometheus-alertmanager clang libclang-rt-14-dev
  # Prometheus's Python client: a real OpenMetrics exposition for the scrape tests
  python3-prometheus-client
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "setup: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
