#!/usr/bin/env bash
# Adds to the GPU device kit a LLaMA-2-7B-shaped model (32 layers, hidden 4096, FFN 11008,
# 32 heads, vocabulary 32000) compiled for the GPU target with --synthetic-weights, in fp16,
# int4 g128 (RTN) and NF4 b64: each artifact is the program and a manifest (about 1 MB);
# midllama-run --synthetic-weights fills the 3.5-13.5 GB of weights with random values on
# the GPU machine, so the end-to-end decode benchmark runs there without moving them.
# Needs: the 7B-shaped ONNX model of bench/import-7b (written by its run.sh, or by
# make_llama7b_onnx.py, into $MIDLLAMA_BENCH_DIR, default /tmp/midllama-bench-7b), ~20 GB of
# disk for the quantized parameter files (types only matter; they are deleted after), and
# a few minutes (the quantization passes read every weight).
# Usage: bench/cuda/prepare-7b-kit.sh [TARGET]   (default sm_90)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${MIDLLAMA_BUILD_DIR:-$ROOT/build}/bin
DIR=${MIDLLAMA_BENCH_DIR:-/tmp/midllama-bench-7b}
KIT=${KIT:-$ROOT/device-kit}/7b
TARGET=${1:-sm_90}
TOKENIZER=${MIDLLAMA_7B_TOKENIZER:-$ROOT/models/llama2-tokenizer/tokenizer.model}
[ -f "$DIR/model.onnx" ] || { echo "no $DIR/model.onnx: run bench/import-7b/run.sh first" >&2; exit 1; }
mkdir -p "$KIT" "$DIR/kit"
W=$DIR/kit
# The imported fp16 IR (MIDLLAMA_7B_MLIR: one imported already, with its parameter file).
FP16=${MIDLLAMA_7B_MLIR:-$W/fp16.mlir}
[ -f "$FP16" ] || "$BIN/midllama-import" "$DIR/model.onnx" -o "$FP16" --force
"$BIN/midllama-opt" "--llm-quantize-rtn=bits=4 group-size=128 output=w4g128.safetensors" \
  "$FP16" -o "$W/w4g128.mlir" 2> "$W/w4g128.log"
"$BIN/midllama-opt" "--llm-quantize-nf4=block-size=64 output=nf4.safetensors" \
  "$FP16" -o "$W/nf4.mlir" 2> "$W/nf4.log"
cp "$FP16" "$W/fp16.mlir" 2>/dev/null || true # types only: the parameter file is not read
for f in fp16 w4g128 nf4; do
  "$BIN/midllama-compile" "$W/$f.mlir" --synthetic-weights --target="$TARGET" \
    --max-context 512 --tokenizer "$TOKENIZER" -o "$KIT/$f.mlm" > /dev/null
done
rm -f "$W/w4g128.safetensors" "$W/nf4.safetensors"
ls -la "$KIT"
