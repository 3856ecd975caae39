#!/usr/bin/env bash
# Regenerates the ONNX export matrix (docs/onnx-import.md, "The export matrix"): tiny
# random LLaMA configurations exported by optimum, torch.onnx (dynamo and TorchScript) and
# the ONNX Runtime GenAI builder under a transformers 4.x and a 5.x environment
# (test/Import/ONNX/make-export-matrix.py), then imported, compiled and run by midllama
# against ONNX Runtime's logits (test/Import/ONNX/check-export-matrix.py), and the table
# rewritten. Not part of CI (it needs torch); about 25 minutes on 2 cores.
#
# The two Python environments are made here on first use (pinned versions, about 3 GB
# each, under $CACHE/venvs) unless MIDLLAMA_MATRIX_PY4 / MIDLLAMA_MATRIX_PY5 name
# interpreters that already have them. Exports go to $CACHE/onnx-export-matrix.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MIDLLAMA_BUILD_DIR:-$ROOT/build}
CACHE=${MIDLLAMA_CACHE_DIR:-$HOME/.cache/midllama}
OUT=$CACHE/onnx-export-matrix
log() { echo "onnx-export-matrix: $*" >&2; }

# venv NAME PACKAGES...: the interpreter of $CACHE/venvs/NAME, made if missing.
venv() {
  local dir=$CACHE/venvs/$1
  shift
  if [ ! -x "$dir/bin/python" ] || ! "$dir/bin/python" -c "import torch, transformers" 2>/dev/null; then
    log "making $dir ($*)"
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q "$@" >&2
  fi
  echo "$dir/bin/python"
}

COMMON=(torch==2.15.0 onnx==1.23.2 onnxruntime==1.32.0 onnxscript==0.7.2 tokenizers
        safetensors numpy)
PY4=${MIDLLAMA_MATRIX_PY4:-$(venv export-transformers4 "${COMMON[@]}" transformers==4.57.6 \
  optimum-onnx==0.1.0 onnxruntime-genai==0.11.4)}
PY5=${MIDLLAMA_MATRIX_PY5:-$(venv export-transformers5 "${COMMON[@]}" transformers==5.24.0 \
  onnxruntime-genai==0.18.0)}

[ -x "$BUILD/bin/midllama-import" ] || "$ROOT/scripts/setup.sh" >/dev/null
rm -rf "$OUT"
mkdir -p "$OUT"
n=0
for PY in "$PY4" "$PY5"; do
  n=$((n + 1))
  log "exporting with $PY (log: $OUT/export-$n.log)"
  "$PY" "$ROOT/test/Import/ONNX/make-export-matrix.py" "$OUT" > "$OUT/export-$n.log" 2>&1 ||
    { log "export failed, see $OUT/export-$n.log"; exit 1; }
done
python3 "$ROOT/test/Import/ONNX/check-export-matrix.py" "$OUT" --bin "$BUILD/bin" \
  --json "$OUT/results.json" --markdown "$ROOT/docs/onnx-import.md"
