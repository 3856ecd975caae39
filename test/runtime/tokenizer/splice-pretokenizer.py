#!/usr/bin/env python3
"""Prints SmolLM2's tokenizer.json (from tokenizer.json.gz) with Llama 3's or Qwen2's
pre-tokenizer, and for llama3 also its ignore_merges and a BOS-adding TemplateProcessing
post-processor (<|im_start|>, id 1, standing in for <|begin_of_text|>), as those
tokenizers' own tokenizer.json files write them. Standard library only; deterministic.
scripts/make-split-goldens.py made the golden ids from the same output.

    splice-pretokenizer.py llama3|qwen2 tokenizer.json.gz > tokenizer.json
"""
import gzip
import json
import sys

LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
          r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
         r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def main():
    variant, path = sys.argv[1], sys.argv[2]
    tok = json.loads(gzip.open(path).read().decode("utf-8"))
    tok["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": LLAMA3 if variant == "llama3" else QWEN2},
         "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
         "use_regex": False}]}
    byte_level = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                  "use_regex": True}
    if variant == "llama3":
        tok["model"]["ignore_merges"] = True
        bos = {"SpecialToken": {"id": "<|im_start|>", "type_id": 0}}
        tok["post_processor"] = {"type": "Sequence", "processors": [byte_level, {
            "type": "TemplateProcessing",
            "single": [bos, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [bos, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<|im_start|>", "type_id": 1}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<|im_start|>": {"id": "<|im_start|>", "ids": [1],
                                                "tokens": ["<|im_start|>"]}}}]}
    else:
        tok["model"]["ignore_merges"] = False
        tok["post_processor"] = byte_level
    sys.stdout.write(json.dumps(tok, ensure_ascii=False))


if __name__ == "__main__":
    main()
