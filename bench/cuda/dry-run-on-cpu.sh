#!/usr/bin/env bash
# Runs bench/cuda/run-on-device.sh here, without a GPU, on the packed kit
# (pack-device-kit.sh's device-kit.tar.xz and device-kit-stage/), to find the script's own
# mistakes before a lent GPU's 15 minutes are spent on them: the kit's binaries run on this
# CPU backend in place of the GPU (a wrapper turns --device cuda into --device cpu and
# answers --probe-gpu), a stand-in nvidia-smi prints growing memory figures, and the
# kernel bench (GPU only) says it was skipped. Every stage runs; the staged SmolLM2 parts
# are put back together; the returned files are listed as the device tool would bring them.
# Its figures mean nothing (CPU against CPU); its exit status is run-on-device.sh's.
# Usage: bench/cuda/dry-run-on-cpu.sh
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
[ -f "$ROOT/device-kit.tar.xz" ] || { echo "no device-kit.tar.xz: run bench/cuda/pack-device-kit.sh" >&2; exit 1; }
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
mkdir -p "$D/kit" "$D/stage" "$D/bin" "$D/out"
tar -xJf "$ROOT/device-kit.tar.xz" -C "$D/kit" || exit 1
[ ! -d "$ROOT/device-kit-stage" ] || cp "$ROOT"/device-kit-stage/part.* "$D/stage/"
mv "$D/kit/bin/midllama-run" "$D/kit/bin/midllama-run.real"
cat > "$D/kit/bin/midllama-run" <<'SH'
#!/usr/bin/env bash
[ "$1" = --probe-gpu ] && { echo "dry run: the CPU backend stands in for the GPU"; exit 0; }
args=()
for a in "$@"; do [ "$a" = cuda ] && a=cpu; args+=("$a"); done
exec "$(dirname "$0")/midllama-run.real" "${args[@]}"
SH
cat > "$D/kit/bin/midllama-cuda-kernel-bench" <<'SH'
#!/usr/bin/env bash
echo "dry run: the kernel bench needs a GPU (not run)"
SH
cat > "$D/bin/nvidia-smi" <<'SH'
#!/usr/bin/env bash
case "$*" in
  *memory.used*-lms*) v=1000; while :; do echo $v; v=$((v + 10)); sleep 0.05; done ;;
  *memory.used*) echo 900 ;;
  *name,driver*) echo "dry run, no GPU" ;;
  *) echo "dry run: nvidia-smi $*" ;;
esac
SH
chmod +x "$D/kit/bin/midllama-run" "$D/kit/bin/midllama-cuda-kernel-bench" "$D/bin/nvidia-smi"
PATH=$D/bin:$PATH OUT=$D/out STAGE_DIR=$D/stage BASELINES=0 KIT=$D/kit \
  bash "$ROOT/bench/cuda/run-on-device.sh" > "$D/run.log" 2>&1
status=$?
cat "$D/out/summary.txt"
echo "--- files the device tool would bring back:"
(cd "$D/out" && ls -l)
echo "dry run: run-on-device.sh exited $status"
exit $status
