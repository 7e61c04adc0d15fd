#!/usr/bin/env bash
# Builds the libFuzzer targets (preset `fuzz`: clang++-14, ASan + UBSan) and runs each for
# SECONDS (default 60) starting from its seed corpus in tests/fuzz/corpus/<target>/, AMI_FUZZ_JOBS
# targets at a time (default: the number of cores).
# Exits non-zero on any crash, leak, timeout or sanitizer report. New inputs found during the
# run go to build/fuzz/corpus/<target>/ (the checked-in seeds are never modified); a crashing
# input is saved as build/fuzz/artifacts/<target>/crash-* (reproduce: <binary> <that file>).
#   scripts/run-fuzzers.sh 60
set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "run-fuzzers: SECONDS must be a positive integer, got '$seconds'" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

bin_dir="$root/build/fuzz/bin"
shopt -s nullglob
targets=("$bin_dir"/fuzz_*)
if [ ${#targets[@]} -eq 0 ]; then
  echo "run-fuzzers: no fuzz targets built in $bin_dir" >&2
  exit 1
fi

# One target: runs it, prints its verdict; exit status = the verdict.
fuzz_one() {
  local binary="$1" name seeds work artifacts
  name="$(basename "$binary")"
  seeds="$root/tests/fuzz/corpus/$name"
  work="$root/build/fuzz/corpus/$name"
  artifacts="$root/build/fuzz/artifacts/$name"
  mkdir -p "$work" "$artifacts"
  echo "run-fuzzers: $name for ${seconds}s (seeds: ${seeds#$root/})"
  local corpora=("$work")
  [ -d "$seeds" ] && corpora+=("$seeds")
  if ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
     "$binary" "${corpora[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$artifacts/" -print_final_stats=1 > "$artifacts/log.txt" 2>&1; then
    echo "run-fuzzers: $name ok ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$artifacts/log.txt" || true))"
  else
    echo "run-fuzzers: $name FAILED; last lines of $artifacts/log.txt:" >&2
    tail -n 40 "$artifacts/log.txt" >&2
    return 1
  fi
}

jobs="${AMI_FUZZ_JOBS:-$(nproc)}"
failed=()
running=()  # "pid:name" of the targets in flight
wait_first() {
  local entry="${running[0]}"
  running=("${running[@]:1}")
  wait "${entry%%:*}" || failed+=("${entry#*:}")
}
for binary in "${targets[@]}"; do
  [ ${#running[@]} -ge "$jobs" ] && wait_first
  fuzz_one "$binary" &
  running+=("$!:$(basename "$binary")")
done
while [ ${#running[@]} -gt 0 ]; do wait_first; done

if [ ${#failed[@]} -gt 0 ]; then
  echo "run-fuzzers: failures in ${failed[*]}" >&2
  exit 1
fi
echo "run-fuzzers: all ${#targets[@]} targets ran ${seconds}s without a finding"
