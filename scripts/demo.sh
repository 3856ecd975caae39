#!/usr/bin/env bash
# The main job on the embedded default model (stories260K): set up and build
# (scripts/setup.sh), import the model from its committed ONNX export (torch.onnx, with KV
# cache), compile it for the CPU, run it (greedy generation from BOS, checked against the
# reference text), then compress it with a recipe (GPTQ 4-bit, the first layer's down
# projection 8-bit, calibrated on data/tinystories/calib.txt), and print the reports of
# both: perplexity and KL against fp32 on data/tinystories/eval.txt, artifact size, weight
# bytes and bits per parameter, peak RSS, time to first token, prefill and decode speed.
# Idempotent: outputs go to build/demo/ (or $MIDLLAMA_DEMO_DIR) and are replaced.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MIDLLAMA_BUILD_DIR:-$ROOT/build}
OUT=${MIDLLAMA_DEMO_DIR:-$BUILD/demo}
ONNX=$ROOT/test/Import/ONNX/Inputs/stories260K-torch-kv-fp32/model.onnx
TOKENIZER=$ROOT/models/stories260K/tok512.bin
REFERENCE=$ROOT/models/stories260K/greedy_from_bos_256.txt
EVAL=$ROOT/data/tinystories/eval.txt
CALIB=$ROOT/data/tinystories/calib.txt
RECIPE=${MIDLLAMA_DEMO_RECIPE:-gptq-w4g128-mixed}
"$ROOT/scripts/setup.sh"

BIN=$BUILD/bin
mkdir -p "$OUT"
echo
echo "== 1. import $ONNX"
"$BIN/midllama-import" "$ONNX" -o "$OUT/stories260K.mlir"
"$BIN/midllama-opt" --llm-stats "$OUT/stories260K.mlir" -o "$OUT/stats.mlir" | tail -n 4
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
"$BIN/midllama-run" "$OUT/stories260K.mlm" --perplexity "$EVAL" --ctx 256 \
  --json "$OUT/perplexity.json" 2>&1 | grep -v '^midllama-run report' || true
echo
echo "== 5. compress with the recipe $RECIPE (midllama-opt --midllama-recipe-$RECIPE)"
"$BIN/midllama-opt" "--midllama-recipe-$RECIPE=calib=$CALIB tokenizer=$TOKENIZER output=stories260K.$RECIPE.safetensors" \
  "$OUT/stories260K.mlir" -o "$OUT/stories260K.$RECIPE.mlir" 2> "$OUT/compress.log"
grep -E 'rule|calibration done' "$OUT/compress.log" | sed 's/^/   /'
echo "   (per-weight and per-layer progress in $OUT/compress.log)"
"$BIN/midllama-compile" "$OUT/stories260K.$RECIPE.mlir" --tokenizer "$TOKENIZER" \
  -o "$OUT/stories260K.$RECIPE.mlm" > /dev/null
echo
echo "== 6. the compressed model: generation, then accuracy against fp32 on the same windows"
"$BIN/midllama-run" "$OUT/stories260K.$RECIPE.mlm" --prompt "" --steps 256 --repeat 5 \
  --json "$OUT/$RECIPE.generate.json" 2>&1 > "$OUT/$RECIPE.greedy.txt" |
  grep -E 'artifact size|weights|peak RSS|time to first|decode' || true
"$BIN/midllama-run" "$OUT/stories260K.$RECIPE.mlm" --perplexity "$EVAL" --ctx 256 \
  --kl-base "$OUT/stories260K.mlm" --json "$OUT/$RECIPE.perplexity.json" 2>&1 |
  grep -E 'perplexity|KL|top-1' || true
echo
echo "(JSON reports: $OUT/generate.json, $OUT/perplexity.json, $OUT/$RECIPE.generate.json,"
echo " $OUT/$RECIPE.perplexity.json. Other recipes: MIDLLAMA_DEMO_RECIPE=awq-w4g128, nf4-dq,"
echo " int8, rtn-w4g128, ...; results for every method: docs/results.md)"
