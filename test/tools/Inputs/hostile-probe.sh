#!/usr/bin/env bash
# Hostile inputs and lost files: one case or more per class of issue 13, against the four
# tools. Every case must end in a clear one-line error (or the right result), leave every
# input and every device node as it was, and leave no temporary file behind.
#
# usage: hostile-probe.sh BIN_DIR SOURCE_DIR WORK_DIR
# Prints one line per case ("ok: ..." or "FAIL: ..."), then "hostile-probe: N ok, M failed"
# and exits non-zero when a case failed. Cases that need root (mknod) say "skip:".
set -u
BIN=$1
SRC=$2
WORK=$3
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK" || exit 2
export PATH="$BIN:$PATH"
ok=0
failed=0
report() { # STATUS NAME [DETAIL]
  if [ "$1" = ok ]; then ok=$((ok + 1)); echo "ok: $2"; else
    failed=$((failed + 1)); echo "FAIL: $2${3:+ -- $3}"; fi
}
strays() { find "$WORK" -name '*.tmp-*' -o -name '*.onnx-initializers.tmp' | head -n 3; }
sums() { find "$WORK/in" -type f -exec md5sum {} + 2>/dev/null | sort; }

# expect_error NAME PATTERN CMD...: exits 1 (not a crash, not a hang: 20 s at most), an
# error line matches PATTERN (grep -E), inputs unchanged, no temporary left.
expect_error() {
  local name=$1 pattern=$2
  shift 2
  local before
  before=$(sums)
  timeout 20 "$@" > "$WORK/last.out" 2> "$WORK/last.err"
  local rc=$?
  if [ $rc -eq 124 ]; then report FAIL "$name" "hung (killed after 20 s)"
  elif [ $rc -ne 1 ]; then report FAIL "$name" "exit $rc: $(head -c 300 "$WORK/last.err")"
  elif ! grep -qE -- "$pattern" "$WORK/last.err"; then
    report FAIL "$name" "message: $(grep -v -e '^llm-' "$WORK/last.err" | head -c 300)"
  elif [ "$before" != "$(sums)" ]; then report FAIL "$name" "an input changed"
  elif [ -n "$(strays)" ]; then report FAIL "$name" "left $(strays | tr '\n' ' ')"
  else report ok "$name"; fi
}
# expect_success NAME CMD...
expect_success() {
  local name=$1
  shift
  if timeout 60 "$@" > "$WORK/last.out" 2> "$WORK/last.err"; then
    if [ -n "$(strays)" ]; then report FAIL "$name" "left $(strays | tr '\n' ' ')"
    else report ok "$name"; fi
  else report FAIL "$name" "exit $?: $(tail -c 300 "$WORK/last.err")"; fi
}

