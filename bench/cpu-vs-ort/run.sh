#!/usr/bin/env bash
# CPU decode and evaluation throughput, midllama vs ONNX Runtime on the same ONNX files,
# same thread count, same run (bench.py says exactly what is measured): stories260K (its
# committed torch.onnx export) and a ~100M-parameter LLaMA shape with synthetic weights
# (written once by make_llama_onnx.py into $MIDLLAMA_BENCH_DIR, default
# /tmp/midllama-bench-cpu).
# Needs: a build (scripts/setup.sh), the evaluation text and Llama 2 tokenizer of data/ and
# models/, and python3 with onnx, numpy and onnxruntime: when they are missing, a virtual
# environment is made in the bench folder and they are installed from PyPI (the benchmark's baseline,
# never needed by midllama itself).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${MIDLLAMA_BUILD_DIR:-$ROOT/build}
DIR=${MIDLLAMA_BENCH_DIR:-/tmp/midllama-bench-cpu}
THREADS=${MIDLLAMA_BENCH_THREADS:-$(nproc)}
mkdir -p "$DIR"
PY=python3
if ! $PY -c "import onnx, numpy, onnxruntime" 2>/dev/null; then
  [ -x "$DIR/venv/bin/python" ] || python3 -m venv "$DIR/venv"
  "$DIR/venv/bin/pip" install -q onnx numpy onnxruntime
  PY=$DIR/venv/bin/python
fi
PATH=$(dirname "$(command -v $PY)"):$PATH $PY "$ROOT/bench/cpu-vs-ort/bench.py" \
  --build "$BUILD" --work "$DIR" --threads "$THREADS" --out "$DIR/cpu-vs-ort.json"
