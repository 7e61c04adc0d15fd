#!/usr/bin/env bash
# End-to-end load harness (issue 10): meter-sim + headend daemon + feed consumer + bare-wire client,
# one scale point per name; prints a table per point and writes <out>/<point>.json.
# Figures and the commands behind them: docs/PERFORMANCE.md, "End to end".
#
# Usage: scripts/load.sh [--bin DIR] [--out DIR] POINT... | custom -- <ami_load options>
#   POINT   smoke          50 meters, 2 gateways, 1 interval (what the ctest smoke test runs)
#           1k 10k 100k    DL/T 645-2007 at zero latency: 1,000 / 10,000 / 100,000 meters
#           100k-perf      100k with `perf record` of the daemon during the cycle (<out>/100k.perf.data)
#           modbus-1k      988 Modbus TCP meters (SDM630), 4 gateways of 247
#           baud-9600      1,000 DL/T 645 meters, 50 buses of 20 at 9600 baud (realistic wire timing)
#           registered-1m  1,000,000 registered meters: daemon start time and memory, no reads
#   --bin DIR  use executables (meter-sim, headend, ami_load) from DIR instead of building
#              build/load (Release, -DAMI_BUILD_BENCH=ON)
#   --out DIR  where reports and scratch go (default build/load/reports)
set -euo pipefail
cd "$(dirname "$0")/.."

bin=""
out=""
points=()
custom_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    custom) points+=(custom); shift; [ "${1:-}" = "--" ] && shift; custom_args=("$@"); break ;;
    smoke|1k|10k|100k|100k-perf|modbus-1k|baud-9600|registered-1m) points+=("$1"); shift ;;
    *) echo "load.sh: unknown option or point '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#points[@]} -gt 0 ] || { echo "load.sh: name at least one point (see --help)" >&2; exit 2; }

if [ -z "$bin" ]; then
  cmake -S . -B build/load -G Ninja -DCMAKE_BUILD_TYPE=Release -DAMI_BUILD_BENCH=ON -DAMI_BUILD_TESTS=OFF >/dev/null
  cmake --build build/load -j2 --target meter-sim headend headendctl ami_load
  bin=build/load/bin
fi
out="${out:-build/load/reports}"
mkdir -p "$out"

run_point() {
  local name="$1"; shift
  echo "== $name: ami_load $* (uptime:$(uptime | sed 's/.*load average//'))"
  "$bin/ami_load" --bin "$bin" --work "$out/work-$name" --json "$out/$name.json" "$@"
}

for point in "${points[@]}"; do
  case "$point" in
    smoke)         run_point smoke --meters 50 --gateways 2 --intervals 1 ;;
    1k)            run_point 1k --meters 1000 --gateways 10 --intervals 3 ;;
    10k)           run_point 10k --meters 10000 --gateways 20 --intervals 2 ;;
    100k)          run_point 100k --meters 100000 --gateways 100 --intervals 1 ;;
    100k-perf)     run_point 100k-perf --meters 100000 --gateways 100 --intervals 1 \
                     --perf "$out/100k.perf.data" ;;
    modbus-1k)     run_point modbus-1k --protocol modbus-tcp --model SDM630 --meters 988 --gateways 4 --intervals 3 ;;
    baud-9600)     run_point baud-9600 --meters 1000 --gateways 50 --baud 9600 --intervals 2 ;;
    registered-1m) run_point registered-1m --startup-only --meters 1000000 --gateways 125 ;;
    custom)        run_point custom "${custom_args[@]}" ;;
  esac
done
