#!/usr/bin/env bash
# Issue 18: each stored format's CPU evaluation (prefill) and decode throughput against the
# fp32 model in the same run, alternating rounds, medians of per-round ratios (bench.py).
# Needs the SmolLM2 artifacts of scripts/results-smollm2.sh. Environment:
# MIDLLAMA_BENCH_THREADS (1), MIDLLAMA_BENCH_ROUNDS (3), MIDLLAMA_BENCH_FORMATS (the list
# below), MIDLLAMA_BENCH_RUN_ARGS (more midllama-run flags for every run, e.g.
# --int8-activations), MIDLLAMA_RESULTS_DIR, MIDLLAMA_BIN_DIR. Writes
# $MIDLLAMA_RESULTS_DIR/bench-cpu-formats[-<flags>].json.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${MIDLLAMA_BIN_DIR:-$ROOT/build/bin}
OUT=${MIDLLAMA_RESULTS_DIR:-$ROOT/build/results-smollm2}
FORMATS=${MIDLLAMA_BENCH_FORMATS:-fp16,stored,rtn-w4g128,gptq-w3g128,awq-w4g128,nf4-b64,nf4-b64-dq,int8-t6,sparsegpt-50}
[ -n "${MIDLLAMA_BIN_DIR:-}" ] || "$ROOT/scripts/setup.sh" > /dev/null
exec python3 "$ROOT/bench/cpu-formats/bench.py" --results "$OUT" --artifacts "$FORMATS" \
  --run "$BIN/midllama-run" --text "$ROOT/data/wikitext2/wiki.test.raw" \
  --threads "${MIDLLAMA_BENCH_THREADS:-1}" --rounds "${MIDLLAMA_BENCH_ROUNDS:-3}" \
  --run-args="${MIDLLAMA_BENCH_RUN_ARGS:-}" \
  --json "$OUT/bench-cpu-formats$(echo "${MIDLLAMA_BENCH_RUN_ARGS:-}" | tr -cs 'a-z0-9\n' '-').json"
