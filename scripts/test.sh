#!/usr/bin/env bash
# Sets up and builds (scripts/setup.sh), then runs every test: the lit suite and the
# GoogleTest units, through the check-midllama target. GPU tests skip, visibly, without a GPU.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MIDLLAMA_BUILD_DIR:-$ROOT/build}
"$ROOT/scripts/setup.sh"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cmake --build "$BUILD" --target check-midllama 2>&1 | tee "$log" || status=$?

# One closing line in the form CI reads: "N passed, N failed, N skipped".
# lit's summary lines look like "  Passed: 13 (86.67%)" or "  Timed Out: 1 (2.00%)".
count() {
  awk -F': ' -v label="$1" '{ sub(/^ +/, "", $1); sub(/ +$/, "", $1) } $1 == label { split($2, f, " "); n += f[1] }
                            END { print n + 0 }' "$log"
}
passed=$(count Passed)
failed=$(( $(count Failed) + $(count Unresolved) + $(count "Timed Out") + $(count "Unexpectedly Passed") ))
skipped=$(( $(count Skipped) + $(count Unsupported) ))
# Say why GPU tests were skipped, so a skip is never silent.
gpu=$("$BUILD/test/unittests/MidllamaRuntimeTests" \
        --gtest_filter=DeviceProbeTest.UsableGpuRunsOurKernel 2>&1 | grep -m1 "no usable GPU" || true)
[ -n "$gpu" ] && echo "GPU tests skipped: ${gpu#*no usable GPU: }"
echo "midllama: ${passed} passed, ${failed} failed, ${skipped} skipped"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
  exit 1
fi
