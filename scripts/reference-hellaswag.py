#!/usr/bin/env python3
"""lm-evaluation-harness's HellaSwag on the items midllama-eval scores (issue 17).

    python3 scripts/reference-hellaswag.py --data data/eval/hellaswag/hellaswag_val.jsonl \
        --golden test/unittests/runtime/Inputs/hellaswag-harness-golden.json
    python3 scripts/reference-hellaswag.py --data data/eval/hellaswag/hellaswag_val.jsonl \
        --subset 0.05 --seed 1234 --model HF_DIR --add-bos-token False --out DIR

--golden: the harness's own `process_docs` (lm_eval/tasks/hellaswag/utils.py) applied to
the items the unit test checks (the first ones, and every one with brackets or double
spaces, which its preprocess rewrites): their query, choices and gold, and one FNV-1a
hash over every item's (each query, choice and gold followed by a line break), for
test/unittests/runtime/HellaswagTest.cpp to compare byte for byte.

--model/--out: writes the items `midllama-eval --task hellaswag --subset F --seed S` keeps
as DIR/hellaswag.jsonl and runs the installed harness's `hellaswag` task on them (its
yaml and process_docs, only the dataset replaced by that file) with transformers (fp32,
CPU); writes DIR/reference.json (acc, acc_norm, their stderr) and DIR/samples.jsonl (each
item's log-likelihoods). Not part of CI; needs torch, transformers, lm-eval (measured with
lm-eval 0.4.13, transformers 4.57.6, torch 2.15.0).
"""
import argparse
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evalreference import add_model_arguments, model_args, subset_of  # noqa: E402

NAME = "hellaswag"  # the subset's key, as midllama-eval's HellaswagTask.cpp uses it


def read_items(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def harness_dir():
    import lm_eval
    return os.path.join(os.path.dirname(lm_eval.__file__), "tasks", "hellaswag")


def golden(a):
    sys.path.insert(0, harness_dir())
    import datasets
    import utils  # the harness's lm_eval/tasks/hellaswag/utils.py, imported, not copied
    items = read_items(a.data)
    picked = [i for i, it in enumerate(items)
              if i < 8 or "[" in it["ctx_a"] + it["ctx_b"] + "".join(it["endings"])
              or "  " in it["ctx_a"] + "".join(it["endings"])]
    docs = datasets.Dataset.from_list(
        [{"activity_label": items[i]["activity_label"], "ctx_a": items[i]["ctx_a"],
          "ctx_b": items[i]["ctx_b"], "endings": items[i]["endings"],
          "label": str(items[i]["label"])} for i in picked])
    out = [{"index": i, "query": d["query"], "choices": d["choices"], "gold": d["gold"]}
           for i, d in zip(picked, utils.process_docs(docs))]
    # Every item, as one FNV-1a hash of its query, choices and gold, one per line.
    everything = datasets.Dataset.from_list(
        [{"activity_label": it["activity_label"], "ctx_a": it["ctx_a"], "ctx_b": it["ctx_b"],
          "endings": it["endings"], "label": str(it["label"])} for it in items])
    h = 0xCBF29CE484222325
    for d in utils.process_docs(everything):
        for c in "\n".join([d["query"], *d["choices"], str(d["gold"])]).encode() + b"\n":
            h = ((h ^ c) * 0x100000001B3) & ((1 << 64) - 1)
    # Preprocess cases beyond the data: the regex is non-greedy and needs a closing bracket.
    extra = ["  a [x] b [y] c  ", "open [bracket", "[a]]b", "x [title] y", "a   b", ""]
    with open(a.golden, "w", encoding="utf-8") as f:
        json.dump({"items": out, "preprocess": [[t, utils.preprocess(t)] for t in extra],
                   "all_items": len(items), "all_items_fnv1a64": f"{h:016x}"}, f,
                  indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"reference-hellaswag: {len(out)} items -> {a.golden}", file=sys.stderr)


TASK = """include: {include}
task: midllama_hellaswag
dataset_path: json
dataset_name: null
dataset_kwargs:
  data_files:
    validation: {data}
training_split: null
process_docs: !function utils.process_docs
"""


def reference(a):
    items = read_items(a.data)
    keep = subset_of(NAME, len(items), a.subset, a.seed)
    tasks_dir = os.path.join(a.out, "tasks")
    os.makedirs(tasks_dir, exist_ok=True)
    data = os.path.abspath(os.path.join(a.out, "hellaswag.jsonl"))
    with open(data, "w", encoding="utf-8") as f:
        for i in keep:
            f.write(json.dumps(dict(items[i], label=str(items[i]["label"]), doc=i),
                               ensure_ascii=False) + "\n")
    with open(os.path.join(tasks_dir, "midllama_hellaswag.yaml"), "w") as f:
        f.write(TASK.format(include=os.path.join(harness_dir(), "hellaswag.yaml"), data=data))
    with open(os.path.join(tasks_dir, "utils.py"), "w") as f:
        f.write("from lm_eval.tasks.hellaswag.utils import process_docs  # noqa: F401\n")
    print(f"reference-hellaswag: {len(keep)} of {len(items)} items -> {data}", file=sys.stderr)

    import lm_eval
    from lm_eval.tasks import TaskManager
    results = lm_eval.simple_evaluate(
        model="hf", model_args=model_args(a), tasks=["midllama_hellaswag"],
        batch_size=a.batch_size, device="cpu", log_samples=True,
        task_manager=TaskManager(include_path=tasks_dir))
    rows = sorted(results["samples"]["midllama_hellaswag"], key=lambda r: r["doc"]["doc"])
    with open(os.path.join(a.out, "samples.jsonl"), "w", encoding="utf-8") as s:
        for r in rows:
            s.write(json.dumps({"doc": r["doc"]["doc"],
                                "loglikelihoods": [x[0] for x in r["filtered_resps"]],
                                "acc": r["acc"], "acc_norm": r["acc_norm"]}) + "\n")
    res = results["results"]["midllama_hellaswag"]
    n = len(rows)
    out = {"lm_eval": lm_eval.__version__, "model": a.model, "subset": a.subset,
           "seed": a.seed, "items": n, "acc": res["acc,none"],
           "acc_stderr": res["acc_stderr,none"], "acc_norm": res["acc_norm,none"],
           "acc_norm_stderr": res["acc_norm_stderr,none"]}
    with open(os.path.join(a.out, "reference.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="hellaswag_val.jsonl")
    ap.add_argument("--golden")
    add_model_arguments(ap)
    ap.add_argument("--out")
    ap.add_argument("--subset", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--batch-size", type=int, default=8)
    a = ap.parse_args()
    if a.golden:
        golden(a)
    elif a.model and a.out:
        if not math.isfinite(a.subset) or not 0 < a.subset <= 1:
            ap.error("--subset must be in (0, 1]")
        reference(a)
    else:
        ap.error("give --golden FILE, or --model DIR and --out DIR")


if __name__ == "__main__":
    main()
