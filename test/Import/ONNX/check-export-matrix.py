#!/usr/bin/env python3
"""Imports, compiles and runs every cell of an ONNX export matrix (make-export-matrix.py)
with midllama and compares the logits with ONNX Runtime's on the same file.

    check-export-matrix.py --bin BUILD/bin MATRIX_DIR [--work DIR] [--json OUT]
                           [--expect EXPECT.json] [--markdown DOC.md]

A cell's result is
  ok       imported, and every logit within the tolerance of ONNX Runtime's;
  refused  midllama-import refused the graph (the message is kept: it must name the
           construct);
  WRONG    imported but the logits differ, or it did not compile or run: a defect;
  n/a      the exporter is not installed with that transformers version, or the export
           itself failed (its message is kept).
--expect compares with a file {cell: "ok" | "refused: <text the message contains>" |
"n/a"} and fails on any difference (export-matrix.test); --markdown rewrites the table
between the matrix markers of DOC.md. Standard library only (CI has no torch).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

# |midllama - ONNX Runtime| allowed per weight format. fp32: both compute in fp32 (the
# decomposed and fused spellings reorder sums). fp16: ONNX Runtime computes in fp16,
# midllama in fp32 over fp16 weights (test/tools/midllama-run/ort-logits.test measured
# 0.037-0.061 on stories260K). int4: ONNX Runtime quantizes activations to int8 for
# MatMulNBits at the GenAI builder's accuracy_level 4 (measured 5.1e-3 there).
TOLERANCE = {"fp32": 1e-4, "fp16": 0.1, "int4": 0.02}
BEGIN = "<!-- export-matrix:begin (test/Import/ONNX/check-export-matrix.py --markdown) -->"
END = "<!-- export-matrix:end -->"


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def message(stderr):
    lines = [l for l in stderr.strip().splitlines() if "warning:" not in l]
    return (lines[0] if lines else stderr.strip()).replace(os.path.expanduser("~"), "~")


def check_cell(bin_dir, cell_dir, work):
    with open(os.path.join(cell_dir, "meta.json")) as f:
        meta = json.load(f)
    if meta.get("export") != "ok":
        return "n/a", meta.get("export", "no export"), meta
    fmt = meta["exporter"].rsplit("-", 1)[1]
    tol = TOLERANCE[fmt]
    mlir, mlm = os.path.join(work, "m.mlir"), os.path.join(work, "m.mlm")
    rc, _, err = run([os.path.join(bin_dir, "midllama-import"),
                      os.path.join(cell_dir, "model.onnx"), "-o", mlir, "--force"])
    if rc != 0:
        # Keep only what follows the file name: the node and the reason.
        text = message(err)
        text = text.split("model.onnx': ", 1)[-1]
        return "refused", text, meta
    rc, _, err = run([os.path.join(bin_dir, "midllama-compile"), mlir, "-o", mlm])
    if rc != 0:
        return "WRONG", "compile failed: " + message(err), meta
    with open(os.path.join(cell_dir, "ids.txt")) as f:
        ids = f.read().strip()
    rc, out, err = run([os.path.join(bin_dir, "midllama-run"), mlm, "--prompt-ids", ids,
                        "--expect-logits", os.path.join(cell_dir, "ort.bin"),
                        "--atol", str(tol)])
    worst = [l for l in (out + err).splitlines() if "max |logit - expected|" in l]
    detail = worst[0].split("=", 1)[1].split(" over")[0].strip() if worst else message(err)
    if rc != 0:
        return "WRONG", f"max |logit - ONNX Runtime| {detail} > {tol}", meta
    return "ok", f"max |logit - ONNX Runtime| {detail} (tolerance {tol})", meta


def cells(root):
    for dirpath, _, files in sorted(os.walk(root)):
        if "meta.json" in files:
            yield os.path.relpath(dirpath, root), dirpath


def markdown(results):
    versions = sorted({r["cell"].split("/")[0] for r in results})
    lines = [BEGIN, "", "| transformers | config | exporter | ONNX Runtime vs transformers "
             "| result | detail |", "|---|---|---|---:|---|---|"]
    for r in results:
        v, config, exporter = r["cell"].split("/")
        detail = r["detail"].replace("|", "\\|")
        fidelity = r["meta"].get("ort_vs_transformers")
        fidelity = f"{fidelity:.2g}" if fidelity is not None else "-"
        lines.append(f"| {v.split('-', 1)[1]} | {config} | {exporter} | {fidelity} | "
                     f"{r['result']} | {detail} |")
    lines.append("")
    for v in versions:
        meta = next(r["meta"] for r in results if r["cell"].startswith(v + "/"))
        pkgs = ", ".join(f"{k} {meta['versions'][k]}" for k in sorted(meta["versions"])
                         if meta["versions"][k])
        lines.append(f"- {v}: {pkgs}")
    lines += ["", END]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("matrix")
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work")
    ap.add_argument("--json")
    ap.add_argument("--expect")
    ap.add_argument("--markdown")
    a = ap.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="midllama-matrix-")
    os.makedirs(work, exist_ok=True)
    results = []
    for name, path in cells(a.matrix):
        result, detail, meta = check_cell(a.bin, path, work)
        results.append(dict(cell=name, result=result, detail=detail, meta=meta))
        print(f"{name}\t{result}\t{detail}", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump([{k: r[k] for k in ("cell", "result", "detail")} for r in results], f,
                      indent=1)
    if a.markdown:
        with open(a.markdown) as f:
            doc = f.read()
        if BEGIN not in doc or END not in doc:
            sys.exit(f"{a.markdown}: no matrix markers")
        doc = doc[:doc.index(BEGIN)] + markdown(results) + doc[doc.index(END) + len(END):]
        with open(a.markdown + ".tmp", "w") as f:
            f.write(doc)
        os.replace(a.markdown + ".tmp", a.markdown)
    status = 0
    if any(r["result"] == "WRONG" for r in results):
        print("check-export-matrix: some cells import but compute wrong logits", file=sys.stderr)
        status = 1
    if a.expect:
        with open(a.expect) as f:
            expect = json.load(f)
        got = {r["cell"]: r for r in results}
        for cell, want in sorted(expect.items()):
            r = got.get(cell)
            kind, _, text = want.partition(": ")
            if not r or r["result"] != kind or text not in r["detail"]:
                print(f"check-export-matrix: {cell}: expected '{want}', got "
                      f"'{r['result'] + ': ' + r['detail'] if r else 'no such cell'}'",
                      file=sys.stderr)
                status = 1
        for cell in sorted(set(got) - set(expect)):
            print(f"check-export-matrix: {cell} has no expectation", file=sys.stderr)
            status = 1
    sys.exit(status)


if __name__ == "__main__":
    main()
