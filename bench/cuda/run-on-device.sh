#!/usr/bin/env bash
# The GPU checks and benchmarks of the CUDA backend, as one command on a lent GPU machine
# (CUDA toolkit, PyTorch, no LLVM/MLIR), from the working tree and the kit that
# bench/cuda/prepare-device-kit.sh made (carried as device-kit/). Builds the runtime
# alone (MIDLLAMA_RUNTIME_ONLY), then: the GPU probe; greedy text of stories260K on the
# GPU against the reference; every format's logits against the CPU backend's (2e-3);
# perplexity against the CPU's (1e-3); compute-sanitizer on one run where the machine
# allows it; the per-kernel bandwidth benchmark; PyTorch's fp16 baseline. Everything goes
# to $OUT (summary.txt first); exits non-zero if a check failed.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-/tmp/midllama-gpu-out}
KIT=${KIT:-$ROOT/device-kit}
mkdir -p "$OUT"
cd "$ROOT"
S=$OUT/summary.txt
: > "$S"
say() { echo "$*" | tee -a "$S"; }
failed=0
check() { if [ "$1" = 0 ]; then say "PASS $2"; else say "FAIL $2"; failed=1; fi; }

T=$(cat "$KIT/target.txt")
arch=${T#sm_}
{ cmake -S . -B build-gpu -G Ninja -DMIDLLAMA_RUNTIME_ONLY=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" \
    && ninja -C build-gpu; } > "$OUT/build.log" 2>&1
check $? "runtime-only build (log: build.log)"
B=build-gpu/bin
say "probe: $($B/midllama-run --probe-gpu 2>&1)"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv >> "$S" 2>&1

$B/midllama-run "$KIT/m.mlm" --device cuda --prompt "" --steps 256 > "$OUT/greedy.txt" \
  2> "$OUT/greedy-report.txt"
cmp -s "$OUT/greedy.txt" models/stories260K/greedy_from_bos_256.txt
check $? "greedy 256 tokens on the GPU = reference text"
grep -E "device|GPU memory|decode|prefill" "$OUT/greedy-report.txt" >> "$S"

for f in $(cat "$KIT/formats.txt"); do
  line=$($B/midllama-run "$KIT/$f.mlm" --device cuda --prompt-ids "$(cat "$KIT/ids.txt")" \
         --expect-logits "$KIT/$f.cpu.bin" --atol 2e-3 2>&1 | tail -1)
  case "$line" in *": ok") r=0 ;; *) r=1 ;; esac
  check $r "logits $f vs CPU: $line"
done

$B/midllama-run "$KIT/m.mlm" --device cuda --perplexity data/tinystories/eval.txt --ctx 256 \
  --max-windows 32 --json "$OUT/m.ppl.gpu.json" 2> "$OUT/ppl.log"
python3 - "$KIT/m.ppl.cpu.json" "$OUT/m.ppl.gpu.json" <<'PY' | tee -a "$S"
import json, sys
a = json.load(open(sys.argv[1]))["perplexity"]
b = json.load(open(sys.argv[2]))["perplexity"]
print(f"{'PASS' if abs(a - b) <= 1e-3 else 'FAIL'} perplexity CPU {a:.6f} GPU {b:.6f}")
PY
grep -q "^FAIL perplexity" "$S" && failed=1

if command -v compute-sanitizer > /dev/null; then
  timeout 120 compute-sanitizer --tool memcheck --error-exitcode 9 $B/midllama-run \
    "$KIT/bmint8.mlm" --device cuda --prompt "" --steps 8 > "$OUT/sanitizer.txt" 2>&1
  r=$?
  if grep -q "Device not supported\|error 999" "$OUT/sanitizer.txt"; then
    say "SKIP compute-sanitizer: not supported on this machine's runtime"
  else
    check $r "compute-sanitizer memcheck (bitmask + int8 run)"
  fi
fi

# End to end, LLaMA-2-7B-shaped (bench/cuda/prepare-7b-kit.sh): weights generated at load,
# 8-token prompt, 64 greedy steps, batch 1 and 16.
if [ -d "$KIT/7b" ]; then
  ids="1 450 4996 17354 1701 432 3023 2038"
  for f in fp16 w4g128 nf4; do
    for batch in 1 16; do
      timeout 300 $B/midllama-run "$KIT/7b/$f.mlm" --synthetic-weights --device cuda \
        --prompt-ids "$ids" --steps 64 --batch $batch --repeat 3 \
        --json "$OUT/7b-$f-b$batch.json" > /dev/null 2> "$OUT/7b-$f-b$batch.log"
      r=$?
      line=$(grep -E "decode|GPU memory" "$OUT/7b-$f-b$batch.log" | tr -s ' ' | tr '\n' ';')
      check $r "7B-shaped $f batch $batch: $line"
    done
  done
fi

$B/midllama-cuda-kernel-bench --json "$OUT/kernels.json" > "$OUT/kernels.txt" 2>&1
check $? "kernel bench (every kernel checked against the CPU backend first)"
cat "$OUT/kernels.txt" >> "$S"
PYTHONUNBUFFERED=1 timeout 300 python3 bench/cuda/torch_baseline.py --json "$OUT/torch.json" \
  > "$OUT/torch.txt" 2>&1
check $? "PyTorch fp16 baseline (torch.txt)"
cat "$OUT/torch.txt" >> "$S"
exit $failed
