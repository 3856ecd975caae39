#!/usr/bin/env bash
# The main job on the embedded default model (stories260K): set up and build
# (scripts/setup.sh), import the model into the llm dialect, check its parameter file
# against the IR, and print the weight report (a table here, JSON next to the outputs).
# Idempotent: outputs go to build/demo/ (or $MIDLLAMA_DEMO_DIR) and are replaced.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MIDLLAMA_BUILD_DIR:-$ROOT/build}
OUT=${MIDLLAMA_DEMO_DIR:-$BUILD/demo}
MODEL=$ROOT/models/stories260K/stories260K.bin
"$ROOT/scripts/setup.sh"

BIN=$BUILD/bin
mkdir -p "$OUT"
echo
echo "== 1. import: $MODEL"
"$BIN/midllama-import" "$MODEL" -o "$OUT/stories260K.mlir"
echo "   wrote $OUT/stories260K.mlir and $OUT/stories260K.safetensors"
echo
echo "== 2. verify: every declared weight is in the parameter file, with the shape its type says"
"$BIN/midllama-opt" --llm-verify-params "$OUT/stories260K.mlir" -o /dev/null
echo "   ok"
echo
echo "== 3. report: parameters, storage and weight memory"
"$BIN/midllama-opt" --llm-stats "$OUT/stories260K.mlir" -o /dev/null
"$BIN/midllama-opt" --llm-stats="format=json output=$OUT/stats.json" "$OUT/stories260K.mlir" \
  -o /dev/null
echo "   (JSON: $OUT/stats.json)"
echo
echo "Compression passes, compilation and execution (accuracy and latency in this report)"
echo "are not built yet; README.md lists what each stage does today."
