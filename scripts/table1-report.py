#!/usr/bin/env python3
"""docs/table1.md, docs/table1.json and the two figures of the seed paper's Table 1, from the
measurements scripts/table1.sh leaves in a results directory (issue 17).

    python3 scripts/table1-report.py --results DIR --rows "fp32 nf4-b64 ..." \
        --mmlu-tag mmlu-s0.05 --bbh-tag bbh-s0.02 --hellaswag-tag hellaswag-s0.02 \
        --out docs [--caveat TEXT] [--previous docs/table1.json | --earlier docs/table1.json]
        [--vram docs/data/table1-vram.json]

Per row NAME it reads DIR/NAME.wikitext2.json (midllama-run --perplexity), and
DIR/NAME.<mmlu-tag>.json, DIR/NAME.<bbh-tag>.json, DIR/NAME.<hellaswag-tag>.json
(midllama-eval --json); a missing file
leaves its cells empty ("—"), never invented. --vram: a GPU run's table1-vram.json
(bench/cuda/run-on-device.sh; kept as docs/data/table1-vram.json) adds the peak VRAM
column. Figures (matplotlib, SVG and PNG):
docs/figures/table1-memory-vs-time.{svg,png} (peak memory against the total benchmark time,
one labelled point per recipe) and docs/figures/table1-compression.{svg,png} (compression
ratio, base / compressed, of the weight bytes and of the peak memory).
"""
import argparse
import datetime
import json
import os
import platform

MB = 1e6


def load(path):
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def add_tasks(row, mmlu, bbh, hellaswag):
    """The task cells of `row` from midllama-eval's JSON (None: left as they are)."""
    if mmlu:
        row.update(mmlu_acc=mmlu["acc"], mmlu_stderr=mmlu["acc_stderr"], mmlu_s=mmlu["seconds"],
                   mmlu_questions=mmlu["questions"])
    if bbh:
        row.update(bbh_em=bbh["exact_match"], bbh_stderr=bbh["exact_match_stderr"],
                   bbh_s=bbh["seconds"], bbh_questions=bbh["questions"])
    if hellaswag:
        row.update(hellaswag_acc_norm=hellaswag["acc_norm"],
                   hellaswag_stderr=hellaswag["acc_norm_stderr"],
                   hellaswag_s=hellaswag["seconds"], hellaswag_items=hellaswag["items"])


def row_of(results, name, tags):
    wiki = load(os.path.join(results, f"{name}.wikitext2.json"))
    mmlu, bbh, hellaswag = (load(os.path.join(results, f"{name}.{t}.json")) for t in tags)
    compress = load(os.path.join(results, f"{name}.compress.json"))
    generate = load(os.path.join(results, f"{name}.generate.json"))
    if wiki is None or generate is None:
        return None
    p = wiki["protocol"]
    # The perplexity run's time: the tokens it ran (windows of ctx) at its measured rate.
    wiki_s = p["windows"] * p["ctx"] / wiki["eval_tokens_per_s"]
    peaks = [r["peak_rss_bytes"] for r in (wiki, mmlu, bbh, hellaswag) if r]
    # The model's memory: the generation run's peak (the model alone, a short session);
    # the WikiText-2 run also maps the fp32 model (for KL), and the task runs size their
    # sessions for the model's whole context (KV cache and logits buffers for BBH's long
    # prompts): kept apart.
    row = {
        "recipe": name,
        "bits_per_parameter": wiki["bits_per_parameter"],
        "artifact_bytes": wiki["artifact_bytes"],
        "weight_bytes": wiki["weight_bytes_total"],
        "peak_rss_bytes": generate["peak_rss_bytes"],
        "peak_rss_all_runs_bytes": max(peaks),
        "wikitext2_ppl": wiki["perplexity"],
        "wikitext2_s": wiki_s,
        "compress_s": compress["compress_s"] if compress else None,
    }
    add_tasks(row, mmlu, bbh, hellaswag)
    row["benchmark_s"] = (wiki_s + row.get("mmlu_s", 0) + row.get("bbh_s", 0) +
                          row.get("hellaswag_s", 0))
    return row


