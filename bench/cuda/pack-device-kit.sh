#!/usr/bin/env bash
# Packs the GPU device kit (prepare-device-kit.sh, then optionally prepare-7b-kit.sh and
# prepare-smollm2-kit.sh) into device-kit.tar.xz (git-ignored) for the device tool: the
# working tree (~40 MiB) and what `carry` names must fit 64 MiB together, and the kit's
# tokenizers and binaries compress several-fold. Prints the size and the device command.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KIT=${KIT:-$ROOT/device-kit}
[ -f "$KIT/target.txt" ] || { echo "no kit in $KIT: run bench/cuda/prepare-device-kit.sh" >&2; exit 1; }
tar -cf - -C "$KIT" . | xz -6 -T0 > "$ROOT/device-kit.tar.xz.tmp"
mv "$ROOT/device-kit.tar.xz.tmp" "$ROOT/device-kit.tar.xz"
du -h "$ROOT/device-kit.tar.xz"
echo "device run (carry device-kit.tar.xz):"
echo "  mkdir -p /tmp/kit && tar -xJf device-kit.tar.xz -C /tmp/kit && KIT=/tmp/kit bash bench/cuda/run-on-device.sh"
