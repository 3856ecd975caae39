#!/usr/bin/env bash
# Packs the GPU device kit (prepare-device-kit.sh, then optionally prepare-7b-kit.sh,
# prepare-smollm2-kit.sh, prepare-table1-vram-kit.sh and prepare-smollm2-real-kit.sh) for
# the device tool, whose working tree (~40 MiB) and carried paths share 64 MiB a call:
# device-kit.tar.xz (git-ignored; the kit's tokenizers and binaries compress several-fold)
# and, when the kit has SmolLM2's real weights (99 MB), that artifact apart: xz-compressed
# and split into device-kit-stage/part.NN as large as a call can carry beside the tree
# (~23.5 MiB), each carried by its own call of one warm machine into /tmp/midllama-stage
# there, the last (the smallest) with the kit and the run (docs/cuda.md "On a GPU").
# Prints the sizes and the device calls, in order.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KIT=${KIT:-$ROOT/device-kit}
STAGE=$ROOT/device-kit-stage
LIMIT=$((64 * 1024 * 1024))
# What travels with every call: tracked files and untracked ones git does not ignore.
tree=$(cd "$ROOT" && { git ls-files -z; git ls-files -z --others --exclude-standard; } |
  xargs -0 stat -c %s 2> /dev/null | awk '{ s += $1 } END { print s + 0 }')
# Parts fill what a call carries beside the tree, less 512 KiB for the tree to grow.
PART=$(( (LIMIT - tree - 512 * 1024) / 65536 * 65536 ))
[ -f "$KIT/target.txt" ] || { echo "no kit in $KIT: run bench/cuda/prepare-device-kit.sh" >&2; exit 1; }
rm -rf "$STAGE"
parts=()
if [ -f "$KIT/smollm2-real/stored.mlm" ]; then # first: its list of parts travels in the kit
  mkdir -p "$STAGE"
  xz -6 -T0 -c "$KIT/smollm2-real/stored.mlm" | split -b "$PART" -d - "$STAGE/part."
  mapfile -t parts < <(cd "$STAGE" && ls part.*)
  printf '%s\n' "${parts[@]}" > "$KIT/smollm2-real/parts.txt"
fi
tar -cf - -C "$KIT" --exclude=./smollm2-real/stored.mlm . | xz -6 -T0 > "$ROOT/device-kit.tar.xz.tmp"
mv "$ROOT/device-kit.tar.xz.tmp" "$ROOT/device-kit.tar.xz"
size() { stat -c %s "$1"; }
kit=$(size "$ROOT/device-kit.tar.xz")
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo "working tree $(mib "$tree"), device-kit.tar.xz $(mib "$kit")"
run="mkdir -p /tmp/kit && tar -xJf device-kit.tar.xz -C /tmp/kit && KIT=/tmp/kit bash bench/cuda/run-on-device.sh"
if [ ${#parts[@]} = 0 ]; then
  [ $((tree + kit)) -le $LIMIT ] || echo "WARNING: tree + kit exceed 64 MiB" >&2
  echo "device run: carry [\"device-kit.tar.xz\"], command:"
  echo "  $run"
  exit 0
fi
last=${parts[-1]}
echo "SmolLM2 real weights in ${#parts[@]} parts; device calls in order, each within 30 s of"
echo "the one before (the machine stays warm 30 s; a cold one has lost the staged parts):"
n=1
for p in "${parts[@]}"; do
  s=$(size "$STAGE/$p")
  if [ "$p" = "$last" ]; then
    total=$((tree + kit + s))
    echo "  $n. carry [\"device-kit.tar.xz\", \"device-kit-stage/$p\"] ($(mib $((kit + s)))), command:"
    echo "     mkdir -p /tmp/midllama-stage && cp device-kit-stage/$p /tmp/midllama-stage/ && $run"
  else
    total=$((tree + s))
    echo "  $n. carry [\"device-kit-stage/$p\"] ($(mib "$s")), command:"
    echo "     mkdir -p /tmp/midllama-stage && cp device-kit-stage/$p /tmp/midllama-stage/ && ls -l /tmp/midllama-stage"
  fi
  [ "$total" -le $LIMIT ] || echo "  WARNING: call $n would send $(mib "$total"), over 64 MiB" >&2
  n=$((n + 1))
done
