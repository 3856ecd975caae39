#!/usr/bin/env bash
# Installs what midllama needs and builds it into build/ (or $MIDLLAMA_BUILD_DIR).
# Idempotent: packages already present are not reinstalled, and the build is incremental.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MIDLLAMA_BUILD_DIR:-$ROOT/build}

# Debian 12 packages (LLVM/MLIR 22 come from bookworm-security). CUDA is optional: when
# /usr/local/cuda/bin/nvcc exists the .cu kernels are compiled too.
APT_PACKAGES=(build-essential cmake ninja-build ccache
  llvm-22 llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools lld-22
  libonnx-dev libprotobuf-dev protobuf-compiler libgtest-dev
  clang-14 libclang-rt-14-dev)  # clang-14: the libFuzzer target

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/midllama-ccache}
cmake -G Ninja -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD"
