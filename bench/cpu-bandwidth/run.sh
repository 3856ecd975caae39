#!/usr/bin/env bash
# Issue 18: every weight format's CPU decode product against a plain streaming read of
# memory, same machine, same run (decode-bench.cpp). Defaults: a 4096 x 4096 weight
# (a 7B model's attention projection), 1 and 2 threads, fp32, int8 and bf16 activations
# (bf16 changes the prefill table and NF4's decode: other decode keeps fp32 activations).
# Environment: MIDLLAMA_BIN_DIR, MIDLLAMA_BENCH_THREADS ("1 2"), MIDLLAMA_BENCH_SHAPE
# ("4096 4096"), MIDLLAMA_BENCH_OUT (~/.cache/midllama/bench-bandwidth). Writes
# $OUT/decode-t<threads>[-int8|-bf16].json and prints the tables.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${MIDLLAMA_BIN_DIR:-$ROOT/build/bin}
OUT=${MIDLLAMA_BENCH_OUT:-$HOME/.cache/midllama/bench-bandwidth}
read -r N K <<< "${MIDLLAMA_BENCH_SHAPE:-4096 4096}"
[ -n "${MIDLLAMA_BIN_DIR:-}" ] || "$ROOT/scripts/setup.sh" > /dev/null
mkdir -p "$OUT"
for t in ${MIDLLAMA_BENCH_THREADS:-1 2}; do
  for act in "" "--int8-activations" "--bf16-activations"; do
    echo "## $t thread(s)${act:+, $act}"
    "$BIN/midllama-cpu-decode-bench" --threads "$t" --rows "$N" --cols "$K" $act \
      --json "$OUT/decode-t$t$(echo "$act" | sed 's/^--\([a-z0-9]*\)-activations$/-\1/').json"
  done
done
