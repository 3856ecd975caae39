#!/usr/bin/env python3
"""HellaSwag validation in its own jsonl layout, rebuilt from llama.cpp's text format (issue 17).

    python3 scripts/hellaswag-from-llamacpp.py ../shared/data/eval/hellaswag/hellaswag_val_full.txt.bz2 \
        data/eval/hellaswag/hellaswag_val.jsonl

The only copy of HellaSwag reachable here is llama.cpp's `hellaswag_val_full.txt`
(klosax/hellaswag_text_data): six lines per item, "<activity_label>: <ctx>", the gold
index, the four endings. lm-evaluation-harness builds its prompt from the original jsonl's
fields (rowanz/hellaswag, `Rowan/hellaswag` on the hub):

    preprocess(activity_label + ": " + ctx_a + " " + ctx_b.capitalize())

so the split of `ctx` into `ctx_a` and `ctx_b` matters: ActivityNet items end in an
incomplete lower-case noun phrase held in `ctx_b` ("A man is sitting on a roof." / "he"),
which the harness capitalizes; WikiHow items have an empty `ctx_b`. This script restores
the split: `ctx_b` is the text after the last sentence end (". ", "? ", "! ", or a quote
then a space) when that text starts with a lower-case letter or a digit, else empty.
Checked on the whole file: 3243 items are split, exactly those whose activity label is an
ActivityNet activity (the other 6799 carry one of 19 WikiHow category labels), and on the
first ten items, whose original records are quoted in public code (inds 24-182), the
split equals the original's. Four items (two
"Playing saxophone", one "Getting a piercing", one "Playing lacrosse") have numbered
sentences ("1 a guy is playing the saxophone. 2 a guy"): their `ctx_b` starts with the
digit, which capitalize() leaves as it is; had the original split before the digit, the
harness's prompt would differ in one letter's case.

The text format already had " [title]" replaced by ". " and the "[header]"/"[step]" tags
removed; the harness's preprocess (applied by both midllama-eval and the harness to these
fields) removes the remaining bracketed spans as it does on the original.

Written: one JSON object per line, {"ind", "activity_label", "ctx_a", "ctx_b", "endings",
"label", "split": "val"}, `ind` the item's position in the text file (the original
dataset ids are not in it). Standard library only; deterministic.
"""
import bz2
import json
import re
import sys

# The last sentence end of the context and what follows it, when that is a lower-case or
# numbered fragment (ActivityNet's ctx_b).
FRAGMENT = re.compile(r"^(.*[.?!\"'])\s([a-z0-9][^.?!]*)$", re.S)


def read_lines(path):
    opener = bz2.open if path.endswith(".bz2") else open
    with opener(path, "rt", encoding="utf-8", newline="\n") as f:
        text = f.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) % 6:
        sys.exit(f"{path}: {len(lines)} lines, not a multiple of 6 (context, label, 4 endings)")
    return lines


def item_of(ind, six):
    label_text, sep, ctx = six[0].partition(": ")
    if not sep:
        sys.exit(f"item {ind}: its context line has no 'activity label: ' prefix: {six[0]!r}")
    if six[1] not in ("0", "1", "2", "3"):
        sys.exit(f"item {ind}: gold index {six[1]!r} is not 0-3")
    m = FRAGMENT.match(ctx)
    ctx_a, ctx_b = (m.group(1), m.group(2)) if m else (ctx, "")
    return {"ind": ind, "activity_label": label_text, "ctx_a": ctx_a, "ctx_b": ctx_b,
            "endings": six[2:6], "label": int(six[1]), "split": "val"}


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: hellaswag-from-llamacpp.py hellaswag_val_full.txt[.bz2] OUT.jsonl")
    lines = read_lines(sys.argv[1])
    items = [item_of(i // 6, lines[i:i + 6]) for i in range(0, len(lines), 6)]
    with open(sys.argv[2], "w", encoding="utf-8", newline="\n") as f:
        for it in items:
            f.write(json.dumps(it, ensure_ascii=False) + "\n")
    split = sum(1 for it in items if it["ctx_b"])
    print(f"hellaswag-from-llamacpp: {len(items)} items ({split} with ctx_b) -> {sys.argv[2]}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
