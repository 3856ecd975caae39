#!/usr/bin/env bash
# The main job on the embedded default model (stories260K): set up and build
# (scripts/setup.sh), import the model from its committed ONNX export (torch.onnx, with KV
# cache), compile it for the CPU, run it (greedy generation from BOS, checked against the
# reference text) and print the report: artifact size, weight bytes, peak RSS, time to
# first token, prefill and decode speed, and perplexity when the evaluation text is there.
# Idempotent: outputs go to build/demo/ (or $MIDLLAMA_DEMO_DIR) and are replaced.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MIDLLAMA_BUILD_DIR:-$ROOT/build}
OUT=${MIDLLAMA_DEMO_DIR:-$BUILD/demo}
ONNX=$ROOT/test/Import/ONNX/Inputs/stories260K-torch-kv-fp32/model.onnx
TOKENIZER=$ROOT/models/stories260K/tok512.bin
REFERENCE=$ROOT/models/stories260K/greedy_from_bos_256.txt
EVAL=$ROOT/../shared/data/tinystories/eval.txt
"$ROOT/scripts/setup.sh"

BIN=$BUILD/bin
mkdir -p "$OUT"
echo
echo "== 1. import $ONNX"
"$BIN/midllama-import" "$ONNX" -o "$OUT/stories260K.mlir"
"$BIN/midllama-opt" --llm-stats "$OUT/stories260K.mlir" -o /dev/null | tail -n 4
echo
echo "== 2. compile for the CPU (pipeline midllama-lower-cpu), tokenizer embedded"
"$BIN/midllama-compile" "$OUT/stories260K.mlir" --tokenizer "$TOKENIZER" -o "$OUT/stories260K.mlm"
echo "   wrote $OUT/stories260K.mlm"
echo
echo "== 3. run: 256 tokens, greedy from BOS"
"$BIN/midllama-run" "$OUT/stories260K.mlm" --prompt "" --steps 256 --repeat 5 \
  --json "$OUT/generate.json" > "$OUT/greedy.txt"
head -c 300 "$OUT/greedy.txt"; echo " ..."
if cmp -s "$OUT/greedy.txt" "$REFERENCE"; then
  echo "   the text is the reference greedy text, byte for byte"
else
  echo "   the text differs from $REFERENCE"; exit 1
fi
echo
echo "== 4. accuracy: perplexity on the TinyStories evaluation text, ctx 256"
if [ -f "$EVAL" ]; then
  "$BIN/midllama-run" "$OUT/stories260K.mlm" --perplexity "$EVAL" --ctx 256 \
    --json "$OUT/perplexity.json" 2>&1 | grep -v '^midllama-run report' || true
else
  echo "   skipped: $EVAL is not beside this checkout (../shared)"
fi
echo
echo "(JSON reports: $OUT/generate.json, $OUT/perplexity.json)"
echo "Compression passes (quantization, pruning) are the next stages; README.md lists what"
echo "each stage does today."
