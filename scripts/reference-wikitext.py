#!/usr/bin/env python3
"""lm-evaluation-harness's `wikitext` task on the pages midllama-eval scores (issue 17).

    python3 scripts/reference-wikitext.py --data data/wikitext2/wiki.test.raw --golden FILE
    python3 scripts/reference-wikitext.py --data data/wikitext2/wiki.test.raw \
        --model ~/.cache/midllama/models/smollm2/hf-from-gguf --out DIR [--limit N]

--golden writes what test/unittests/runtime/WikitextTest.cpp checks midllama against, with
no model: for every page (the raw file split before each level-1 heading, as
runtime/eval/Wikitext.cpp does: the harness's EleutherAI/wikitext_document_level dataset
cannot be fetched here) the FNV-1a 64 of the page, of the harness's own
wikitext_detokenizer(page), and its word and byte counts from the harness's
process_results; and the harness's rolling windows (lm_eval.utils) for small token lists.

Otherwise: writes DIR/pages.jsonl ({"page": ...}, the first --limit pages), a harness task
that is its `wikitext` task with only the dataset replaced (its preprocess_wikitext.py
copied beside), runs `lm_eval` with transformers (fp32, CPU) and writes DIR/reference.json.
Not part of CI; needs torch, transformers, lm-eval (measured with lm-eval 0.4.13,
transformers 4.57.6, torch 2.15.0).
"""
import argparse
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evalreference import add_model_arguments, model_args  # noqa: E402


def pages_of(raw):
    """runtime/eval/Wikitext.cpp's wikitextPages."""
    pages, page, any_line = [], "", False
    for line in raw.split("\n"):
        heading = line.startswith(" = ") and not line.startswith(" = = ")
        if heading and any_line and page.strip():
            pages.append(page)
            page, any_line = "", False
        page += ("\n" if any_line else "") + line
        any_line = True
    if page.strip():
        pages.append(page)
    return pages


def fnv1a(text):
    h = 0xcbf29ce484222325
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x100000001b3) & ((1 << 64) - 1)
    return "%016x" % h


def harness_module():
    import lm_eval
    return os.path.join(os.path.dirname(lm_eval.__file__), "tasks", "wikitext")


def golden(a, pages):
    sys.path.insert(0, harness_module())
    import preprocess_wikitext as pw
    from lm_eval.utils import get_rolling_token_windows, make_disjoint_window
    out = {"pages": []}
    for p in pages:
        r = pw.process_results({"page": p}, [0.0])
        out["pages"].append({"page": fnv1a(p), "detokenized": fnv1a(pw.wikitext_detokenizer({"page": p})),
                             "words": r["word_perplexity"][1], "bytes": r["byte_perplexity"][1]})
    out["windows"] = []
    for n, max_len in ((1, 4), (4, 4), (5, 4), (9, 4), (10, 3), (7, 1)):
        tokens = list(range(100, 100 + n))
        wins = [make_disjoint_window(w) for w in get_rolling_token_windows(
            token_list=tokens, prefix_token=7, max_seq_len=max_len, context_len=1)]
        # The model's input and the scored tokens, as the HF model builds them.
        out["windows"].append({"n": n, "max_length": max_len, "prefix": 7, "windows": [
            {"input": (c + w)[-(max_len + 1):][:-1], "scored": w} for c, w in wins]})
    with open(a.golden, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"reference-wikitext: {len(pages)} pages -> {a.golden}", file=sys.stderr)


TASK = """task: midllama_wikitext
dataset_path: json
dataset_kwargs:
  data_files:
    test: {pages}
test_split: test
output_type: loglikelihood_rolling
doc_to_text: ""
doc_to_target: !function preprocess_wikitext.wikitext_detokenizer
process_results: !function preprocess_wikitext.process_results
metric_list:
  - metric: word_perplexity
  - metric: byte_perplexity
  - metric: bits_per_byte
"""


def reference(a, pages):
    os.makedirs(os.path.join(a.out, "tasks"), exist_ok=True)
    path = os.path.abspath(os.path.join(a.out, "pages.jsonl"))
    with open(path, "w", encoding="utf-8") as f:
        for p in pages:
            f.write(json.dumps({"page": p}) + "\n")
    tasks = os.path.join(a.out, "tasks")
    shutil.copy(os.path.join(harness_module(), "preprocess_wikitext.py"), tasks)
    with open(os.path.join(tasks, "midllama_wikitext.yaml"), "w") as f:
        f.write(TASK.format(pages=path))
    import lm_eval
    from lm_eval.tasks import TaskManager
    args = model_args(a, f",max_length={a.max_length}" if a.max_length else "")
    results = lm_eval.simple_evaluate(model="hf", model_args=args, tasks=["midllama_wikitext"],
                                      batch_size=1, device="cpu",
                                      task_manager=TaskManager(include_path=tasks))
    r = results["results"]["midllama_wikitext"]
    out = {"lm_eval": lm_eval.__version__, "model": a.model, "pages": len(pages),
           "word_perplexity": r["word_perplexity,none"],
           "byte_perplexity": r["byte_perplexity,none"], "bits_per_byte": r["bits_per_byte,none"]}
    with open(os.path.join(a.out, "reference.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--golden")
    add_model_arguments(ap)
    ap.add_argument("--out")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--max-length", type=int, default=0)
    a = ap.parse_args()
    with open(a.data, encoding="utf-8") as f:
        pages = pages_of(f.read())
    if a.limit:
        pages = pages[:a.limit]
    if a.golden:
        golden(a, pages)
    elif a.model and a.out:
        reference(a, pages)
    else:
        ap.error("give --golden FILE, or --model DIR and --out DIR")


if __name__ == "__main__":
    main()
