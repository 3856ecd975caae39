#!/usr/bin/env bash
# Reproduces docs/table1.md, docs/table1.json and docs/figures/table1-*.{svg,png}: the seed
# paper's Table 1 (size on disk, memory, WikiText-2 perplexity and its time, MMLU and its
# time, BBH and its time; HellaSwag added) on SmolLM2-135M-Instruct, one row per recipe
# (issue 17).
#
#   1. scripts/results-smollm2.sh makes every row's artifact and its WikiText-2 perplexity
#      (compression happens there, resumable);
#   2. midllama-eval scores each artifact on MMLU (0-shot, lm-evaluation-harness's prompt),
#      BBH (3-shot chain of thought) and HellaSwag (0-shot, acc_norm) on fixed subsets
#      (--subset F --seed 1234);
#   3. scripts/table1-report.py writes the table and draws the figures (matplotlib, in a
#      venv made here on first use: $CACHE/venvs/report).
#
# Every finished measurement is kept in the results directory and reused (the compressions
# take hours on 2 cores; the evaluations minutes per row). MIDLLAMA_TABLE1_ROWS picks the
# rows; MIDLLAMA_TABLE1_MMLU_SUBSET (default 0.01: at least one question per subject, 168),
# MIDLLAMA_TABLE1_BBH_SUBSET (default 0.005: 51 questions) and
# MIDLLAMA_TABLE1_HELLASWAG_SUBSET (default 0.02: 201 items) the subsets (the paper used
# 0.5 and 0.1 for MMLU and BBH: small here so that a row's evaluations take minutes on 2
# cores);
# MIDLLAMA_TABLE1_BBH_MAX_GEN BBH's generation limit (default 256 on this CPU; the
# harness's is 1024: a question the model never stops on costs minutes);
# MIDLLAMA_TABLE1_THREADS the evaluation threads (default: all cores);
# MIDLLAMA_TABLE1_CAVEAT a sentence printed under the table (e.g. other load on the machine);
# MIDLLAMA_TABLE1_EARLIER an earlier table1.json whose rows this run did not measure are kept
# (marked †, with that table's date) instead of left out; MIDLLAMA_TABLE1_VRAM a GPU run's
# table1-vram.json for the peak VRAM column (default docs/data/table1-vram.json when it
# exists: bench/cuda/run-on-device.sh measures it, docs/cuda.md).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MIDLLAMA_BUILD_DIR:-$ROOT/build}
BIN=${MIDLLAMA_BIN_DIR:-$BUILD/bin}
OUT=${MIDLLAMA_RESULTS_DIR:-$BUILD/results-smollm2}
CACHE=${MIDLLAMA_CACHE_DIR:-$HOME/.cache/midllama}
ROWS=${MIDLLAMA_TABLE1_ROWS:-"fp32 fp16 stored nf4-b64 gptq-w4g128 awq-w4g128 int8-t6 gblm-50+int8-t6 rtn-w4g128 gptq-w3g128 sparsegpt-50 wanda-50"}
MMLU_SUBSET=${MIDLLAMA_TABLE1_MMLU_SUBSET:-0.01}
BBH_SUBSET=${MIDLLAMA_TABLE1_BBH_SUBSET:-0.005}
HELLASWAG_SUBSET=${MIDLLAMA_TABLE1_HELLASWAG_SUBSET:-0.02}
BBH_MAX_GEN=${MIDLLAMA_TABLE1_BBH_MAX_GEN:-256}
THREADS=()
[ -z "${MIDLLAMA_TABLE1_THREADS:-}" ] || THREADS=(--threads "$MIDLLAMA_TABLE1_THREADS")
SEED=1234
VRAM=${MIDLLAMA_TABLE1_VRAM:-}
[ -n "$VRAM" ] || [ ! -f "$ROOT/docs/data/table1-vram.json" ] || VRAM=$ROOT/docs/data/table1-vram.json
log() { echo "table1 [$(date +%H:%M:%S)]: $*" >&2; }
[ -n "${MIDLLAMA_BIN_DIR:-}" ] || "$ROOT/scripts/setup.sh" >/dev/null

# 1. Artifacts and WikiText-2 (fp32, fp16 and stored, the imports, are always made there).
compressed=""
for r in $ROWS; do
  case $r in fp32|fp16|stored) ;; *) compressed="$compressed $r" ;; esac
done
MIDLLAMA_BIN_DIR=$BIN MIDLLAMA_RESULTS_DIR=$OUT MIDLLAMA_RESULTS_ONLY="${compressed:- none}" \
  MIDLLAMA_RESULTS_NO_DOCS=1 "$ROOT/scripts/results-smollm2.sh"

# 2. MMLU, BBH and HellaSwag per row.
MMLU_TAG=mmlu-s$MMLU_SUBSET
BBH_TAG=bbh-s$BBH_SUBSET-g$BBH_MAX_GEN
HELLASWAG_TAG=hellaswag-s$HELLASWAG_SUBSET
score() { # score NAME TASK TAG SUBSET DATA [OPTIONS...]
  local name=$1 task=$2 tag=$3 subset=$4 data=$5
  shift 5
  [ -f "$OUT/$name.$tag.json" ] && return 0
  [ -f "$OUT/$name.mlm" ] || { log "$name: no artifact (its compression failed?)"; return 0; }
  log "$name: $task, subset $subset (progress in $OUT/$name.$tag.log)"
  "$BIN/midllama-eval" "$OUT/$name.mlm" --task "$task" --data "$data" \
    --subset "$subset" --seed "$SEED" "${THREADS[@]}" "$@" --json "$OUT/$name.$tag.json" \
    --samples "$OUT/$name.$tag.samples.jsonl" 2> "$OUT/$name.$tag.log" ||
    log "$name: $task failed, see $OUT/$name.$tag.log"
}
for r in $ROWS; do
  score "$r" mmlu "$MMLU_TAG" "$MMLU_SUBSET" "$ROOT/data/eval/mmlu"
  score "$r" hellaswag "$HELLASWAG_TAG" "$HELLASWAG_SUBSET" \
    "$ROOT/data/eval/hellaswag/hellaswag_val.jsonl"
  score "$r" bbh "$BBH_TAG" "$BBH_SUBSET" "$ROOT/data/eval/bbh" --max-gen-tokens "$BBH_MAX_GEN"
done

# 3. The report.
PY=$CACHE/venvs/report/bin/python
if ! "$PY" -c "import matplotlib" 2>/dev/null; then
  log "making $CACHE/venvs/report (matplotlib)"
  python3 -m venv "$CACHE/venvs/report"
  "$CACHE/venvs/report/bin/pip" install -q matplotlib==3.11.2 >&2
fi
"$PY" "$ROOT/scripts/table1-report.py" --results "$OUT" --rows "$ROWS" \
  --mmlu-tag "$MMLU_TAG" --bbh-tag "$BBH_TAG" --hellaswag-tag "$HELLASWAG_TAG" \
  --out "$ROOT/docs" \
  --caveat "${MIDLLAMA_TABLE1_CAVEAT:-}" \
  ${MIDLLAMA_TABLE1_EARLIER:+--earlier "$MIDLLAMA_TABLE1_EARLIER"} \
  ${VRAM:+--vram "$VRAM"}
