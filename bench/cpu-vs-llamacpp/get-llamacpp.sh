#!/usr/bin/env bash
# Builds llama.cpp's llama-bench, llama-quantize and llama-perplexity from the source that
# the llama-cpp-python sdist on PyPI vendors (the ordinary pip client; nothing committed),
# into $MIDLLAMA_LLAMACPP_DIR (default ~/.cache/midllama/llamacpp), with -march=native as
# llama.cpp's own default build does. Idempotent: a finished build is reused. Prints the
# directory of the binaries.
set -euo pipefail
VERSION=0.3.36
SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
DIR=${MIDLLAMA_LLAMACPP_DIR:-$HOME/.cache/midllama/llamacpp}
SRC=$DIR/llama_cpp_python-$VERSION/vendor/llama.cpp
BIN=$DIR/build-$VERSION/bin
if [ -x "$BIN/llama-bench" ] && [ -x "$BIN/llama-quantize" ] && [ -x "$BIN/llama-perplexity" ]; then
  echo "$BIN"
  exit 0
fi
mkdir -p "$DIR"
TARBALL=$DIR/llama_cpp_python-$VERSION.tar.gz
if [ ! -f "$TARBALL" ]; then
  python3 -m pip download --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$DIR" >&2 ||
    { echo "get-llamacpp: cannot download llama-cpp-python $VERSION from PyPI (offline?)" >&2; exit 1; }
fi
echo "$SHA256  $TARBALL" | sha256sum -c --quiet - ||
  { echo "get-llamacpp: $TARBALL: sha256 mismatch" >&2; exit 1; }
[ -d "$SRC" ] || tar xzf "$TARBALL" -C "$DIR"
cmake -S "$SRC" -B "$DIR/build-$VERSION" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
  -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
  -DLLAMA_OPENSSL=OFF >&2
cmake --build "$DIR/build-$VERSION" -j "$(nproc)" --target llama-bench llama-quantize llama-perplexity >&2
echo "$BIN"
