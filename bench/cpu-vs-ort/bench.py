#!/usr/bin/env python3
"""CPU decode and evaluation throughput of midllama against ONNX Runtime, on the same ONNX
file, with the same thread count, in the same run.

For each model: ONNX Runtime runs the original ONNX file (CPU execution provider,
intra-op threads = T, sequential execution); midllama imports it, compiles it for the CPU
and runs the artifact with --threads T. Measured:
  - decode: a P-token prompt, then N greedy steps of one token each with the KV cache;
    tokens/s over the N steps, median of R runs;
  - evaluation: W windows of C tokens each from an empty cache (the perplexity protocol's
    shape), each window's tokens scored (log-softmax at the targets, in float64 as
    midllama-run does); predicted tokens/s. The two engines alternate, one run each per
    round, for E rounds: a slow minute on this shared machine then hits both, and the ratio
    reported is the median of the rounds' ratios (each engine's median rate too).
Prints a table with the ratio midllama / ONNX Runtime and writes JSON.

Usage: bench.py --build BUILD --work DIR --out results.json [--threads T]
"""
import argparse
import json
import os
import statistics
import subprocess
import time

import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


def ort_session(path, threads):
    o = ort.SessionOptions()
    o.intra_op_num_threads = threads
    o.inter_op_num_threads = 1
    o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])


def empty_past(session):
    feeds = {}
    for i in session.get_inputs():
        if i.name.startswith("past_key_values"):
            feeds[i.name] = np.zeros((1, i.shape[1], 0, i.shape[3]), np.float32)
    return feeds


def ort_decode(session, prompt, steps, repeat):
    names = [o.name for o in session.get_outputs()]
    past_names = [i.name for i in session.get_inputs() if i.name.startswith("past_key_values")]
    rates = []
    for _ in range(repeat):
        feeds = {"input_ids": np.array([prompt], np.int64),
                 "position_ids": np.arange(len(prompt), dtype=np.int64)[None], **empty_past(session)}
        out = session.run(names, feeds)
        pos = len(prompt)
        start = time.perf_counter()
        for _ in range(steps):
            token = int(np.argmax(out[0][0, -1]))
            feeds = {"input_ids": np.array([[token]], np.int64),
                     "position_ids": np.array([[pos]], np.int64)}
            feeds.update({p: out[1 + k] for k, p in enumerate(past_names)})
            out = session.run(names, feeds)
            pos += 1
        rates.append(steps / (time.perf_counter() - start))
    return statistics.median(rates)


def ort_eval(session, vocab, ctx, windows, repeat, seed=0):
    rng = np.random.default_rng(seed)
    feeds = empty_past(session)
    rates = []
    for _ in range(repeat):
        start = time.perf_counter()
        nll = 0.0
        for _ in range(windows):
            ids = rng.integers(3, vocab, (1, ctx), dtype=np.int64)
            feeds["input_ids"] = ids
            feeds["position_ids"] = np.arange(ctx, dtype=np.int64)[None]
            logits = session.run(["logits"], feeds)[0][0, :-1].astype(np.float64)
            # Score the window as midllama-run --perplexity does: log-softmax at the targets.
            top = logits.max(axis=1, keepdims=True)
            logz = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
            nll -= (logits[np.arange(ctx - 1), ids[0, 1:]] - logz).sum()
        rates.append(windows * (ctx - 1) / (time.perf_counter() - start))
    return statistics.median(rates)


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True)


def midllama(build, work, name, onnx_path, tokenizer, threads, prompt, steps, repeat, text,
             ctx, windows):
    mlir, mlm = os.path.join(work, name + ".mlir"), os.path.join(work, name + ".mlm")
    start = time.perf_counter()
    run([os.path.join(build, "bin", "midllama-import"), onnx_path, "-o", mlir, "--force"])
    imported = time.perf_counter()
    run([os.path.join(build, "bin", "midllama-compile"), mlir, "--tokenizer", tokenizer,
         "--max-context", "2048", "-o", mlm])
    compiled = time.perf_counter()
    gen = json.loads(run([os.path.join(build, "bin", "midllama-run"), mlm, "--prompt-ids",
                          " ".join(map(str, prompt)), "--steps", str(steps + 1), "--ignore-eos",
                          "--repeat", str(repeat), "--threads", str(threads),
                          "--json", "-"]).stdout)
    return {"import_s": imported - start, "compile_s": compiled - imported,
            "artifact_bytes": gen["artifact_bytes"], "decode": gen["decode_tokens_per_s"],
            "peak_rss_bytes": gen["peak_rss_bytes"], "mlm": mlm}


