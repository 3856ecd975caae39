#!/usr/bin/env bash
# Reproduces docs/results.md: accuracy of the embedded model (stories260K) as compiled for
# the CPU, on the evaluation texts of ../shared (TinyStories eval.txt, WikiText-2 test) at
# ctx 256 and 512, with the protocol of ../shared/docs/ALGORITHMS.md. Writes
# docs/results.md (table) and docs/results.json (machine-readable).
# Compression methods add their rows as they land (quantization, pruning issues).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${MIDLLAMA_BUILD_DIR:-$ROOT/build}
OUT=${MIDLLAMA_RESULTS_DIR:-$BUILD/results}
SHARED=${MIDLLAMA_SHARED_DIR:-$ROOT/../shared}
"$ROOT/scripts/setup.sh" >/dev/null
BIN=$BUILD/bin
mkdir -p "$OUT"
for f in "$SHARED/data/tinystories/eval.txt" "$SHARED/data/wikitext2/wiki.test.raw"; do
  [ -f "$f" ] || { echo "results: $f is missing (../shared beside the checkout)"; exit 1; }
done

"$BIN/midllama-import" "$ROOT/models/stories260K/stories260K.bin" -o "$OUT/fp32.mlir"
"$BIN/midllama-compile" "$OUT/fp32.mlir" --tokenizer "$ROOT/models/stories260K/tok512.bin" \
  -o "$OUT/fp32.mlm"
"$BIN/midllama-run" "$OUT/fp32.mlm" --prompt "" --steps 256 --repeat 5 \
  --json "$OUT/fp32.generate.json" > /dev/null 2>&1

rows=()
for data in tinystories wikitext2; do
  file=$SHARED/data/tinystories/eval.txt
  [ "$data" = wikitext2 ] && file=$SHARED/data/wikitext2/wiki.test.raw
  for ctx in 256 512; do
    echo "results: fp32, $data, ctx $ctx"
    "$BIN/midllama-run" "$OUT/fp32.mlm" --perplexity "$file" --ctx "$ctx" \
      --json "$OUT/fp32.$data.$ctx.json" 2> "$OUT/fp32.$data.$ctx.log"
    rows+=("fp32 $data $ctx $OUT/fp32.$data.$ctx.json")
  done
done

python3 - "$ROOT" "$OUT" "${rows[@]}" <<'PY'
import json, sys, datetime, platform, os
root, out, rows = sys.argv[1], sys.argv[2], sys.argv[3:]
gen = json.load(open(os.path.join(out, "fp32.generate.json")))
results, lines = [], []
for row in rows:
    model, data, ctx, path = row.split(" ", 3)
    r = json.load(open(path))
    p = r["protocol"]
    results.append({"model": model, "dataset": data, **r})
    lines.append(f"| {model} | {data} | {ctx} | {r['perplexity']:.4f} | {p['windows']} | "
                 f"{p['predicted_tokens']} | `{p['fnv1a']}` | {r['eval_tokens_per_s']:.0f} |")
date = datetime.date.today().isoformat()
machine = f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores"
md = f"""# Results

Accuracy, memory and speed of the embedded model, stories260K (260K parameters, vocabulary
512), as compiled by `midllama-compile --target=cpu` and run by `midllama-run`. Reproduce
with `scripts/results.sh` (needs `../shared`); it rewrites this file and `results.json`.

Measured {date} on {machine}, {gen['threads']} threads.

## Perplexity

Protocol (../shared/docs/ALGORITHMS.md): the whole file tokenized once with the model's
512-token tokenizer (no BOS), joined as-is, cut into non-overlapping windows of `ctx`
tokens, each window from an empty KV cache, every token after the first of its window
predicted; the tail shorter than a window is dropped. `fnv1a` identifies the file.
WikiText-2 is far outside what a 260K-parameter TinyStories model knows (and its
512-token vocabulary splits it finely): its perplexity is high by nature.

| model | dataset | ctx | perplexity | windows | predicted tokens | file fnv1a | eval tokens/s |
|---|---|---:|---:|---:|---:|---|---:|
""" + "\n".join(lines) + f"""

## Size, memory, speed (fp32)

| artifact bytes | weight bytes | peak RSS (generation) | time to first token | decode tokens/s (median of 5) |
|---:|---:|---:|---:|---:|
| {gen['artifact_bytes']} | {gen['weight_bytes_F32']} | {gen['peak_rss_bytes'] / 1e6:.1f} MB | {gen['ttft_ms']:.3f} ms | {gen['decode_tokens_per_s']:.0f} |

Greedy generation of 256 tokens from BOS reproduces `models/stories260K/greedy_from_bos_256.txt`
exactly (tested in `test/tools/midllama-run/stories260K.test`).
"""
open(os.path.join(root, "docs", "results.md"), "w").write(md)
json.dump({"date": date, "machine": machine, "generate": gen, "perplexity": results},
          open(os.path.join(root, "docs", "results.json"), "w"), indent=1)
print(md)
PY
