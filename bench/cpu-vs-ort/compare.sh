#!/usr/bin/env bash
# Before/after in one run: bench.py for two builds back to back on the same machine, each
# with its own ONNX Runtime baseline, then midllama's rates of the second over the first.
# A refactor of the runtime is "not slower" when these ratios stay at 1 within the rounds'
# spread. Usage: compare.sh BEFORE_BUILD AFTER_BUILD (each with bin/midllama-import,
# -compile and -run; a runtime-only build of the old commit plus links to the new
# importer and compiler is enough when the artifact format did not change).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR=${MIDLLAMA_BENCH_DIR:-/tmp/midllama-bench-cpu}
[ $# -eq 2 ] || { echo "usage: compare.sh BEFORE_BUILD AFTER_BUILD" >&2; exit 2; }
MIDLLAMA_BUILD_DIR=$1 bash "$HERE/run.sh" && cp "$DIR/cpu-vs-ort.json" "$DIR/before.json"
MIDLLAMA_BUILD_DIR=$2 bash "$HERE/run.sh" && cp "$DIR/cpu-vs-ort.json" "$DIR/after.json"
python3 - "$DIR/before.json" "$DIR/after.json" <<'PY'
import json, sys
b, a = (json.load(open(p))["results"] for p in sys.argv[1:3])
print(f"\n{'model':<14}{'decode before':>15}{'after':>9}{'after/before':>14}"
      f"{'eval before':>13}{'after':>9}{'after/before':>14}")
for x, y in zip(b, a):
    d0, d1 = x["midllama_decode_tokens_per_s"], y["midllama_decode_tokens_per_s"]
    e0, e1 = x["midllama_eval_tokens_per_s"], y["midllama_eval_tokens_per_s"]
    print(f"{x['model']:<14}{d0:>15.1f}{d1:>9.1f}{d1 / d0:>14.3f}{e0:>13.1f}{e1:>9.1f}{e1 / e0:>14.3f}")
print("(tokens/s; each build's ratio to ONNX Runtime is in its own table above)")
PY
