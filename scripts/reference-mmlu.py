#!/usr/bin/env python3
"""lm-evaluation-harness's MMLU on the same questions midllama-eval scores (issue 17).

    python3 scripts/reference-mmlu.py --data data/eval/mmlu --subset 0.1 --seed 1234 \
        --model ~/.cache/midllama/models/smollm2/hf-from-gguf --out DIR [--shots 0]

1. writes DIR/mmlu/{dev,test}/<subject>_*.csv: every dev question and the test questions
   `midllama-eval --subset F --seed S` keeps (the same SplitMix64/FNV-1a selection as
   runtime/eval/Subset.cpp, in scripts/evalreference.py), so that both tools score identical items;
2. writes one lm-evaluation-harness task per subject reading those CSVs, with the
   harness's own `mmlu` template (description, doc_to_text, choices A-D, first_n dev
   shots), and runs `lm_eval` with transformers (fp32, CPU) on them;
3. prints and writes DIR/reference.json: acc and acc_stderr per subject and over all
   questions (micro, as the harness's `mmlu` group).

Then `midllama-eval MODEL.mlm --task mmlu --data DIR/mmlu --shots N --json X` scores the same
items. Not part of CI; needs torch, transformers, lm-eval (measured with lm-eval 0.4.13,
transformers 4.57.6, torch 2.15.0).
"""
import argparse
import csv
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evalreference import add_model_arguments, model_args, subset_of  # noqa: E402


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[1:] if rows and rows[0] and rows[0][0] == "question" else rows


def write_rows(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["question", "choice0", "choice1", "choice2", "choice3", "answer"])
        for r in rows:
            w.writerow(r[:5] + [str("ABCD".index(r[5]) if r[5] in "ABCD" else r[5])])


TASK = """task: midllama_mmlu_{subject}
dataset_path: csv
dataset_kwargs:
  data_files:
    test: {test}
    dev: {dev}
test_split: test
fewshot_split: dev
fewshot_config:
  sampler: first_n
output_type: multiple_choice
description: "The following are multiple choice questions (with answers) about {topic}.\\n\\n"
doc_to_text: "{{{{question.strip()}}}}\\nA. {{{{choice0}}}}\\nB. {{{{choice1}}}}\\nC. {{{{choice2}}}}\\nD. {{{{choice3}}}}\\nAnswer:"
doc_to_choice: ["A", "B", "C", "D"]
doc_to_target: "{{{{answer | int}}}}"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    add_model_arguments(ap)
    ap.add_argument("--out", required=True)
    ap.add_argument("--subset", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--shots", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=8)
    a = ap.parse_args()
    if not a.model:
        ap.error("--model is required")
    mmlu = os.path.join(a.out, "mmlu")
    tasks_dir = os.path.join(a.out, "tasks")
    for d in (os.path.join(mmlu, "dev"), os.path.join(mmlu, "test"), tasks_dir):
        os.makedirs(d, exist_ok=True)
    subjects = sorted(f[:-len("_test.csv")] for f in os.listdir(os.path.join(a.data, "test"))
                      if f.endswith("_test.csv"))
    names = []
    for s in subjects:
        test = read_rows(os.path.join(a.data, "test", f"{s}_test.csv"))
        dev = read_rows(os.path.join(a.data, "dev", f"{s}_dev.csv"))
        keep = subset_of(s, len(test), a.subset, a.seed)
        test_path = os.path.join(mmlu, "test", f"{s}_test.csv")
        dev_path = os.path.join(mmlu, "dev", f"{s}_dev.csv")
        write_rows(test_path, [test[i] for i in keep])
        write_rows(dev_path, dev)
        with open(os.path.join(tasks_dir, f"{s}.yaml"), "w") as f:
            f.write(TASK.format(subject=s, test=os.path.abspath(test_path),
                                dev=os.path.abspath(dev_path), topic=s.replace("_", " ")))
        names.append(f"midllama_mmlu_{s}")
    print(f"reference-mmlu: {sum(len(read_rows(os.path.join(mmlu, 'test', s + '_test.csv'))) for s in subjects)} "
          f"questions in {len(subjects)} subjects written to {mmlu}", file=sys.stderr)

    import lm_eval
    from lm_eval.tasks import TaskManager
    results = lm_eval.simple_evaluate(
        model="hf", model_args=model_args(a), tasks=names,
        num_fewshot=a.shots, batch_size=a.batch_size, device="cpu",
        task_manager=TaskManager(include_path=tasks_dir))
    per = {}
    for s in subjects:
        r = results["results"][f"midllama_mmlu_{s}"]
        n = len(read_rows(os.path.join(mmlu, "test", f"{s}_test.csv")))
        per[s] = {"acc": r["acc,none"], "acc_stderr": r["acc_stderr,none"], "n": n}
    total = sum(p["n"] for p in per.values())
    correct = sum(round(p["acc"] * p["n"]) for p in per.values())
    acc = correct / total
    stderr = math.sqrt(acc * (1 - acc) * total / (total - 1)) / math.sqrt(total)
    out = {"lm_eval": lm_eval.__version__, "model": a.model, "shots": a.shots,
           "subset": a.subset, "seed": a.seed, "questions": total, "acc": acc,
           "acc_stderr": stderr, "acc_macro": sum(p["acc"] for p in per.values()) / len(per),
           "subjects": per}
    with open(os.path.join(a.out, "reference.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps({k: v for k, v in out.items() if k != "subjects"}))


if __name__ == "__main__":
    main()
