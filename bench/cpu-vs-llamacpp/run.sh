#!/usr/bin/env bash
# Issue 18: midllama vs llama.cpp on the CPU with the same weights. llama.cpp is built from
# the llama-cpp-python sdist's vendored source (get-llamacpp.sh); SmolLM2-135M-Instruct
# (scripts/get-model.sh) is dequantized to an F32 GGUF and quantized again with
# llama-quantize --pure to Q8_0, Q4_0 and Q4_1 (every tensor in that type, the tied
# embedding too), and without --pure to Q4_K_M (llama.cpp's usual mix: Q4_K, Q6_K for the
# output and some attn_v/ffn_down tensors, Q5_0/Q8_0 where K is not a multiple of 256),
# each imported by midllama-import with its storage kept (Q8_0/Q4_0: #llm.affine symmetric
# g32, Q4_1 and Q4_K: with their minimum, Q6_K: symmetric 6-bit g16) and compiled; then
# compare.py.
# llama100m is the ~100M LLaMA shape of bench/cpu-vs-ort (random weights written as an F32
# GGUF by make-llama100m-gguf.py, with the Llama 2 tokenizer; numpy and gguf from PyPI in a
# virtual environment of the bench folder). With no environment set, one command runs the
# whole table of docs/benchmarks.md (both models at 1 and 2 threads, one after the other)
# and ends with it (summary.py).
# Environment: MIDLLAMA_BENCH_MODEL ("smollm2 llama100m"), MIDLLAMA_BENCH_THREADS ("1 2"),
# MIDLLAMA_BENCH_ROUNDS (3), MIDLLAMA_BENCH_FORMATS
# (F32,Q8_0,Q4_0,Q4_1,Q4_K_M), MIDLLAMA_BENCH_RUN_ARGS (more midllama-run flags, e.g.
# --fp32-activations: the imports default to int8 activations, as llama.cpp computes
# ggml's blocks), MIDLLAMA_BENCH_DIR (~/.cache/midllama/bench-llamacpp),
# MIDLLAMA_BIN_DIR, MIDLLAMA_BENCH_DEPTH (decode alone after that many tokens of context,
# compare.py --depth; e.g. 2000, with MIDLLAMA_BENCH_RUN_ARGS="--kv-cache f16" for
# llama.cpp's fp16 cache). Writes $DIR/compare-<model>-t<threads>[-d<depth>][-<flags>].json
# and prints each run's table, then (without a depth) the summary of all.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${MIDLLAMA_BIN_DIR:-$ROOT/build/bin}
DIR=${MIDLLAMA_BENCH_DIR:-$HOME/.cache/midllama/bench-llamacpp}
FORMATS=${MIDLLAMA_BENCH_FORMATS:-F32,Q8_0,Q4_0,Q4_1,Q4_K_M}
log() { echo "cpu-vs-llamacpp [$(date +%H:%M:%S)]: $*" >&2; }
[ -n "${MIDLLAMA_BIN_DIR:-}" ] || "$ROOT/scripts/setup.sh" > /dev/null
LC=$("$ROOT/bench/cpu-vs-llamacpp/get-llamacpp.sh")
mkdir -p "$DIR"
FLAGS=$(echo "${MIDLLAMA_BENCH_RUN_ARGS:-}" | tr -cs 'a-z0-9\n' '-')
DEPTH=${MIDLLAMA_BENCH_DEPTH:+-d$MIDLLAMA_BENCH_DEPTH}
results=()
for MODEL in ${MIDLLAMA_BENCH_MODEL:-smollm2 llama100m}; do
  case $MODEL in
  smollm2)
    if [ ! -f "$DIR/smollm2-F32.gguf" ]; then
      SRC=$("$ROOT/scripts/get-model.sh" smollm2)
      log "F32 GGUF from $SRC"
      "$LC/llama-quantize" --allow-requantize "$SRC" "$DIR/smollm2-F32.gguf.tmp" F32 \
        > "$DIR/quantize-F32.log" 2>&1
      mv "$DIR/smollm2-F32.gguf.tmp" "$DIR/smollm2-F32.gguf"
    fi ;;
  llama100m)
    if [ ! -f "$DIR/llama100m-F32.gguf" ]; then
      [ -x "$DIR/venv/bin/python" ] || python3 -m venv "$DIR/venv"
      "$DIR/venv/bin/python" -c "import numpy, gguf" 2>/dev/null ||
        "$DIR/venv/bin/pip" install -q numpy gguf==0.19.0
      log "F32 GGUF of the 100M shape (random weights)"
      "$DIR/venv/bin/python" "$ROOT/bench/cpu-vs-llamacpp/make-llama100m-gguf.py" \
        "$ROOT/models/llama2-tokenizer/tokenizer.bin" "$DIR/llama100m-F32.gguf.tmp"
      mv "$DIR/llama100m-F32.gguf.tmp" "$DIR/llama100m-F32.gguf"
    fi ;;
  *)
    echo "cpu-vs-llamacpp: MIDLLAMA_BENCH_MODEL lists smollm2 or llama100m, not '$MODEL'" >&2
    exit 1 ;;
  esac
  entries=()
  for f in ${FORMATS//,/ }; do
    gguf=$DIR/$MODEL-$f.gguf
    if [ ! -f "$gguf" ]; then
      # A mix (Q4_K_M) is quantized as llama.cpp's users get it; a single type everywhere.
      pure=(--pure)
      case $f in *_K_*) pure=() ;; esac
      log "$f GGUF (llama-quantize ${pure[*]:-with its mix})"
      "$LC/llama-quantize" "${pure[@]}" "$DIR/$MODEL-F32.gguf" "$gguf.tmp" "$f" \
        > "$DIR/quantize-$MODEL-$f.log" 2>&1
      mv "$gguf.tmp" "$gguf"
    fi
    mlm=$DIR/$MODEL-$f.mlm
    # Made again by a newer importer or compiler (what it records, e.g. the default
    # activations, may have changed since).
    if [ ! -f "$mlm" ] || [ "$BIN/midllama-import" -nt "$mlm" ] ||
      [ "$BIN/midllama-compile" -nt "$mlm" ]; then
      log "$f: midllama-import, midllama-compile"
      # A folder each: the importer writes the tokenizer and weights beside the IR, where
      # the compiler looks for them.
      mkdir -p "$DIR/$MODEL-$f"
      "$BIN/midllama-import" "$gguf" -o "$DIR/$MODEL-$f/$MODEL-$f.mlir" --force > /dev/null
      "$BIN/midllama-compile" "$DIR/$MODEL-$f/$MODEL-$f.mlir" -o "$DIR/$MODEL-$f.mlm" > /dev/null
    fi
    entries+=("$f=$gguf:$DIR/$MODEL-$f.mlm")
  done
  list=$(IFS=,; echo "${entries[*]}")
  for THREADS in ${MIDLLAMA_BENCH_THREADS:-1 2}; do
    log "$MODEL, $THREADS thread(s)"
    python3 "$ROOT/bench/cpu-vs-llamacpp/compare.py" --formats "$list" \
      --llama-bench "$LC/llama-bench" --midllama-run "$BIN/midllama-run" --threads "$THREADS" \
      --rounds "${MIDLLAMA_BENCH_ROUNDS:-3}" --midllama-args="${MIDLLAMA_BENCH_RUN_ARGS:-}" \
      --depth "${MIDLLAMA_BENCH_DEPTH:-0}" --json "$DIR/compare-$MODEL-t$THREADS$DEPTH$FLAGS.json"
    results+=("$MODEL,$THREADS=$DIR/compare-$MODEL-t$THREADS$DEPTH$FLAGS.json")
  done
done
[ -n "$DEPTH" ] || python3 "$ROOT/bench/cpu-vs-llamacpp/summary.py" "${results[@]}"
