#!/usr/bin/env python3
"""midllama against llama.cpp on the CPU, the same weights on both sides (issue 18).

For each format, one GGUF (made by llama-quantize --pure from the same F32 GGUF) is run
by llama.cpp's llama-bench (pp = prefill of --prompt tokens, tg = decode of --gen tokens
from an empty context) and, imported with midllama-import (the format kept as stored) and
compiled, by midllama-run: prefill of --prompt-ids of --prompt tokens, and decode of --gen
greedy tokens after a one-token prompt, as llama-bench's tg starts (decoding after the
256-token prompt, as this script did before 2026-12-04, reads 4-5x more KV cache per token
than llama.cpp's side: at SmolLM2 Q4_0's 200 tok/s attention was 15% of the time). With
--depth D, decode alone after D tokens of context on both sides (llama-bench -p 0 -d D;
midllama-run after a D-token prompt): what long contexts cost, where the KV cache (fp16 in
llama.cpp; fp32 in midllama unless --midllama-args="--kv-cache f16") is read per token.
Each round runs both, alternating which goes first; a ratio is the median of the per-round
ratios midllama / llama.cpp (> 1: midllama faster). Prints a Markdown table, writes JSON.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import rounds as summary  # noqa: E402  (bench/rounds.py)


def llamacpp(args, gguf):
    prompt = 0 if args.depth else args.prompt
    out = subprocess.run([args.llama_bench, "-m", gguf, "-p", str(prompt), "-n",
                          str(args.gen), "-d", str(args.depth), "-t", str(args.threads),
                          "-r", "1", "-o", "json"],
                         check=True, capture_output=True, text=True).stdout
    res = {}
    for test in json.loads(out):
        key = "prefill" if test["n_prompt"] > 0 else "decode"
        res[key] = test["avg_ts"]
    return res


def midllama_run(args, mlm, prompt, steps):
    ids = " ".join(str(100 + i) for i in range(prompt))
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        subprocess.run([args.midllama_run, mlm, "--prompt-ids", ids, "--steps", str(steps),
                        "--ignore-eos", "--threads", str(args.threads), "--json", f.name]
                       + args.midllama_args.split(),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return json.load(open(f.name))


def midllama(args, mlm):
    if args.depth:
        return {"decode": midllama_run(args, mlm, args.depth, args.gen)["decode_tokens_per_s"]}
    prefill = midllama_run(args, mlm, args.prompt, 1)["prefill_tokens_per_s"]
    decode = midllama_run(args, mlm, 1, args.gen)["decode_tokens_per_s"]
    return {"prefill": prefill, "decode": decode}


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--formats", required=True, help="NAME=GGUF:MLM,... ")
    p.add_argument("--llama-bench", required=True)
    p.add_argument("--midllama-run", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--prompt", type=int, default=256)
    p.add_argument("--gen", type=int, default=64)
    p.add_argument("--depth", type=int, default=0,
                   help="decode only, after this many tokens of context")
    p.add_argument("--midllama-args", default="", help="more midllama-run flags")
    p.add_argument("--json", required=True)
    args = p.parse_args()
    formats = []
    for entry in args.formats.split(","):
        name, paths = entry.split("=", 1)
        gguf, mlm = paths.split(":", 1)
        formats.append((name, gguf, mlm))
    measured = {name: [] for name, _, _ in formats}
    for r in range(args.rounds):
        for name, gguf, mlm in formats:
            if r % 2 == 0:
                a, b = llamacpp(args, gguf), midllama(args, mlm)
            else:
                b, a = midllama(args, mlm), llamacpp(args, gguf)
            measured[name].append({"llamacpp": a, "midllama": b})
            pre = "" if args.depth else (f"prefill {b['prefill']:.1f} vs {a['prefill']:.1f} "
                                         "tok/s, ")
            print(f"compare: round {r + 1}/{args.rounds} {name}: {pre}decode "
                  f"{b['decode']:.1f} vs {a['decode']:.1f}", file=sys.stderr)
    metrics = ("decode",) if args.depth else ("prefill", "decode")
    rows = []
    for name, _, _ in formats:
        row = {"format": name}
        row.update(summary.medians(measured[name], "midllama", "llamacpp", metrics))
        rows.append(row)
    json.dump({"protocol": vars(args), "rows": rows, "rounds": measured},
              open(args.json, "w"), indent=1)
    if args.depth:
        print(f"| format | decode @ {args.depth}: midllama | llama.cpp | ratio |")
        print("|---|---:|---:|---:|")
        for r in rows:
            print(f"| {r['format']} | {r['decode_midllama']:.1f} | {r['decode_llamacpp']:.1f} | "
                  f"{r['decode_ratio']:.2f}x |")
        return
    print(f"| format | prefill {args.prompt}: midllama | llama.cpp | ratio | "
          f"decode: midllama | llama.cpp | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['format']} | {r['prefill_midllama']:.1f} | {r['prefill_llamacpp']:.1f} | "
              f"{r['prefill_ratio']:.2f}x | {r['decode_midllama']:.1f} | "
              f"{r['decode_llamacpp']:.1f} | {r['decode_ratio']:.2f}x |")


if __name__ == "__main__":
    main()
