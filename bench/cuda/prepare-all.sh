#!/usr/bin/env bash
# Everything a GPU session needs, in one command on the preparing machine (no GPU): the
# device kit of stories260K, SmolLM2's shape, table1's recipes (from the results of
# scripts/table1.sh, rows without them skipped), SmolLM2's real weights, the 7B shape when
# its ONNX model is there (bench/import-7b/run.sh writes it), packed for the device tool,
# then the whole device script run here with the CPU standing in for the GPU
# (dry-run-on-cpu.sh). Ends with the device calls to make, in order (pack-device-kit.sh).
# Usage: bench/cuda/prepare-all.sh [TARGET]   (default sm_90)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
T=${1:-sm_90}
C=$ROOT/bench/cuda
log() { echo "prepare-all [$(date +%H:%M:%S)]: $*" >&2; }
log "stories260K kit and the runtime-only binaries"
"$C/prepare-device-kit.sh" "$T"
log "SmolLM2's shape (synthetic weights)"
"$C/prepare-smollm2-kit.sh" "$T" > /dev/null
log "table1's recipes (synthetic weights of their exact tensors)"
"$C/prepare-table1-vram-kit.sh" "$T"
log "SmolLM2's real weights and this CPU's answers"
"$C/prepare-smollm2-real-kit.sh" "$T"
if [ -f "${MIDLLAMA_BENCH_DIR:-/tmp/midllama-bench-7b}/model.onnx" ]; then
  log "the 7B shape"
  "$C/prepare-7b-kit.sh" "$T"
else
  log "no 7B kit: its ONNX model is not there (bench/import-7b/run.sh writes it)"
fi
calls=$(mktemp)
trap 'rm -f "$calls"' EXIT
"$C/pack-device-kit.sh" > "$calls"
log "dry run of the device script here"
"$C/dry-run-on-cpu.sh" | tail -3
cat "$calls"
