#!/usr/bin/env bash
# Reproduces docs/results-smollm2.md and docs/results-smollm2.json: SmolLM2-135M-Instruct
# (scripts/get-model.sh smollm2) as stored in its GGUF file, as the fp32 model
# (--dequantize) and compressed from it by each method (issue 15's list), compiled for the
# CPU. For every model: WikiText-2 test perplexity with KL and top-1 against fp32, and
# TinyStories eval perplexity, both at ctx 512 over the first $WINDOWS windows (the same
# windows for every model); weight bytes; decode speed and peak RSS of a generation; the
# compression's wall time and peak RSS (/usr/bin/time). Calibrated methods calibrate on
# the named set $CALIB (general English, data/wikitext2-train: never evaluation text).
#
# Long (hours on 2 cores): each finished measurement is kept in $OUT and reused, so an
# interrupted run resumes where it stopped; MIDLLAMA_RESULTS_FRESH=1 starts from scratch.
# MIDLLAMA_RESULTS_ONLY="rtn-w4g128 gptq-w4g128" limits the compressed rows measured (the
# table is written from every row whose results are complete; "none" only rewrites it);
# MIDLLAMA_RESULTS_NO_DOCS=1 measures without rewriting the docs (scripts/table1.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MIDLLAMA_BUILD_DIR:-$ROOT/build}
BIN=${MIDLLAMA_BIN_DIR:-$BUILD/bin}
OUT=${MIDLLAMA_RESULTS_DIR:-$BUILD/results-smollm2}
DATA=${MIDLLAMA_DATA_DIR:-$ROOT/data}
WINDOWS=${MIDLLAMA_RESULTS_WINDOWS:-40}
CALIB=${MIDLLAMA_RESULTS_CALIB:-wikitext2-train}
WIKI=$DATA/wikitext2/wiki.test.raw
STORIES=$DATA/tinystories/eval.txt
PROMPT="The capital of France is"
[ -n "${MIDLLAMA_BIN_DIR:-}" ] || "$ROOT/scripts/setup.sh" >/dev/null
GGUF=$("$ROOT/scripts/get-model.sh" smollm2)
[ -z "${MIDLLAMA_RESULTS_FRESH:-}" ] || rm -rf "$OUT"
mkdir -p "$OUT"
log() { echo "results-smollm2 [$(date +%H:%M:%S)]: $*" >&2; }

# The three imports: as stored (Q4_1 projections, Q8_0 embedding), fp32 and fp16.
if [ ! -f "$OUT/fp32.mlm" ]; then
  "$BIN/midllama-import" "$GGUF" --dequantize -o "$OUT/fp32.mlir" --force
  "$BIN/midllama-compile" "$OUT/fp32.mlir" -o "$OUT/fp32.mlm"
fi
if [ ! -f "$OUT/fp16.mlm" ]; then
  mkdir -p "$OUT/fp16"
  "$BIN/midllama-import" "$GGUF" --dequantize-f16 -o "$OUT/fp16/fp16.mlir" --force
  "$BIN/midllama-compile" "$OUT/fp16/fp16.mlir" -o "$OUT/fp16.mlm"
fi
if [ ! -f "$OUT/stored.mlm" ]; then
  mkdir -p "$OUT/stored"
  "$BIN/midllama-import" "$GGUF" -o "$OUT/stored/stored.mlir" --force
  "$BIN/midllama-compile" "$OUT/stored/stored.mlir" -o "$OUT/stored.mlm"
fi

C="calib=$CALIB"
# "name pass-and-options"; stages joined by " ++ " run one after the other.
VARIANTS=(
  "rtn-w4g128 --llm-quantize-rtn=bits=4 group-size=128"
  "gptq-w4g128 --llm-quantize-gptq=bits=4 group-size=128 $C"
  "awq-w4g128 --llm-quantize-awq=bits=4 group-size=128 search-samples=16 $C"
  "rtn-w3g128 --llm-quantize-rtn=bits=3 group-size=128"
  "gptq-w3g128 --llm-quantize-gptq=bits=3 group-size=128 $C"
  "awq-w3g128 --llm-quantize-awq=bits=3 group-size=128 search-samples=16 $C"
  "gptq-w4g128-act --llm-quantize-gptq=bits=4 group-size=128 act-order=true $C"
  "gptq-w3g128-act --llm-quantize-gptq=bits=3 group-size=128 act-order=true $C"
  "gptq-w3g64-act --llm-quantize-gptq=bits=3 group-size=64 act-order=true $C"
  "gptq-w2g64-act --llm-quantize-gptq=bits=2 group-size=64 act-order=true $C"
  "nf4-b64 --llm-quantize-nf4=block-size=64"
  "nf4-b64-dq --llm-quantize-nf4=block-size=64 double-quant=true"
  "int8-t6 --llm-quantize-int8=threshold=6 $C"
  "wanda-50 --llm-prune-wanda=sparsity=0.5 $C"
  "sparsegpt-50 --llm-prune-sparsegpt=sparsity=0.5 $C"
  "gblm-50 --llm-prune-gblm=sparsity=0.5 $C"
  "wanda-2:4 --llm-prune-wanda=pattern=2:4 $C"
  "sparsegpt-2:4 --llm-prune-sparsegpt=pattern=2:4 $C"
  "gblm-2:4 --llm-prune-gblm=pattern=2:4 $C"
  "gblm-50+int8-t6 --llm-prune-gblm=sparsity=0.5 $C ++ --llm-quantize-int8=threshold=6 $C"
)
# GBLM's backward pass (most of its time) depends only on the dense model and the
# calibration set: the first GBLM row keeps its gradient norms, the others prune from them.
GBLM_NORMS=$OUT/gblm-norms.$CALIB.safetensors
ONLY=${MIDLLAMA_RESULTS_ONLY:-}
selected() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }

