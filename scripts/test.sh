#!/usr/bin/env bash
# The README's test command: installs dependencies (idempotent), configures and builds the `ci`
# preset (-Werror), and runs every Catch2 test through ctest, unit and integration alike.
# Usage: scripts/test.sh [extra ctest args]      AMI_PRESET=sanitize scripts/test.sh  (ASan+UBSan build)
# AMI_JOBS: parallel compile jobs (default: cores); AMI_TEST_JOBS: parallel test cases (default:
# cores + 1, as most integration cases wait on an accelerated clock rather than compute).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
preset=${AMI_PRESET:-ci}
jobs=${AMI_JOBS:-$(nproc)}
test_jobs=${AMI_TEST_JOBS:-$(( $(nproc) + 1 ))}
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$jobs"
ctest --preset "$preset" -j "$test_jobs" "$@"