def midllama_eval(build, mlm, text, ctx, windows, threads):
    return json.loads(run([os.path.join(build, "bin", "midllama-run"), mlm, "--perplexity",
                           text, "--ctx", str(ctx), "--max-windows", str(windows),
                           "--threads", str(threads), "--json", "-"]).stdout)["eval_tokens_per_s"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--text", default=os.path.join(ROOT, "data", "tinystories", "eval.txt"))
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    big = os.path.join(a.work, "llama-100m")
    if not os.path.exists(os.path.join(big, "model.onnx")):
        run(["python3", os.path.join(HERE, "make_llama_onnx.py"), big])
    models = [
        ("stories260K", os.path.join(ROOT, "test", "Import", "ONNX", "Inputs",
                                     "stories260K-torch-kv-fp32", "model.onnx"),
         os.path.join(ROOT, "models", "stories260K", "tok512.bin"), 512, 256, 200, 5, 16, 7),
        ("llama-100m", os.path.join(big, "model.onnx"),
         os.path.join(ROOT, "models", "llama2-tokenizer", "tokenizer.bin"),
         32000, 256, 64, 3, 4, 7),
    ]
    results = []
    for name, path, tokenizer, vocab, ctx, steps, repeat, windows, rounds in models:
        prompt = [1] + list(range(100, 131))  # 32 tokens
        print(f"{name}: ONNX Runtime ...", flush=True)
        s = ort_session(path, a.threads)
        ort_dec = ort_decode(s, prompt, steps, repeat)
        print(f"{name}: midllama ...", flush=True)
        ours = midllama(a.build, a.work, name, path, tokenizer, a.threads, prompt, steps, repeat,
                        a.text, ctx, windows)
        print(f"{name}: evaluation, {rounds} alternating rounds ...", flush=True)
        ort_rates, our_rates = [], []
        for i in range(rounds):
            ort_rates.append(ort_eval(s, vocab, ctx, windows, 1, seed=i))
            our_rates.append(midllama_eval(a.build, ours["mlm"], a.text, ctx, windows, a.threads))
        ort_ev, ours["eval"] = statistics.median(ort_rates), statistics.median(our_rates)
        ours["eval_rounds"] = our_rates
        params = sum(os.path.getsize(f) for f in [path + ".data"] if os.path.exists(f))
        results.append({"model": name, "threads": a.threads, "onnx_weight_bytes": params,
                        "decode_steps": steps, "repeat": repeat, "ctx": ctx, "windows": windows,
                        "ort_decode_tokens_per_s": ort_dec, "ort_eval_tokens_per_s": ort_ev,
                        "midllama_decode_tokens_per_s": ours["decode"],
                        "midllama_eval_tokens_per_s": ours["eval"],
                        "decode_ratio": ours["decode"] / ort_dec,
                        "ort_eval_rounds": ort_rates,
                        "eval_ratio": statistics.median(o / r for o, r in zip(our_rates, ort_rates)),
                        "midllama": ours})
    print(f"\nCPU, {a.threads} threads, onnxruntime {ort.__version__}")
    print(f"{'model':<14}{'ORT decode':>12}{'ours':>10}{'ratio':>8}{'ORT eval':>12}{'ours':>10}"
          f"{'ratio':>8}")
    for r in results:
        print(f"{r['model']:<14}{r['ort_decode_tokens_per_s']:>12.1f}"
              f"{r['midllama_decode_tokens_per_s']:>10.1f}{r['decode_ratio']:>8.2f}"
              f"{r['ort_eval_tokens_per_s']:>12.1f}{r['midllama_eval_tokens_per_s']:>10.1f}"
              f"{r['eval_ratio']:>8.2f}")
    json.dump({"onnxruntime": ort.__version__, "threads": a.threads, "results": results},
              open(a.out, "w"), indent=1)
    print(f"(JSON: {a.out}; tokens/s; ratio = midllama / ONNX Runtime)")


if __name__ == "__main__":
    main()
