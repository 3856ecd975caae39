#!/usr/bin/env python3
"""lm-evaluation-harness's BBH (bbh_cot_fewshot) on the items midllama-eval scores (issue 17).

    python3 scripts/reference-bbh.py --data data/eval/bbh --golden FILE
    python3 scripts/reference-bbh.py --data data/eval/bbh --subset 0.02 --seed 1234 \
        --model ~/.cache/midllama/models/smollm2/hf-from-gguf --out DIR [--max-gen-tokens N] \
        [--add-bos-token False]

--golden writes what test/unittests/runtime/BbhTest.cpp checks midllama against, with no
model: the harness's own prompt (its task configuration, its few-shot context builder) for
the first item of every task, and its `get-answer` filter (the RegexFilter of the task's
configuration) applied to hand-written generations.

Otherwise: writes DIR/bbh/<task>.jsonl with the items `midllama-eval --subset F --seed S`
keeps (scripts/evalreference.py), one harness task per BBH task reading them (the installed
harness's bbh_cot_fewshot configuration, only the dataset replaced), runs `lm_eval` with
transformers (fp32, CPU, greedy, batch 1) and writes DIR/reference.json (exact match per
task and over all questions) and DIR/samples.jsonl (each question's generation and
extracted answer, to compare with `midllama-eval --samples`). Not part of CI; needs torch,
transformers, lm-eval (measured with lm-eval 0.4.13, transformers 4.57.6, torch 2.15.0).
"""
import argparse
import json
import math
import os
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evalreference import add_model_arguments, model_args, subset_of  # noqa: E402

# Generations whose extracted answer the golden records (the regex's corner cases: no
# cue, an empty line after it, a multi-byte last character, several cues, spaces).
ANSWER_CASES = [
    "So the answer is False.",
    "So the answer is (A).\nQ",
    "the answer is \nLater, the answer is  Yes .",
    "So the answer is 42",
    "I think so. So the answer is Straße",
    "no cue here.",
    "the answer is the answer is X.",
    "So the answer is .",
    "So the answer is x",
    "",
]


def harness_config(task):
    """The installed harness's bbh_cot_fewshot configuration of `task` (include resolved)."""
    import lm_eval
    d = os.path.join(os.path.dirname(lm_eval.__file__), "tasks", "bbh", "cot_fewshot")
    with open(os.path.join(d, f"{task}.yaml"), encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    with open(os.path.join(d, cfg.pop("include")), encoding="utf-8") as f:
        base = yaml.safe_load(f)
    base.update(cfg)
    return base


def tasks_of(data):
    return sorted(f[:-len(".json")] for f in os.listdir(data) if f.endswith(".json"))


def write_tasks(data, out, fraction, seed):
    """The subset as local datasets and one harness task per BBH task; their names."""
    bbh, tasks_dir = os.path.join(out, "bbh"), os.path.join(out, "tasks")
    os.makedirs(bbh, exist_ok=True)
    os.makedirs(tasks_dir, exist_ok=True)
    names = []
    for task in tasks_of(data):
        with open(os.path.join(data, f"{task}.json"), encoding="utf-8") as f:
            examples = json.load(f)["examples"]
        path = os.path.abspath(os.path.join(bbh, f"{task}.jsonl"))
        with open(path, "w", encoding="utf-8") as f:
            for i in subset_of(task, len(examples), fraction, seed):
                f.write(json.dumps(dict(examples[i], doc=i)) + "\n")
        cfg = harness_config(task)
        cfg.update(task=f"midllama_bbh_{task}", dataset_path="json", dataset_name=None,
                   dataset_kwargs={"data_files": {"test": path}})
        with open(os.path.join(tasks_dir, f"{task}.yaml"), "w", encoding="utf-8") as f:
            yaml.safe_dump(cfg, f, allow_unicode=True, width=1 << 30)
        names.append(cfg["task"])
    return names, tasks_dir


def golden(a):
    """Prompts built by the harness itself, and its filter's answers."""
    from lm_eval.tasks import TaskManager, get_task_dict
    from lm_eval.filters.extraction import RegexFilter
    names, tasks_dir = write_tasks(a.data, a.golden + ".d", 1.0, 0)
    tasks = get_task_dict(names, TaskManager(include_path=tasks_dir))
    prompts = {}
    for name in names:
        task = tasks[name]
        task.build_all_requests(limit=1, rank=0, world_size=1)
        inst = task.instances[0]
        prompts[name[len("midllama_bbh_"):]] = {"doc": inst.doc["doc"], "prompt": inst.args[0],
                                                "until": inst.args[1]["until"]}
    pattern = harness_config("boolean_expressions")["filter_list"][0]["filter"][0]
    f = RegexFilter(regex_pattern=pattern["regex_pattern"])
    answers = [[g, f.apply([[g]], [None])[0][0]] for g in ANSWER_CASES]
    with open(a.golden, "w", encoding="utf-8") as out:
        json.dump({"prompts": prompts, "answers": answers}, out, indent=1, ensure_ascii=False)
        out.write("\n")
    print(f"reference-bbh: {len(prompts)} prompts, {len(answers)} answers -> {a.golden}",
          file=sys.stderr)


def reference(a):
    names, tasks_dir = write_tasks(a.data, a.out, a.subset, a.seed)
    import lm_eval
    from lm_eval.tasks import TaskManager
    results = lm_eval.simple_evaluate(
        model="hf", model_args=model_args(a), tasks=names,
        batch_size=1, device="cpu", log_samples=True,
        gen_kwargs={"max_gen_toks": a.max_gen_tokens} if a.max_gen_tokens else None,
        task_manager=TaskManager(include_path=tasks_dir))
    per, outcomes = {}, []
    with open(os.path.join(a.out, "samples.jsonl"), "w", encoding="utf-8") as s:
        for name in names:
            task = name[len("midllama_bbh_"):]
            rows = sorted(results["samples"][name], key=lambda r: r["doc"]["doc"])
            em = [float(r["exact_match"]) for r in rows]
            outcomes += em
            per[task] = {"exact_match": sum(em) / len(em), "n": len(em)}
            for r in rows:
                s.write(json.dumps({"task": task, "doc": r["doc"]["doc"],
                                    "generation": r["resps"][0][0],
                                    "answer": r["filtered_resps"][0],
                                    "target": r["target"], "exact_match": r["exact_match"]},
                                   ensure_ascii=False) + "\n")
    n = len(outcomes)
    em = sum(outcomes) / n
    stderr = math.sqrt(sum((x - em) ** 2 for x in outcomes) / (n - 1) / n) if n > 1 else 0
    out = {"lm_eval": lm_eval.__version__, "model": a.model, "subset": a.subset,
           "seed": a.seed, "max_gen_toks": a.max_gen_tokens or 1024, "questions": n,
           "exact_match": em, "exact_match_stderr": stderr,
           "exact_match_macro": sum(p["exact_match"] for p in per.values()) / len(per),
           "tasks": per}
    with open(os.path.join(a.out, "reference.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps({k: v for k, v in out.items() if k != "tasks"}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--golden")
    add_model_arguments(ap)
    ap.add_argument("--out")
    ap.add_argument("--subset", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--max-gen-tokens", type=int, default=0,
                    help="the harness's max_gen_toks (default: the task's, 1024)")
    a = ap.parse_args()
    if a.golden:
        golden(a)
    elif a.model and a.out:
        reference(a)
    else:
        ap.error("give --golden FILE, or --model DIR and --out DIR")


if __name__ == "__main__":
    main()
