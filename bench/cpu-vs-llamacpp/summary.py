#!/usr/bin/env python3
"""The table of docs/benchmarks.md from compare.py's JSON files (bench/cpu-vs-llamacpp).

Arguments: MODEL,THREADS=FILE for each run. Prints one row per run and one column per
format, "prefill / decode" medians of per-round ratios midllama / llama.cpp, bold where at
the issue's 1.5x goal; then the counts: medians at 1.0x or more, at 1.5x, rounds under 1.0x.
"""
import json
import sys

NAMES = {"smollm2": "SmolLM2", "llama100m": "100M shape"}


def cell(ratio):
    """The ratio to 2 decimals (4 where those would round it up onto 1.0x or 1.5x), and
    whether it is at the goal."""
    text = f"{ratio:.2f}x"
    if any(ratio < line <= round(ratio, 2) for line in (1.0, 1.5)):
        text = f"{ratio:.4f}x"
    return text, ratio >= 1.5


def main():
    runs = []
    for arg in sys.argv[1:]:
        label, path = arg.split("=", 1)
        model, threads = label.split(",")
        runs.append((model, threads, json.load(open(path))))
    if not runs:
        sys.exit("summary.py: give MODEL,THREADS=compare.json for each run")
    formats = [r["format"] for r in runs[0][2]["rows"]]
    print("| model, threads | " + " | ".join(formats) + " |")
    print("|---|" + "---|" * len(formats))
    medians = at_goal = rounds = under = 0
    for model, threads, data in runs:
        cells = []
        for row in data["rows"]:
            parts = [cell(row["prefill_ratio"]), cell(row["decode_ratio"])]
            cells.append(" / ".join(f"**{t}**" if goal else t for t, goal in parts))
            medians += sum(1 for m in ("prefill", "decode") if row[f"{m}_ratio"] >= 1.0)
            at_goal += sum(1 for _, goal in parts if goal)
        for name, measured in data["rounds"].items():
            for r in measured:
                for m in ("prefill", "decode"):
                    rounds += 1
                    under += r["midllama"][m] < r["llamacpp"][m]
        print(f"| {NAMES.get(model, model)}, {threads} | " + " | ".join(cells) + " |")
    total = 2 * len(formats) * len(runs)
    print(f"\n(bold: at the 1.5x goal.) {medians} of {total} medians at 1.0x or more, "
          f"{at_goal} at 1.5x; {under} of {rounds} rounds under 1.0x.")


if __name__ == "__main__":
    main()
