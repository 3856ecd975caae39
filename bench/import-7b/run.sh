#!/usr/bin/env bash
# Import benchmark at 7B scale: writes a LLaMA-2-7B-shaped ONNX model once (13.5 GB of fp16
# weights as external data, kept in $MIDLLAMA_BENCH_DIR, default /tmp/midllama-bench-7b),
# imports it with midllama-import under GNU time, and prints wall time and peak RSS against
# the weight bytes, as a table and as JSON (import.json in that folder).
# Needs: a build (scripts/setup.sh), python3 with onnx and numpy, /usr/bin/time (Debian
# package `time`), about 30 GB of free disk.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${MIDLLAMA_BUILD_DIR:-$ROOT/build}
DIR=${MIDLLAMA_BENCH_DIR:-/tmp/midllama-bench-7b}

if [ ! -f "$DIR/model.onnx" ]; then
  echo "writing the 7B-shaped model to $DIR (once)"
  python3 "$ROOT/bench/import-7b/make_llama7b_onnx.py" "$DIR"
fi
rm -rf "$DIR/out" && mkdir -p "$DIR/out"
/usr/bin/time -v "$BUILD/bin/midllama-import" "$DIR/model.onnx" -o "$DIR/out/model.mlir" \
  2> "$DIR/time.log" || { cat "$DIR/time.log"; exit 1; }
"$BUILD/bin/midllama-opt" --llm-verify-params "$DIR/out/model.mlir" -o "$DIR/out/verified.mlir"

weights=$(stat -c %s "$DIR/model.onnx.data")
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0;
                    for (i = 1; i <= n; ++i) s = s * 60 + t[i]; print s }' "$DIR/time.log")
rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$DIR/time.log")
awk -v w="$weights" -v t="$wall" -v r="$rss_kb" 'BEGIN {
  printf "midllama-import, LLaMA-2-7B-shaped ONNX (GenAI style, fp16, external data)\n"
  printf "  %-28s %12.2f GB\n", "weights", w / 1e9
  printf "  %-28s %12.1f s\n", "wall time", t
  printf "  %-28s %12.2f GB (%.1f%% of the weights)\n", "peak RSS", r * 1024 / 1e9,
         100 * r * 1024 / w
  printf "  %-28s %12.0f MB/s\n", "weights imported per second", w / 1e6 / t
}'
printf '{"weights_bytes": %s, "wall_s": %s, "peak_rss_bytes": %s}\n' \
  "$weights" "$wall" "$((rss_kb * 1024))" > "$DIR/import.json"
echo "(JSON: $DIR/import.json)"