def fill(row, results, tags):
    """An earlier row with the task cells it lacks taken from `results`."""
    row = dict(row)
    name = row["recipe"]
    fresh = {}
    for key, tag in zip(("mmlu_acc", "bbh_em", "hellaswag_acc_norm"), tags):
        if row.get(key) is None and load(os.path.join(results, f"{name}.{tag}.json")):
            fresh[key] = tag
    if not fresh:
        return row
    mmlu, bbh, hellaswag = (load(os.path.join(results, f"{name}.{t}.json")) if t in
                            fresh.values() else None for t in tags)
    add_tasks(row, mmlu, bbh, hellaswag)
    peaks = [row["peak_rss_all_runs_bytes"]] + [r["peak_rss_bytes"] for r in (mmlu, bbh, hellaswag) if r]
    row["peak_rss_all_runs_bytes"] = max(peaks)
    row["benchmark_s"] = (row["wikitext2_s"] + row.get("mmlu_s", 0) + row.get("bbh_s", 0) +
                          row.get("hellaswag_s", 0))
    return row


def cell(row, key, fmt, err=None):
    if row.get(key) is None:
        return "—"
    s = fmt.format(row[key])
    return s + (" ± " + fmt.format(row[err]) if err and row.get(err) is not None else "")


def add_vram(rows, vram):
    """Each row's GPU memory from a device run's table1-vram.json (rows it lacks: "—")."""
    for r in rows:
        v = vram["rows"].get(r["recipe"])
        if v:
            r["vram_bytes"] = v["process_bytes"]
            r["vram_arena_bytes"] = v.get("arena_bytes")


