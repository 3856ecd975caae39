#!/usr/bin/env bash
# Adds to the GPU device kit every docs/table1.md recipe of SmolLM2-135M compiled for the GPU
# target with --synthetic-weights: each artifact is its recipe's program and the manifest of
# its exact tensors (pruned weights: their kept counts; LLM.int8(): its outlier columns), so
# on the GPU it allocates what the real artifact would, with generated values.
# run-on-device.sh then measures each recipe's GPU memory for table1's peak-RAM protocol (a
# greedy generation of 64 tokens): the device memory the process holds (nvidia-smi, peak
# over the run, less what was in use before it) and midllama's arena. The real weights do
# not fit the device tool's carry (fp32 540 MB); their memory does not depend on values.
# Needs the recipes' IR from a table1 run (scripts/table1.sh; MIDLLAMA_RESULTS_DIR, default
# build/results-smollm2); rows without it are listed and skipped.
# Usage: bench/cuda/prepare-table1-vram-kit.sh [TARGET]   (default sm_90)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${MIDLLAMA_BUILD_DIR:-$ROOT/build}/bin
RESULTS=${MIDLLAMA_RESULTS_DIR:-$ROOT/build/results-smollm2}
KIT=${KIT:-$ROOT/device-kit}/table1
TARGET=${1:-sm_90}
ROWS=${MIDLLAMA_TABLE1_ROWS:-"fp32 fp16 stored nf4-b64 gptq-w4g128 awq-w4g128 int8-t6 gblm-50+int8-t6 rtn-w4g128 gptq-w3g128 sparsegpt-50 wanda-50"}
rm -rf "$KIT" && mkdir -p "$KIT"
: > "$KIT/rows.txt"
missing=""
for r in $ROWS; do
  ir=$RESULTS/$r.mlir
  [ -f "$ir" ] || ir=$RESULTS/$r/$r.mlir # the imports (fp16, stored) have their own folder
  if [ ! -f "$ir" ]; then
    missing="$missing $r"
    continue
  fi
  # File names the device tool returns: letters, digits, '.', '_' and '-' ('+' and ':' not).
  f=$(echo "$r" | tr -c 'A-Za-z0-9._\n-' '_')
  "$BIN/midllama-compile" "$ir" --synthetic-weights --target="$TARGET" -o "$KIT/$f.mlm" \
    > /dev/null 2> "$KIT/$f.compile.log" || { cat "$KIT/$f.compile.log" >&2; exit 1; }
  rm -f "$KIT/$f.compile.log"
  echo "$r $f" >> "$KIT/rows.txt"
done
[ -z "$missing" ] || echo "prepare-table1-vram-kit: no IR in $RESULTS for:$missing (skipped)" >&2
if [ ! -s "$KIT/rows.txt" ]; then # nothing to measure: no table1/ in the kit
  rm -rf "$KIT"
  echo "table1 VRAM kit: no recipe (run scripts/table1.sh first)"
  exit 0
fi
echo "table1 VRAM kit: $(wc -l < "$KIT/rows.txt") recipes, $(du -sh "$KIT" | cut -f1)"
