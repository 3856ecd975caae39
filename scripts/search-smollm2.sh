#!/usr/bin/env bash
# Issue 19 on SmolLM2-135M-Instruct: --llm-search-recipe at three weight budgets (the bytes
# of uniform GPTQ w4g128, of uniform w3g128, and halfway), each searched recipe applied
# (--llm-apply-recipe: GPTQ sequential on the compressed layers) and measured like the rows
# of docs/results-smollm2.md (WikiText-2 ctx 512, first $WINDOWS windows, KL vs fp32), next
# to every uniform row of that table that fits the same budget. Writes
# docs/results-search-smollm2.md. The candidates are measured once (the first search's
# report: output errors, the Fisher weighting, bytes); the other budgets are solved from
# it (measurements=). A report of other candidates is measured again.
#
# Needs scripts/results-smollm2.sh's results (the fp32 import and the uniform rows) in
# $OUT; hours on 2 cores (the measurement is a calibration running GPTQ once per GPTQ
# candidate); each finished step is kept and reused.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MIDLLAMA_BUILD_DIR:-$ROOT/build}
BIN=${MIDLLAMA_BIN_DIR:-$BUILD/bin}
OUT=${MIDLLAMA_RESULTS_DIR:-$BUILD/results-smollm2}
WINDOWS=${MIDLLAMA_RESULTS_WINDOWS:-40}
CANDIDATES=${MIDLLAMA_SEARCH_CANDIDATES:-rtn-w8g128,gptq-w4g64-act,gptq-w4g128-act,gptq-w3g64-act,gptq-w3g128-act,gptq-w2g64-act}
CALIB="calib=wikitext2-train fisher-samples=${MIDLLAMA_SEARCH_FISHER_SAMPLES:-32}"
THREADS=()
[ -z "${MIDLLAMA_SEARCH_THREADS:-}" ] || THREADS=(--threads "$MIDLLAMA_SEARCH_THREADS")
log() { echo "search-smollm2 [$(date +%H:%M:%S)]: $*" >&2; }
[ -n "${MIDLLAMA_BIN_DIR:-}" ] || "$ROOT/scripts/setup.sh" >/dev/null
[ -f "$OUT/fp32.mlir" ] && [ -f "$OUT/gptq-w4g128.wikitext2.json" ] &&
  [ -f "$OUT/gptq-w3g128.wikitext2.json" ] ||
  { echo "search-smollm2: run scripts/results-smollm2.sh first (fp32, gptq-w4g128, gptq-w3g128)" >&2; exit 1; }

weights() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['weight_bytes_total'])" "$1"; }
HI=$(weights "$OUT/gptq-w4g128.wikitext2.json")
LO=$(weights "$OUT/gptq-w3g128.wikitext2.json")
MID=$(( (HI + LO) / 2 ))

mkdir -p "$OUT/search"
for budget in $HI $MID $LO; do
  name=search-$budget
  if [ ! -f "$OUT/search/$name.recipe.json" ]; then
    measured=("$CALIB")
    if [ -f "$OUT/search/measurements.json" ] && python3 -c "import json, sys; c = json.load(open(sys.argv[1]))['weights'][0]['candidates']; sys.exit(sorted(c) != sorted(sys.argv[2].split(',')))" "$OUT/search/measurements.json" "$CANDIDATES"; then
      measured=("measurements=$OUT/search/measurements.json")
    fi
    log "$name: --llm-search-recipe budget=$budget candidates=$CANDIDATES ${measured[*]}"
    "$BIN/midllama-opt" "--llm-search-recipe=budget=$budget candidates=$CANDIDATES ${measured[*]} output=$OUT/search/$name.recipe.json report=$OUT/search/$name.report.json" \
      "$OUT/fp32.mlir" -o /dev/null 2> "$OUT/search/$name.search.log"
    [ "${measured[0]}" != "$CALIB" ] || cp "$OUT/search/$name.report.json" "$OUT/search/measurements.json"
  fi
  if [ ! -f "$OUT/$name.mlm" ]; then
    log "$name: --llm-apply-recipe"
    "$BIN/midllama-opt" "--llm-apply-recipe=recipe=$OUT/search/$name.recipe.json output=$name.safetensors" \
      "$OUT/fp32.mlir" -o "$OUT/$name.mlir" 2> "$OUT/search/$name.apply.log"
    "$BIN/midllama-compile" "$OUT/$name.mlir" -o "$OUT/$name.mlm" > /dev/null
  fi
  if [ ! -f "$OUT/$name.wikitext2.json" ]; then
    log "$name: WikiText-2, ctx 512, $WINDOWS windows"
    "$BIN/midllama-run" "$OUT/$name.mlm" --perplexity "$ROOT/data/wikitext2/wiki.test.raw" \
      --ctx 512 --max-windows "$WINDOWS" --kl-base "$OUT/fp32.mlm" "${THREADS[@]}" \
      --json "$OUT/$name.wikitext2.json" 2> "$OUT/$name.wikitext2.log"
  fi
