#!/usr/bin/env bash
# GBLM's balance between its two terms on the embedded model: α (and L1 vs L2 accumulation)
# against Wanda at the same sparsity, same calibration windows, full TinyStories eval at
# ctx 256. Prints a markdown table (docs/pruning.md keeps the latest) and, per run, the
# median over weights of the gradient/activation term ratio and of the share of pruned
# weights that differ from Wanda's choice (from the pass's progress lines).
# Usage: scripts/gblm-study.sh [PATTERN_OPTION]   e.g. "sparsity=0.5" (default) or "pattern=2:4"
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${MIDLLAMA_BUILD_DIR:-$ROOT/build}/bin
OUT=${MIDLLAMA_STUDY_DIR:-$(mktemp -d)}
PATTERN=${1:-sparsity=0.5}
CALIB=$ROOT/data/tinystories/calib.txt
EVAL=$ROOT/data/tinystories/eval.txt
mkdir -p "$OUT"
"$BIN/midllama-import" "$ROOT/models/stories260K/stories260K.bin" -o "$OUT/m.mlir" 2>/dev/null
"$BIN/midllama-compile" "$OUT/m.mlir" -o "$OUT/m.mlm" > /dev/null
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
evaluate() { # name -> "ppl KL top1"
  "$BIN/midllama-run" "$OUT/$1.mlm" --perplexity "$EVAL" --ctx 256 --kl-base "$OUT/m.mlm" \
    --json "$OUT/$1.json" > /dev/null 2>&1
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print('%.2f %.3f %.3f' % (r['perplexity'], r['kl'], r['top1_agreement']))" "$OUT/$1.json"
}
echo "| method ($PATTERN) | gradient/activation term (median) | pruned weights differing from Wanda (median) | perplexity | KL vs fp32 | top-1 |"
echo "|---|---:|---:|---:|---:|---:|"
"$BIN/midllama-opt" --llm-prune-wanda="$PATTERN calib=$CALIB output=wanda.safetensors" \
  "$OUT/m.mlir" -o "$OUT/wanda.mlir" 2>/dev/null
"$BIN/midllama-compile" "$OUT/wanda.mlir" -o "$OUT/wanda.mlm" > /dev/null
read -r ppl kl top1 <<< "$(evaluate wanda)"
echo "| Wanda | 0 | 0 | $ppl | $kl | $top1 |"
for run in "l2 1" "l2 3" "l2 10" "l2 30" "l2 100" "l2 300" "l1 1" "l1 10" "l1 100"; do
  read -r norm alpha <<< "$run"
  name=gblm-$norm-$alpha
  "$BIN/midllama-opt" --llm-prune-gblm="$PATTERN alpha=$alpha norm=$norm calib=$CALIB output=$name.safetensors" \
    "$OUT/m.mlir" -o "$OUT/$name.mlir" 2> "$OUT/$name.log"
  "$BIN/midllama-compile" "$OUT/$name.mlir" -o "$OUT/$name.mlm" > /dev/null
  ratio=$(sed -n 's/.*gradient\/activation term \([0-9.e+-]*\),.*/\1/p' "$OUT/$name.log" | median)
  differ=$(sed -n 's/.*term [0-9.e+-]*, \([0-9.]*\)% of the pruned.*/\1/p' "$OUT/$name.log" | median)
  read -r ppl kl top1 <<< "$(evaluate "$name")"
  echo "| GBLM $norm α=$alpha | $ratio | $differ% | $ppl | $kl | $top1 |"
done
