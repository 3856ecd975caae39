#!/usr/bin/env bash
# Adds to the GPU device kit SmolLM2-135M-Instruct's real weights as its GGUF stores them
# (Q4_1 projections, Q8_0 tied embedding: the smallest real artifact, 99 MB) compiled for
# the GPU target, with this machine's CPU backend's answers to compare the GPU's with:
# the logits of a 5-token prompt, the greedy text of 64 tokens and WikiText-2 perplexity
# (4 windows of 512), all with fp32 activations (what the GPU kernels compute with; the
# artifact's CPU default is int8 activations, as llama.cpp's).
# The artifact does not fit one device call (the working tree, ~40 MiB, and what a call
# carries share 64 MiB), so pack-device-kit.sh sends it apart, xz-compressed in parts of
# about 23 MiB staged over several calls of one warm machine (docs/cuda.md "On a GPU").
# Needs: a build, the GGUF (scripts/get-model.sh smollm2), about two minutes.
# Usage: bench/cuda/prepare-smollm2-real-kit.sh [TARGET]   (default sm_90)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${MIDLLAMA_BUILD_DIR:-$ROOT/build}/bin
KIT=${KIT:-$ROOT/device-kit}/smollm2-real
TARGET=${1:-sm_90}
GGUF=$("$ROOT/scripts/get-model.sh" smollm2)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
rm -rf "$KIT" && mkdir -p "$KIT"
"$BIN/midllama-import" "$GGUF" -o "$W/stored.mlir" --force 2> /dev/null
"$BIN/midllama-compile" "$W/stored.mlir" --target="$TARGET" -o "$KIT/stored.mlm" > /dev/null 2>&1
RUN=("$BIN/midllama-run" "$KIT/stored.mlm" --device cpu --fp32-activations)
echo "504 3575 282 4649 314" > "$KIT/ids.txt" # "The capital of France is" (test/Import/GGUF)
"${RUN[@]}" --prompt-ids "$(cat "$KIT/ids.txt")" --logits-out "$KIT/stored.cpu.bin" \
  > /dev/null 2>&1
"${RUN[@]}" --prompt "The capital of France is" --steps 64 --ignore-eos \
  > "$KIT/greedy.cpu.txt" 2> /dev/null
"${RUN[@]}" --perplexity "$ROOT/data/wikitext2/wiki.test.raw" --ctx 512 --max-windows 4 \
  --json "$KIT/ppl.cpu.json" > /dev/null 2>&1
sha256sum "$KIT/stored.mlm" | cut -d' ' -f1 > "$KIT/stored.mlm.sha256"
echo "SmolLM2 real-weights kit: $(du -sh "$KIT" | cut -f1) ($KIT)"