done

python3 - "$OUT" "$HI" "$MID" "$LO" "$CANDIDATES" > "$ROOT/docs/results-search-smollm2.md" <<'PY'
import json, math, os, sys, glob, datetime
out, budgets, candidates = sys.argv[1], [int(b) for b in sys.argv[2:5]], sys.argv[5]
def load(p):
    return json.load(open(p)) if os.path.exists(p) else None
base = load(os.path.join(out, "fp32.wikitext2.json"))
measured = load(os.path.join(out, "search", "measurements.json"))
def estimate(name):
    """A uniform recipe's estimated loss increase, when it is one of the candidates."""
    if not measured or name not in measured["weights"][0]["candidates"]:
        return None
    return sum(w["candidates"][name]["cost"] for w in measured["weights"])
uniform = {}
for p in glob.glob(os.path.join(out, "*.wikitext2.json")):
    name = os.path.basename(p)[:-len(".wikitext2.json")]
    if name.startswith("search-") or name in ("fp32", "fp16", "stored"):
        continue
    uniform[name] = load(p)
print("# Recipe search on SmolLM2-135M-Instruct (issue 19)\n")
print("The column *estimated* is the search's own prediction of ln(ppl / fp32 ppl): the sum "
      "of the chosen candidates' Fisher-weighted output errors (½ Σ F_i e_i, the estimated "
      "increase of the mean token loss; docs/quantization.md), for the searched recipe and "
      "for every uniform recipe that is one of the candidates. It is measured on "
      "wikitext2-train, the perplexity on WikiText-2 test.\n")
print(f"`scripts/search-smollm2.sh`, {datetime.date.today().isoformat()}: `--llm-search-recipe` "
      f"with candidates `{candidates}`, calibrated on `wikitext2-train` (128 x 256 tokens; the Fisher from the backward passes of "
      "32 windows of the same set), at "
      "three budgets of total weight bytes (the embedding/LM head and norms stay fp32 and "
      "count as they are); each searched recipe applied with `--llm-apply-recipe` and "
      "measured on WikiText-2 test (ctx 512, the first 40 windows, the protocol of "
      "docs/results-smollm2.md), next to every uniform row of docs/results-smollm2.md that "
      "fits the same budget.\n")
for b in budgets:
    s = load(os.path.join(out, f"search-{b}.wikitext2.json"))
    print(f"## Budget {b:,} bytes\n")
    report = load(os.path.join(out, "search", f"search-{b}.report.json"))
    if report:
        counts = {}
        for w in report["weights"]:
            counts[w["choice"]] = counts.get(w["choice"], 0) + 1
        print("Searched choice: " + ", ".join(f"{n} x {c}" for c, n in sorted(counts.items())) +
              f"; estimated loss increase {report['total_cost']:.4f} nats/token (the sum of "
              "the chosen candidates' Fisher-weighted output errors).\n")
    print("| recipe | weight bytes | WikiText-2 ppl | ln(ppl / fp32 ppl) | estimated | KL vs fp32 |")
    print("|---|---:|---:|---:|---:|---:|")
    rows = [("**searched**", s, report["total_cost"] if report else None)] if s else []
    rows += sorted(((n, w, estimate(n)) for n, w in uniform.items()
                    if w["weight_bytes_total"] <= b), key=lambda r: r[1]["perplexity"])
    for name, w, est in rows:
        print(f"| {name} | {w['weight_bytes_total']:,} | {w['perplexity']:.4f} | "
              f"{math.log(w['perplexity'] / base['perplexity']):.4f} | "
              f"{'' if est is None else f'{est:.4f}'} | {w.get('kl', 0):.4f} |")
    print()
PY
log "wrote docs/results-search-smollm2.md"