def markdown(rows, a, protocol, vram=None):
    gpu = vram is not None
    mem = ("CPU backend (memory is RAM; the VRAM column below was measured on a GPU)" if gpu
           else "CPU backend (no GPU: memory is RAM, not VRAM)")
    lines = [
        "# Table 1 on SmolLM2-135M-Instruct",
        "",
        "The seed paper's Table 1 (size on disk, memory, WikiText-2 perplexity and its time, "
        "MMLU and its time, BBH), with HellaSwag added, for SmolLM2-135M-Instruct and midllama's recipes, made by "
        "`scripts/table1.sh` (which runs `scripts/results-smollm2.sh`, then `midllama-eval` "
        "on every recipe's artifact, then `scripts/table1-report.py`). Every number is "
        "measured by the tools; a dash is a measurement not made.",
        "",
        f"Measured {a.date} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} cores, {mem}. Peak RAM: "
        "the peak RSS of a greedy generation of 64 tokens (the model alone: weights, "
        "buffers, KV cache); peak RAM, tasks: the largest of the WikiText-2 (which also maps "
        "the fp32 model, for KL), MMLU, BBH and HellaSwag runs (their KV cache and logits "
        "buffers cost what the longest prompt fills). Size on disk: "
        "the compiled artifact (.mlm). Times: wall seconds of each run (WikiText-2: the "
        "tokens it ran at its measured throughput).",
    ]
    if gpu:
        lines += [
            "",
            f"Peak VRAM: measured {vram.get('date', '(undated)')} on {vram['device']} by "
            "`bench/cuda/run-on-device.sh` (kit: `bench/cuda/prepare-table1-vram-kit.sh`): "
            "the GPU memory the process held during the same greedy generation of 64 tokens "
            "(nvidia-smi's memory.used polled every 50 ms, its peak less the value before the "
            "run: the CUDA context and kernel image, and midllama's one arena of weights, KV "
            "cache and activations), each recipe compiled for the GPU with "
            "`--synthetic-weights`: its exact tensors (pruned weights' kept counts, LLM.int8()'s "
            "outlier columns), generated values. The arena alone, per recipe: " +
            ", ".join(f"{r['recipe']} {r['vram_arena_bytes'] / MB:.1f} MB" for r in rows
                      if r.get("vram_arena_bytes")) + ".",
        ]
    vram_head, vram_rule = (" peak VRAM (MB) |", "---:|") if gpu else ("", "")
    lines += [
        "",
        "| recipe | bits/param | size on disk (MB) | peak RAM (MB) |" + vram_head +
        " WikiText-2 ppl | time (s) "
        "| MMLU acc | time (s) | BBH exact match | time (s) | HellaSwag acc_norm | time (s) "
        "| peak RAM, tasks (MB) |",
        "|---|---:|---:|---:|" + vram_rule + "---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        mark = " †" if r.get("earlier") else ""
        vcell = (f" {r['vram_bytes'] / MB:.0f} |" if r.get("vram_bytes") is not None
                 else " — |") if gpu else ""
        lines.append(
            f"| {r['recipe']}{mark} | {r['bits_per_parameter']:.2f} | {r['artifact_bytes'] / MB:.1f} "
            f"| {r['peak_rss_bytes'] / MB:.0f} |{vcell} {r['wikitext2_ppl']:.2f} | {r['wikitext2_s']:.0f} "
            f"| {cell(r, 'mmlu_acc', '{:.4f}', 'mmlu_stderr')} | {cell(r, 'mmlu_s', '{:.0f}')} "
            f"| {cell(r, 'bbh_em', '{:.4f}', 'bbh_stderr')} | {cell(r, 'bbh_s', '{:.0f}')} "
            f"| {cell(r, 'hellaswag_acc_norm', '{:.4f}', 'hellaswag_stderr')} "
            f"| {cell(r, 'hellaswag_s', '{:.0f}')} "
            f"| {r['peak_rss_all_runs_bytes'] / MB:.0f} |")
    lines += ["", "Protocols:", ""] + [f"- {p}" for p in protocol]
    lines += [
        "",
        "The scoring against lm-evaluation-harness 0.4.13 with transformers on the same "
        "(dequantized fp32) weights and the same items (docs/compile-and-run.md has the "
        "commands): MMLU 0-shot, 306 questions, acc 0.2386 ± 0.0244 on both; HellaSwag, 503 "
        "items, acc_norm 0.3976 ± 0.0218 on both (every item's outcome equal); WikiText word "
        "perplexity 28.5703 against 28.5701 (4 pages, 18,601 tokens); BBH, 78 questions, "
        "exact match 0.1026 against 0.1154 (one question apart, within one standard error).",
    ]
    if a.caveat:
        lines += ["", a.caveat]
    earlier = sorted({r["earlier"] for r in rows if r.get("earlier")})
    if earlier:
        lines += ["", "† Rows kept from an earlier table (" + ", ".join(earlier) + ", "
                  "`--earlier`): this run did not measure them; their binaries and machine "
                  "load were that table's, so their times compare with each other, not with "
                  "the rows above."]
    lines += [
        "",
        "![peak memory against total benchmark time](figures/table1-memory-vs-time.svg)",
        "",
        "![compression ratio per recipe](figures/table1-compression.svg)",
        "",
    ]
    return "\n".join(lines)


def figures(rows, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figdir = os.path.join(out, "figures")
    os.makedirs(figdir, exist_ok=True)
    matplotlib.rcParams["svg.hashsalt"] = "midllama"  # stable ids: reproducible SVGs
    matplotlib.rcParams["svg.fonttype"] = "none"

    fig, ax = plt.subplots(figsize=(8, 5.5))
    # A total needs every benchmark.
    timed = [r for r in rows if "mmlu_s" in r and "bbh_s" in r and "hellaswag_s" in r]
    colors = plt.get_cmap("tab20").colors  # 12 recipes: the default 10-color cycle repeats
    for i, r in enumerate(timed):
        name = r["recipe"] + (" †" if r.get("earlier") else "")  # † an earlier run's times
        ax.scatter(r["benchmark_s"] / 60, r["peak_rss_bytes"] / MB, s=40,
                   marker="^" if r.get("earlier") else "o",
                   color=colors[(2 * i) % 20 + (2 * i) // 20],
                   label=f"{name} ({r['bits_per_parameter']:.1f} bits/param)")
        ax.annotate(name, (r["benchmark_s"] / 60, r["peak_rss_bytes"] / MB),
                    textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xlabel("total benchmark time: WikiText-2 + MMLU + BBH + HellaSwag "
                  "(minutes, CPU backend)")
    ax.set_ylabel("peak memory (MB, RSS)")
    ax.set_title("SmolLM2-135M-Instruct: memory against benchmark time "
                 f"({len(timed)} of {len(rows)} recipes have all four benchmarks)", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    for ext in ("svg", "png"):
        fig.savefig(os.path.join(figdir, f"table1-memory-vs-time.{ext}"), dpi=120,
                    metadata={"Date": None} if ext == "svg" else None)
    plt.close(fig)

    base = next((r for r in rows if r["recipe"] == "fp32"), rows[0])
    names = [r["recipe"] for r in rows]
    weights = [base["weight_bytes"] / r["weight_bytes"] for r in rows]
    peaks = [base["peak_rss_bytes"] / r["peak_rss_bytes"] for r in rows]
    fig, ax = plt.subplots(figsize=(9, 5))
    x = range(len(rows))
    ax.bar([i - 0.2 for i in x], weights, width=0.4, label="weight bytes")
    ax.bar([i + 0.2 for i in x], peaks, width=0.4, label="peak memory (RSS)")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(list(x))
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(f"compression ratio ({base['recipe']} / recipe, ×)")
    ax.set_title("SmolLM2-135M-Instruct: compression ratio per recipe")
    ax.legend()
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    for ext in ("svg", "png"):
        fig.savefig(os.path.join(figdir, f"table1-compression.{ext}"), dpi=120,
                    metadata={"Date": None} if ext == "svg" else None)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--rows", required=True)
    ap.add_argument("--mmlu-tag", required=True)
    ap.add_argument("--bbh-tag", required=True)
    ap.add_argument("--hellaswag-tag", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--caveat", default="")
    ap.add_argument("--date", default=datetime.date.today().isoformat())
    ap.add_argument("--previous", help="an earlier table1.json: its rows are kept as they "
                    "are, only their missing task cells filled from --results (a row's "
                    "measurements then all come from the runs that made them)")
    ap.add_argument("--earlier", help="an earlier table1.json: rows this run has no "
                    "WikiText-2 result for are taken from it whole, marked † with its date")
    ap.add_argument("--vram", help="a GPU run's table1-vram.json (bench/cuda/"
                    "run-on-device.sh): adds the peak VRAM column")
    a = ap.parse_args()
    tags = (a.mmlu_tag, a.bbh_tag, a.hellaswag_tag)
    previous = {r["recipe"]: r for r in load(a.previous)["rows"]} if a.previous else {}
    earlier = {}
    if a.earlier:
        e = load(a.earlier)
        earlier = {r["recipe"]: dict(r, earlier=r.get("earlier") or e["date"]) for r in e["rows"]}
    def make(n):
        if n in previous:
            return fill(previous[n], a.results, tags)
        return row_of(a.results, n, tags) or earlier.get(n)
    rows = [r for r in map(make, a.rows.split()) if r]
    if not rows:
        raise SystemExit("table1-report: no row has its WikiText-2 result in " + a.results)
    protocol = list(load(a.previous)["protocol"]) if a.previous else []
    if any(r.get("earlier") for r in rows):
        protocol += [p for p in load(a.earlier)["protocol"] if p not in protocol]
    for name in a.rows.split():
        for tag in tags:
            r = load(os.path.join(a.results, f"{name}.{tag}.json"))
            line = r and r["protocol"] + f" ({r.get('questions', r.get('items'))} questions)"
            if r and line not in protocol:
                protocol.append(line)
        w = load(os.path.join(a.results, f"{name}.wikitext2.json"))
        if w and not any(p.startswith("WikiText-2") for p in protocol):
            p = w["protocol"]
            protocol.insert(0, f"WikiText-2 test perplexity: ctx {p['ctx']}, stride "
                               f"{p['stride']}, first {p['windows']} windows "
                               f"({p['predicted_tokens']} predicted tokens); time = tokens "
                               "run / measured throughput")
    vram = load(a.vram) if a.vram else None
    if a.vram and vram is None:
        raise SystemExit("table1-report: no " + a.vram)
    if vram:
        add_vram(rows, vram)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "table1.md"), "w", encoding="utf-8") as f:
        f.write(markdown(rows, a, protocol, vram))
    with open(os.path.join(a.out, "table1.json"), "w", encoding="utf-8") as f:
        out = {"date": a.date, "rows": rows, "protocol": protocol}
        if vram:
            out["vram"] = {k: vram.get(k) for k in ("date", "device", "protocol")}
        json.dump(out, f, indent=1)
        f.write("\n")
    figures(rows, a.out)
    print(f"table1-report: {len(rows)} rows -> {a.out}/table1.md, table1.json, figures/")


if __name__ == "__main__":
    main()
