#!/usr/bin/env bash
# Installs every Debian 12 package the build, the tests and the demo need.
# Idempotent: when all packages are present it changes nothing and exits 0.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libboost-dev libboost-system-dev
  libmodbus-dev
  libprotobuf-dev protobuf-compiler
  libsqlite3-dev sqlite3
  catch2
  libspdlog-dev libfmt-dev
  libtomlplusplus-dev
  libcli11-dev
  nlohmann-json3-dev
  librdkafka-dev
  libbenchmark-dev
  clang-14 libclang-rt-14-dev
  socat mbpoll python3 python3-pymodbus python3-serial python3-serial-asyncio python3-protobuf
  procps
  # monitoring (issue 9): promtool validates /metrics; headless chromium runs the dashboard test
  prometheus chromium
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
