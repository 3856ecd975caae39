#!/usr/bin/env python3
"""Issue 18: every stored format's CPU throughput against the fp32 model, in the same run.

For each artifact (the rows of scripts/results-smollm2.sh, or any --artifacts) and each
round, the fp32 model and the artifact run back to back (alternating, so load changes on a
shared machine hit both): evaluation throughput (midllama-run --perplexity: --ctx tokens
per window, --windows windows: the prefill path) and decode throughput (greedy generation
of --steps tokens after a short prompt). Ratios are medians of the per-round ratios.
Prints a Markdown table and writes JSON.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import rounds  # noqa: E402  (bench/rounds.py)


def run(cmd):
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        subprocess.run(cmd + ["--json", f.name], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return json.load(open(f.name))


def measure(args, artifact):
    common = ["--threads", str(args.threads)] + args.run_args.split()
    ev = run([args.run, artifact, "--perplexity", args.text, "--ctx", str(args.ctx),
              "--max-windows", str(args.windows)] + common)
    de = run([args.run, artifact, "--prompt", "Once upon a time", "--steps", str(args.steps),
              "--ignore-eos"] + common)
    return {"eval": ev["eval_tokens_per_s"], "decode": de["decode_tokens_per_s"],
            "ppl": ev["perplexity"], "bits": ev.get("bits_per_parameter"),
            "weight_bytes": ev.get("weight_bytes_total")}


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--results", required=True, help="directory of NAME.mlm artifacts")
    p.add_argument("--base", default="fp32")
    p.add_argument("--artifacts", required=True, help="comma-separated names")
    p.add_argument("--run", required=True, help="midllama-run")
    p.add_argument("--text", required=True)
    p.add_argument("--ctx", type=int, default=256)
    p.add_argument("--windows", type=int, default=2)
    p.add_argument("--steps", type=int, default=64)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--run-args", default="",
                   help="more midllama-run flags for every run, e.g. --int8-activations")
    p.add_argument("--json", required=True)
    args = p.parse_args()
    base = os.path.join(args.results, args.base + ".mlm")
    names = [n for n in args.artifacts.split(",") if n]
    missing = [n for n in names + [args.base]
               if not os.path.exists(os.path.join(args.results, n + ".mlm"))]
    if missing:
        sys.exit(f"bench: no artifact for {', '.join(missing)} in {args.results} "
                 "(scripts/results-smollm2.sh makes them)")
    rows = {}
    for r in range(args.rounds):
        for n in names:
            b = measure(args, base)
            m = measure(args, os.path.join(args.results, n + ".mlm"))
            row = rows.setdefault(n, {"rounds": [], "info": m})
            row["rounds"].append({"base": b, "format": m})
            print(f"bench: round {r + 1}/{args.rounds} {n}: eval {m['eval']:.1f} vs "
                  f"{b['eval']:.1f} tok/s, decode {m['decode']:.1f} vs {b['decode']:.1f}",
                  file=sys.stderr)
    out = []
    for n, row in rows.items():
        o = {"name": n, "bits_per_parameter": row["info"]["bits"],
             "weight_bytes": row["info"]["weight_bytes"],
             "perplexity_ctx%d" % args.ctx: row["info"]["ppl"]}
        o.update(rounds.medians(row["rounds"], "format", "base", ("eval", "decode")))
        out.append(o)
    json.dump({"protocol": vars(args), "rows": out}, open(args.json, "w"), indent=1)
    print(f"| format | bits/param | eval tok/s | vs {args.base} | decode tok/s | vs {args.base} |")
    print("|---|---:|---:|---:|---:|---:|")
    for o in out:
        print(f"| {o['name']} | {o['bits_per_parameter']:.2f} | {o['eval_format']:.1f} | "
              f"{o['eval_ratio']:.2f}x | {o['decode_format']:.1f} | "
              f"{o['decode_ratio']:.2f}x |")


if __name__ == "__main__":
    main()