# compress NAME PASSES: the compressed module $OUT/NAME.mlm, with NAME.compress.json
# (wall seconds and the largest peak RSS of its stages).
compress() {
  local name=$1 pass=$2 input=$OUT/fp32.mlir stage=0 rest=$2 current peak=0 rss
  local start end gradients=null
  start=$(date +%s.%N)
  while :; do
    current=${rest%% ++ *}
    stage=$((stage + 1))
    local target=$OUT/$name.stage$stage params=$name.stage$stage.safetensors last=
    [ "$current" = "$rest" ] && target=$OUT/$name && params=$name.safetensors && last=1
    if [[ "$current" == --llm-prune-gblm=* ]]; then
      if [ -f "$GBLM_NORMS" ]; then
        current="$current gradients=$GBLM_NORMS"; gradients='"reused"'
      else
        current="$current gradients-out=$GBLM_NORMS"; gradients='"computed"'
      fi
    fi
    log "$name: midllama-opt '$current'"
    /usr/bin/time -f "%M" -o "$OUT/$name.stage$stage.rss" \
      "$BIN/midllama-opt" "$current output=$params" "$input" -o "$target.mlir" \
      2> "$OUT/$name.stage$stage.log" || {
      log "$name: compression failed, see $OUT/$name.stage$stage.log"
      return 1
    }
    rss=$(tail -n 1 "$OUT/$name.stage$stage.rss")
    [ "$rss" -gt "$peak" ] && peak=$rss
    [ -n "$last" ] && break
    input=$target.mlir; rest=${rest#* ++ }
  done
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" -v kb="$peak" -v g="$gradients" \
    'BEGIN { printf "{\"compress_s\": %.1f, \"compress_peak_rss_bytes\": %.0f, \"gblm_gradients\": %s}\n", b - a, kb * 1024, g }' \
    > "$OUT/$name.compress.json"
  "$BIN/midllama-compile" "$OUT/$name.mlir" -o "$OUT/$name.mlm" > /dev/null
}

# measure NAME: generation, WikiText-2 (with KL unless fp32) and TinyStories perplexity.
measure() {
  local name=$1 kl=()
  [ "$name" = fp32 ] || kl=(--kl-base "$OUT/fp32.mlm")
  if [ ! -f "$OUT/$name.generate.json" ]; then
    "$BIN/midllama-run" "$OUT/$name.mlm" --prompt "$PROMPT" --steps 64 --repeat 3 \
      --json "$OUT/$name.generate.json" > "$OUT/$name.greedy.txt" 2> /dev/null
  fi
  if [ ! -f "$OUT/$name.wikitext2.json" ]; then
    log "$name: WikiText-2, ctx 512, $WINDOWS windows"
    "$BIN/midllama-run" "$OUT/$name.mlm" --perplexity "$WIKI" --ctx 512 \
      --max-windows "$WINDOWS" "${kl[@]}" --json "$OUT/$name.wikitext2.json" \
      2> "$OUT/$name.wikitext2.log"
  fi
  if [ ! -f "$OUT/$name.tinystories.json" ]; then
    log "$name: TinyStories, ctx 512, $WINDOWS windows"
    "$BIN/midllama-run" "$OUT/$name.mlm" --perplexity "$STORIES" --ctx 512 \
      --max-windows "$WINDOWS" --json "$OUT/$name.tinystories.json" \
      2> "$OUT/$name.tinystories.log"
  fi
}

NAMES=(fp32 fp16 stored)
measure fp32
measure fp16
measure stored
for v in "${VARIANTS[@]}"; do
  name=${v%% *}
  # Rows not selected this time still enter the table from earlier runs' results.
  selected "$name" || { NAMES+=("$name"); continue; }
  if [ ! -f "$OUT/$name.compress.json" ] || [ ! -f "$OUT/$name.mlm" ]; then
    compress "$name" "${v#* }" || continue
  fi
  measure "$name"
  NAMES+=("$name")
done

[ -z "${MIDLLAMA_RESULTS_NO_DOCS:-}" ] || exit 0

# MIDLLAMA_RESULTS_CAVEAT: a sentence about the machine during the run, printed under the
# table (e.g. that other jobs shared it, so times and speeds are pessimistic).
MIDLLAMA_RESULTS_CAVEAT=${MIDLLAMA_RESULTS_CAVEAT:-} \
python3 - "$ROOT" "$OUT" "$WINDOWS" "$CALIB" "${VARIANTS[@]}" -- "${NAMES[@]}" <<'PY'
import json, sys, os, datetime, platform
root, out, windows, calib = sys.argv[1:5]
caveat = os.environ.get("MIDLLAMA_RESULTS_CAVEAT", "")
rest = sys.argv[5:]
variants = dict(v.split(" ", 1) for v in rest[:rest.index("--")])
names = rest[rest.index("--") + 1:]
def load(name, what):
    p = os.path.join(out, f"{name}.{what}.json")
    return json.load(open(p)) if os.path.exists(p) else None
rows, records = [], []
for name in names:
    w, t, g = load(name, "wikitext2"), load(name, "tinystories"), load(name, "generate")
    if not (w and t and g):
        continue
    c = load(name, "compress") or {}
    kl = f"{w['kl']:.4f}" if "kl" in w else "0"
    top1 = f"{w['top1_agreement']:.4f}" if "top1_agreement" in w else "1"
    weights = " + ".join(f"{v:,} {k[len('weight_bytes_'):]}" for k, v in g.items()
                         if k.startswith("weight_bytes_") and k != "weight_bytes_total")
    comp = (f"{c['compress_s']:.0f} s / {c['compress_peak_rss_bytes'] / 1e6:.0f} MB"
            if c else "-")
    if c.get("gblm_gradients") == "reused":
        comp += " (GBLM gradients reused)"
    rows.append(f"| {name} | {w['perplexity']:.4f} | {t['perplexity']:.4f} | {kl} | {top1} | "
                f"{g['weight_bytes_total']:,} | {g['bits_per_parameter']:.2f} | {weights} | "
                f"{g['decode_tokens_per_s']:.1f} | {g['peak_rss_bytes'] / 1e6:.0f} MB | {comp} |")
    records.append({"model": name, "recipe": variants.get(name), "wikitext2": w,
                    "tinystories": t, "generate": g, "compress": c or None})
date = datetime.date.today().isoformat()
machine = f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores"
recipes = "\n".join(f"- `{n}`: `{variants[n]}`" for n in names if n in variants)
md = f"""# Results on SmolLM2-135M-Instruct

SmolLM2-135M-Instruct (134.5M parameters: 30 layers, hidden 576, 9 heads over 3 KV heads,
FFN 1536, vocabulary 49152, tied embedding; `scripts/get-model.sh smollm2`), imported from
its GGUF file: `stored` keeps its Q4_1 projections and Q8_0 embedding bit for bit, `fp32` is
`--dequantize`, `fp16` `--dequantize-f16` (every weight, embedding and norms too, rounded to
half), and every compressed row starts from `fp32`. The methods rewrite the 210
projections of the decoder layers; the embedding/LM head and the norms stay fp32.
Calibrated methods use 128 windows of 256 tokens of the named set `{calib}` (seed 0, layer
by layer, each layer fed by the compressed layers before it; compression time includes
it). Note that the GGUF's weights were rounded to Q4_1 (4-bit, groups of 32) before we
got them: 4-bit requantization lands near that grid, which flatters the 4-bit rows.
GBLM's gradient norms come from one backward pass over the same 128 windows, made by the
first GBLM row measured (`gradients-out=`) and read by the others (`gradients=`): their
compression time excludes it (the row that made it includes it).
AWQ computes its α search's block outputs on the first 16 of the 128 samples
(`search-samples=16`; its scale statistics use all 128): searching on all of them, as
AutoAWQ does, takes about 2 hours here.

Perplexity: the protocol of docs/algorithms.md at ctx 512 over the first {windows} windows
(the same windows for every row) of WikiText-2 test and of TinyStories eval, tokenized with
the model's byte-level BPE. KL(fp32 || model) per predicted token and top-1 agreement are
on the WikiText-2 windows. Decode: greedy generation of 64 tokens from "The capital of
France is" (median of 3), its peak RSS. Compression: wall time and peak RSS of
`midllama-opt` (largest stage). Reproduce with `scripts/results-smollm2.sh` (hours on 2
cores; it resumes).

Measured {date} on {machine}, 2 threads.

| model | WikiText-2 ppl | TinyStories ppl | KL | top-1 | weight bytes | bits/param | by storage type | decode tok/s | peak RSS (decode) | compression time / peak RSS |
|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|
""" + "\n".join(rows) + f"""

{caveat}

Recipes (`midllama-opt` pass options; `++` separates stages):

{recipes}
"""
open(os.path.join(root, "docs", "results-smollm2.md"), "w").write(md)
json.dump({"date": date, "machine": machine, "windows": int(windows), "calib": calib,
           "rows": records}, open(os.path.join(root, "docs", "results-smollm2.json"), "w"),
          indent=1)
print(md)
PY
