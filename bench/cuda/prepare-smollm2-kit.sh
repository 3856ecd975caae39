#!/usr/bin/env bash
# Adds to the GPU device kit SmolLM2-135M's shape (30 layers, hidden 576, 9 heads over 3 KV
# heads, FFN 1536, vocabulary 49152, tied embedding, rope theta 1e5) compiled for the GPU
# target with --synthetic-weights: as the GGUF stores it (Q4_1 projections, Q8_0 embedding),
# dequantized to fp32, and RTN int4 g128 and NF4 from that. The real weights do not fit the
# device tool's 64 MiB carry (fp32 540 MB, as stored 100 MB), so the device machine
# generates the same deterministic weights for both of its backends, and
# run-on-device.sh compares the GPU's logits with its own CPU backend's on that machine
# (the shapes, GQA and tied head are what the check covers; accuracy needs the real weights).
# Needs: a build, the GGUF (scripts/get-model.sh smollm2 fetches it), ~1 GB of disk, a minute.
# Usage: bench/cuda/prepare-smollm2-kit.sh [TARGET]   (default sm_90)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${MIDLLAMA_BUILD_DIR:-$ROOT/build}/bin
KIT=${KIT:-$ROOT/device-kit}/smollm2
TARGET=${1:-sm_90}
GGUF=$("$ROOT/scripts/get-model.sh" smollm2)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$KIT"
"$BIN/midllama-import" "$GGUF" -o "$W/stored.mlir" --force
"$BIN/midllama-import" "$GGUF" --dequantize -o "$W/fp32.mlir" --force
"$BIN/midllama-opt" "--llm-quantize-rtn=bits=4 group-size=128 output=w4g128.safetensors" \
  "$W/fp32.mlir" -o "$W/w4g128.mlir" 2> /dev/null
"$BIN/midllama-opt" "--llm-quantize-nf4=block-size=64 output=nf4.safetensors" \
  "$W/fp32.mlir" -o "$W/nf4.mlir" 2> /dev/null
for f in stored fp32 w4g128 nf4; do
  "$BIN/midllama-compile" "$W/$f.mlir" --synthetic-weights --target="$TARGET" \
    -o "$KIT/$f.mlm" > /dev/null
done
echo "stored fp32 w4g128 nf4" > "$KIT/formats.txt"
ls -la "$KIT"
