#!/usr/bin/env bash
# The main job: a small fleet of simulated DL/T 645 meters behind two TCP gateways, the headend
# daemon with the default embedded configuration (config/headend.toml, state under ./var/demo/),
# and a feed consumer; the daemon prints read success once per cycle until Ctrl-C.
#
# Usage: scripts/demo.sh [--speed N | --real-time] [--gateways G] [--meters M]
#   --speed N      simulated seconds per real second (default 450: one 15-minute cycle every 2 s)
#   --real-time    use the wall clock (one cycle every 15 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."

speed=450
real_time=0
gateways=2
meters=5
while [ $# -gt 0 ]; do
  case "$1" in
    --speed) speed="$2"; shift 2 ;;
    --real-time) real_time=1; shift ;;
    --gateways) gateways="$2"; shift 2 ;;
    --meters) meters="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

# AMI_DEMO_BIN=<dir> runs already-built executables from <dir> instead of building the ci preset.
if [ -n "${AMI_DEMO_BIN:-}" ]; then
  bin="$AMI_DEMO_BIN"
else
  scripts/install-deps.sh
  cmake --preset ci >/dev/null
  cmake --build --preset ci --target meter-sim headend headendctl
  bin=build/ci/bin
fi
state=var/demo
base_port=16450
mkdir -p "$state"

if [ "$real_time" = 1 ]; then
  clock=(--clock real)
else
  # Start the simulated day at the current UTC hour; one anchor for every process of this run.
  start=$(date -u +%Y-%m-%dT%H:00:00Z)
  anchor=$(( $(date +%s%3N) + 1500 ))
  clock=(--clock accelerated --clock-start "$start" --clock-speed "$speed" --clock-anchor "$anchor")
fi
fleet=(--gateways "$gateways" --meters-per-gateway "$meters" --protocol dlt645-2007 --base-port "$base_port" --seed 1)

"$bin/meter-sim" registry "${fleet[@]}" > "$state/meters.csv"

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "demo: stopping (daemon flushes its store, simulator closes its gateways)"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "demo: stopped; state in $state/ (headend.log, meter-sim.log, feed.jsonl, headend.db)"
}
trap cleanup INT TERM EXIT

"$bin/meter-sim" serve "${fleet[@]}" "${clock[@]}" > "$state/meter-sim.log" 2>&1 &
pids+=($!)
sleep 0.5
"$bin/headend" --config config/headend.toml "${clock[@]}" 2> "$state/headend.log" &
pids+=($!)
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/7700) 2>/dev/null && break
  sleep 0.1
done
"$bin/headendctl" feed tail --connect 127.0.0.1:7700 --consumer demo --token demo-token \
  > "$state/feed.jsonl" 2> "$state/feed-tail.log" &
pids+=($!)

echo "demo: $((gateways * meters)) meters behind $gateways gateways (127.0.0.1:$base_port..), feed on 127.0.0.1:7700"
echo "demo: published intervals -> $state/feed.jsonl; Ctrl-C to stop"
wait "${pids[1]}"