# --- The inputs: a model, its IR and parameters, an artifact, texts (all under in/).
mkdir -p in out other
cp "$SRC/models/stories260K/stories260K.bin" "$SRC/models/stories260K/tok512.bin" in/
head -c 20000 "$SRC/data/tinystories/calib.txt" > in/calib.txt
head -c 20000 "$SRC/data/tinystories/eval.txt" > in/eval.txt
midllama-import in/stories260K.bin -o in/m.mlir > /dev/null 2>&1 || { echo "setup failed"; exit 2; }
midllama-compile in/m.mlir -o in/m.mlm > /dev/null 2>&1 || { echo "setup failed"; exit 2; }
mkdir -p in/onnx
cp "$SRC"/test/Import/ONNX/Inputs/stories260K-genai-fp32/* in/onnx/
mkfifo fifo
RTN="--llm-quantize-rtn=bits=4 group-size=32"

# === Class: outputs never replace a device node (mknod: needs root).
if mknod dev c 1 3 2> /dev/null; then
  check_dev() { if [ -c dev ]; then report ok "$1: still a device"; else
    report FAIL "$1" "the device node was replaced"; mknod -m 666 dev c 1 3 2>/dev/null; fi; }
  midllama-opt in/m.mlir -o dev; check_dev "midllama-opt -o DEVICE"
  midllama-opt "--llm-stats=output=$WORK/dev" in/m.mlir -o out/s.mlir; check_dev "--llm-stats output=DEVICE"
  midllama-compile in/m.mlir -o dev > /dev/null 2>&1; check_dev "midllama-compile -o DEVICE"
  midllama-import in/stories260K.bin -o dev --params out/p.safetensors --force 2> /dev/null
  check_dev "midllama-import -o DEVICE"
  midllama-run in/m.mlm --steps 4 --json dev > /dev/null 2>&1; check_dev "midllama-run --json DEVICE"
  midllama-run in/m.mlm --prompt-ids "1 2 3" --logits-out dev > /dev/null 2>&1
  check_dev "midllama-run --logits-out DEVICE"
  mknod dev.0.txt c 1 3
  midllama-run in/m.mlm --steps 4 --sequences-out dev > /dev/null 2>&1
  if [ -c dev.0.txt ]; then report ok "--sequences-out DEVICE: still a device"; else
    report FAIL "--sequences-out DEVICE" "replaced"; fi
  rm -f dev.0.txt
  expect_error "a parameter file is never written to a device" \
    "output '.*dev' is a character device; a parameter file must be a regular file" \
    midllama-opt "$RTN output=$WORK/dev" in/m.mlir -o out/q.mlir
  expect_error "midllama-import --params DEVICE" "--params 'dev': is a character device" \
    midllama-import in/stories260K.bin -o out/i.mlir --params dev
  check_dev "after the refusals"
  rm -f dev
else
  echo "skip: device-node cases (mknod needs root)"
fi
expect_error "an output FIFO nobody reads is refused, not waited on" "a named pipe with no reader" \
  midllama-run in/m.mlm --steps 2 --json fifo
expect_error "a directory as output" "-o 'out': is a directory" midllama-opt in/m.mlir -o out
expect_error "-o ''" "-o: an empty path" midllama-opt in/m.mlir -o ''
expect_error "output in a missing folder" "its directory 'nowhere' does not exist" \
  midllama-compile in/m.mlir -o nowhere/m.mlm

# === Class: outputs that overwrite inputs (by identity, not spelling).
ln -s in/m.mlir link.mlir
expect_error "-o is the input IR (other spelling)" "an input of this run" \
  midllama-opt in/m.mlir -o ./in/../in/m.mlir
expect_error "-o is the input IR (through a symlink)" "an input of this run" \
  midllama-opt in/m.mlir -o link.mlir
expect_error "output= is the module's parameter file" "is the parameter file the module reads" \
  midllama-opt "$RTN output=m.safetensors" in/m.mlir -o out/q.mlir
expect_error "output= is the input IR" "is the IR file being read|an input of this run" \
  midllama-opt "$RTN output=m.mlir" in/m.mlir -o out/q.mlir
expect_error "output= and -o name one file" "also written by -o" \
  midllama-opt "$RTN output=$WORK/out/q.mlir" in/m.mlir -o out/q.mlir
expect_error "midllama-compile -o is the parameter file" "an input of this run" \
  midllama-compile in/m.mlir -o in/m.safetensors
expect_error "midllama-run --json is the artifact" "an input of this run" \
  midllama-run in/m.mlm --steps 2 --json in/m.mlm
expect_error "midllama-import -o is the model" "an input of this run" \
  midllama-import in/onnx/model.onnx -o in/onnx/model.onnx --force
expect_error "midllama-import --params is the external data" "an input of this run" \
  midllama-import in/onnx/model.onnx -o out/x.mlir --params in/onnx/model.onnx.data --force
expect_error "midllama-import --params is -o" "also written by -o" \
  midllama-import in/stories260K.bin -o out/y.mlir --params ./out/../out/y.mlir

# Regular outputs of every kind do land when the run succeeds.
expect_success "midllama-run --logits-out to a regular file" \
  midllama-run in/m.mlm --prompt-ids "1 2 3" --logits-out out/l.bin
expect_success "... --sequences-out and --json" \
  midllama-run in/m.mlm --steps 4 --batch 2 --sequences-out out/seq --json out/g.json
if [ -s out/l.bin ] && [ -f out/seq.0.txt ] && [ -f out/seq.1.txt ] &&
   [ -s out/g.json ]; then report ok "... all written"
else report FAIL "outputs written" "$(ls out | tr '\n' ' ')"; fi

# === Class: a failed pipeline leaves no mix: all outputs of a run, or none.
echo "old weights" > out/a.safetensors
echo "old IR" > out/a.mlir
expect_error "a later pass fails: the earlier pass's file is not replaced" "llm-stats: .*does not exist" \
  midllama-opt "--pass-pipeline=builtin.module(llm-quantize-rtn{bits=4 group-size=32 output=$WORK/out/a.safetensors},llm-materialize-weights{output=$WORK/out/b.safetensors},llm-stats{output=$WORK/nowhere/s.txt})" \
  in/m.mlir -o out/a.mlir
if [ "$(cat out/a.safetensors)" = "old weights" ] && [ "$(cat out/a.mlir)" = "old IR" ] &&
   [ ! -e out/b.safetensors ]; then report ok "failed pipeline: old files kept, none new"
else report FAIL "failed pipeline" "files changed"; fi

# === Class: relative output= has one rule (docs/files.md), from another working directory.
(cd other && expect_success "relative output=, IR written to another folder" \
  midllama-opt "$RTN output=r.safetensors" ../in/m.mlir -o ../out/r.mlir)
if [ -f in/r.safetensors ] && grep -q "llm.param_file = \"$WORK/in/r.safetensors\"" out/r.mlir
then report ok "output= beside the IR read; recorded for the IR written"
else report FAIL "relative output=" "$(grep -o 'llm.param_file = "[^"]*"' out/r.mlir)"; fi
(cd / && expect_success "the written pair compiles from a third folder" \
  midllama-compile "$WORK/out/r.mlir" -o "$WORK/out/r.mlm")
(cd other && expect_success "relative output=, IR beside it" \
  midllama-opt "$RTN output=s.safetensors" ../in/m.mlir -o ../in/s.mlir)
if grep -q 'llm.param_file = "s.safetensors"' in/s.mlir; then report ok "recorded relative"
else report FAIL "recorded relative" "$(grep -o 'llm.param_file = "[^"]*"' in/s.mlir)"; fi
rm -f in/r.safetensors in/s.safetensors in/s.mlir

# === Class: reads that never end: FIFOs and devices as every kind of input.
expect_error "FIFO as the model" "ONNX model 'fifo': is a named pipe" \
  midllama-import fifo --format=onnx -o out/f.mlir
expect_error "FIFO as the input IR" "input IR 'fifo': is a named pipe" midllama-opt fifo -o out/f.mlir
expect_error "FIFO as the artifact" "artifact 'fifo': is a named pipe" midllama-run fifo
expect_error "FIFO as the tokenizer" "tokenizer 'fifo': is a named pipe" \
  midllama-compile in/m.mlir -o out/f.mlm --tokenizer fifo
expect_error "FIFO as the perplexity text" "perplexity text 'fifo': is a named pipe" \
  midllama-run in/m.mlm --perplexity fifo --ctx 64
expect_error "FIFO as the calibration text" "calibration data '.*fifo': is a named pipe" \
  midllama-opt "--llm-prune-wanda=sparsity=0.5 calib=$WORK/fifo output=w.safetensors" in/m.mlir -o out/w.mlir
expect_error "FIFO as a recipe" "recipe 'fifo': is a named pipe" \
  midllama-opt "--llm-apply-recipe=recipe=fifo output=w.safetensors" in/m.mlir -o out/w.mlir
sed "s|llm.param_file = \"m.safetensors\"|llm.param_file = \"$WORK/fifo\"|" in/m.mlir > in/fifo-params.mlir
expect_error "FIFO as the parameter file" "parameter file '.*fifo': is a named pipe" \
  midllama-compile in/fifo-params.mlir -o out/f.mlm
mkdir -p in/onnx-fifo && cp in/onnx/model.onnx in/onnx-fifo/ && mkfifo in/onnx-fifo/model.onnx.data
expect_error "FIFO as external data" "external data '.*': is a named pipe" \
  midllama-import in/onnx-fifo/model.onnx -o out/f.mlir
rm -rf in/onnx-fifo
expect_error "/dev/zero as calibration text" "is a character device; only regular files" \
  midllama-opt "--llm-prune-wanda=sparsity=0.5 calib=/dev/zero output=w.safetensors" in/m.mlir -o out/w.mlir
expect_error "/dev/urandom as perplexity text" "is a character device; only regular files" \
  midllama-run in/m.mlm --perplexity /dev/urandom --ctx 64
expect_error "endless stdin" "standard input: more than the 1 MiB" \
  sh -c 'head -c 3000000 /dev/zero | midllama-opt - --max-input-mb 1 -o out/z.mlir'
head -c 3000000 /dev/zero | tr '\0' 'a' > big.txt
expect_error "a file above its size limit" "more than the 1 MiB a perplexity text may have" \
  midllama-run in/m.mlm --perplexity big.txt --ctx 64 --max-input-mb 1
expect_error "a directory as the perplexity text" "perplexity text 'out': is a directory" \
  midllama-run in/m.mlm --perplexity out --ctx 64

# === Class: models imported silently wrong (each a one-edit variant of a committed fixture,
# made with midllama-onnx-mutate; test/Import/ONNX/*.test has the full matrix).
ONNX=$SRC/test/Import/ONNX/Inputs
mkdir -p in/mut
midllama-onnx-mutate "$ONNX/decomposed/good.onnx" -o in/mut/anti.onnx --op later_node=Greater
expect_error "an anti-causal attention mask" "the attention mask 'mask' is not causal" \
  midllama-import in/mut/anti.onnx -o out/anti.mlir
midllama-onnx-mutate "$ONNX/decomposed/good.onnx" -o in/mut/inv.onnx --init inv_freq:1=nan
expect_error "NaN in inv_freq" "inv_freq" midllama-import in/mut/inv.onnx -o out/inv.mlir
midllama-onnx-mutate "$ONNX/decomposed/good.onnx" -o in/mut/none.onnx --drop-outputs
expect_error "a graph with no outputs" "has no outputs; there is nothing to import" midllama-import in/mut/none.onnx -o out/none.mlir
midllama-onnx-mutate "$ONNX/stories260K-genai-fp32/model.onnx" -o in/mut/smooth.onnx --inline-data \
  --attr /model/layers.0/attn/GroupQueryAttention:smooth_softmax=1
expect_error "GroupQueryAttention smooth_softmax=1" "smooth_softmax" \
  midllama-import in/mut/smooth.onnx -o out/smooth.mlir

# === Class: options and IR accepted when they should not be; resources asked for up front.
expect_error "pattern=4:0" "N:M needs 1 <= N < M" \
  midllama-opt "--llm-prune-magnitude=pattern=4:0 output=x.safetensors" in/m.mlir -o out/x.mlir
expect_error "pattern=2:4 with sparsity=0.7" "sparsity" \
  midllama-opt "--llm-prune-magnitude=pattern=2:4 sparsity=0.7 output=x.safetensors" in/m.mlir -o out/x.mlir
expect_error "AWQ clip=true clip-tokens=0" "clip-tokens must be at least 1 when clip=true" \
  midllama-opt "--llm-quantize-awq=clip=true clip-tokens=0 calib=$WORK/in/calib.txt output=x.safetensors" in/m.mlir -o out/x.mlir
sed 's/theta = 1.000000e+04 : f32/theta = 0x7F800000 : f32/' in/m.mlir > in/inf.mlir
expect_error "theta=+inf in the IR" "theta must be a finite positive number" \
  midllama-compile in/inf.mlir -o out/inf.mlm
expect_error "samples=1000000000 (calibration memory)" "calibration needs [0-9]+ GiB" \
  midllama-opt "--llm-prune-wanda=sparsity=0.5 samples=1000000000 calib=$WORK/in/calib.txt output=x.safetensors" in/m.mlir -o out/x.mlir
expect_error "--threads 600" "--threads 600 is more than this machine can use" \
  midllama-run in/m.mlm --threads 600
expect_error "--prompt-ids ''" "--prompt-ids has no token ids" midllama-run in/m.mlm --prompt-ids ""
expect_error "--seed above 2^63" "bad value '18446744073709551616' for --seed" \
  midllama-run in/m.mlm --seed 18446744073709551616
printf 'module {\n  %%0 = "x.y"() : () -> i32\n  "x.z"(%%0#2147483648) : (i32) -> ()\n}\n' > in/big-result.mlir
expect_error "a result number the MLIR parser would abort on" "result number 2147483648 of '%0' is above" \
  midllama-opt in/big-result.mlir -o out/b.mlir
expect_error "a pass-option error is one line, no module dump" "^<unknown>:0: error: llm-quantize-rtn: bits" \
  midllama-opt "--llm-quantize-rtn=bits=99 output=x.safetensors" in/m.mlir -o out/x.mlir
if [ "$(wc -l < "$WORK/last.err")" -eq 1 ]; then report ok "... and exactly one line"
else report FAIL "one-line option error" "$(wc -l < "$WORK/last.err") lines"; fi

# === Class: messages. An artifact is called an artifact; symlinked external data.
expect_error "a parameter file given as an artifact" "artifact 'in/m.safetensors': not a compiled" \
  midllama-run in/m.safetensors
mkdir -p blobs in/onnx-link
mv in/onnx/model.onnx.data blobs/ && cp in/onnx/model.onnx in/onnx-link/
ln -s "$WORK/blobs/model.onnx.data" in/onnx-link/model.onnx.data
expect_error "external data symlinked out of the model folder" "name its folder with --allow-data-dir" \
  midllama-import in/onnx-link/model.onnx -o out/l.mlir
expect_success "... allowed with --allow-data-dir" \
  midllama-import in/onnx-link/model.onnx -o out/l.mlir --allow-data-dir blobs

echo "hostile-probe: $ok ok, $failed failed"
[ "$failed" -eq 0 ]
