#!/usr/bin/env bash
# Prepares, on a machine with the full build (no GPU needed), what the GPU checks carry to a
# lent GPU machine (which has the CUDA toolkit but no LLVM/MLIR): stories260K compiled for
# the GPU target in every weight format the CUDA kernels decode, the CPU backend's logits
# of each over 64 tokens and the CPU perplexity, in $KIT (default device-kit/, git-ignored).
# bench/cuda/prepare-7b-kit.sh and prepare-smollm2-kit.sh add larger shapes to it, and
# bench/cuda/pack-device-kit.sh packs it for the device tool's 64 MiB carry.
# Usage: bench/cuda/prepare-device-kit.sh [TARGET]   (default sm_90: H100/H200)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${MIDLLAMA_BUILD_DIR:-$ROOT/build}/bin
KIT=${KIT:-$ROOT/device-kit}
TARGET=${1:-sm_90}
CALIB=$ROOT/models/stories260K/greedy_from_bos_256.tokens
rm -rf "$KIT" && mkdir -p "$KIT/work"
W=$KIT/work
"$BIN/midllama-import" "$ROOT/models/stories260K/stories260K.bin" -o "$W/m.mlir" 2>/dev/null
opt() { "$BIN/midllama-opt" "$1" "$W/$2.mlir" -o "$W/$3.mlir" 2>/dev/null; }
opt "--llm-quantize-rtn=bits=4 group-size=32 output=rtn.safetensors" m rtn
opt "--llm-quantize-nf4=double-quant=true output=nf4.safetensors" m nf4
opt "--llm-quantize-int8=threshold=1 calib=$CALIB samples=4 seq-len=64 output=int8.safetensors" m int8
opt "--llm-prune-magnitude=pattern=2:4 output=nm.safetensors" m nm
opt "--llm-prune-magnitude=sparsity=0.5 output=bm.safetensors" m bm
opt "--llm-quantize-nf4=output=nmnf4.safetensors" nm nmnf4
opt "--llm-quantize-rtn=bits=4 group-size=32 output=bmrtn.safetensors" bm bmrtn
opt "--llm-quantize-int8=threshold=1 calib=$CALIB samples=4 seq-len=64 output=bmint8.safetensors" bm bmint8
cut -d' ' -f1-64 "$CALIB" > "$KIT/ids.txt"
FORMATS="m rtn nf4 int8 nm bm nmnf4 bmrtn bmint8"
echo "$FORMATS" > "$KIT/formats.txt"
echo "$TARGET" > "$KIT/target.txt"
for f in $FORMATS; do
  "$BIN/midllama-compile" "$W/$f.mlir" --tokenizer "$ROOT/models/stories260K/tok512.bin" \
    --target="$TARGET" -o "$KIT/$f.mlm" > /dev/null
  "$BIN/midllama-run" "$KIT/$f.mlm" --device cpu --prompt-ids "$(cat "$KIT/ids.txt")" \
    --logits-out "$KIT/$f.cpu.bin" > /dev/null 2>&1
done
"$BIN/midllama-run" "$KIT/m.mlm" --device cpu --perplexity "$ROOT/data/tinystories/eval.txt" \
  --ctx 256 --max-windows 32 --json "$KIT/m.ppl.cpu.json" 2>/dev/null
rm -rf "$W"
# The runtime-only binaries for the device (CUDA runtime linked statically, no -march): they
# start there without a build; run-on-device.sh builds from the tree when they do not.
GPU_BUILD=${MIDLLAMA_GPU_BUILD_DIR:-$ROOT/build-gpu}
cmake -S "$ROOT" -B "$GPU_BUILD" -G Ninja -DMIDLLAMA_RUNTIME_ONLY=ON \
  -DCMAKE_CUDA_ARCHITECTURES="${TARGET#sm_}" > /dev/null
ninja -C "$GPU_BUILD" midllama-run midllama-cuda-kernel-bench > /dev/null
mkdir -p "$KIT/bin"
cp "$GPU_BUILD/bin/midllama-run" "$GPU_BUILD/bin/midllama-cuda-kernel-bench" "$KIT/bin/"
strip "$KIT"/bin/*
du -sh "$KIT"
