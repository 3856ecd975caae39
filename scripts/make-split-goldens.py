#!/usr/bin/env python3
"""Golden token ids for the Llama 3 and Qwen2 pre-tokenizers, from Hugging Face `tokenizers`.

    /tmp/tokref-venv/bin/python scripts/make-split-goldens.py

The Llama 3 and Qwen2 tokenizers themselves are not reachable here (model hubs are not),
but what midllama implements for them is tokenizer-independent: their Split regex
(runtime/tokenizer/Llama3Split.cpp), Llama 3's `ignore_merges`, and a TemplateProcessing
post-processor's BOS. So this script takes SmolLM2's tokenizer
(models/smollm2-tokenizer/tokenizer.json.gz: a real 49,152-token byte-level BPE) and gives
it those parts, as Llama 3's and Qwen2's tokenizer.json write them:

  llama3: pre_tokenizer Sequence[Split(Regex(<Llama 3's regex>), "isolated"),
          ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)],
          model.ignore_merges = true, post_processor Sequence[ByteLevel(trim_offsets=False),
          TemplateProcessing(single="<|im_start|> $A")] (SmolLM2's id 1 as the BOS);
  qwen2:  pre_tokenizer the same with Qwen2's regex (digits one at a time), ignore_merges
          false, post_processor ByteLevel(trim_offsets=False).

The variant's tokenizer.json is made from the .gz by
test/runtime/tokenizer/splice-pretokenizer.py (standard library), here and in the test
alike, so both sides read byte-identical files. Written:
  test/runtime/tokenizer/Inputs/<variant>-<text>.golden: blocks of 100 lines encoded with
      add_special_tokens=True, in make-smollm2-tokenizer.py's format;
  test/runtime/tokenizer/Inputs/<variant>-edge-cases.ids: the ids of each line of
      edge-cases.txt then split-edge-cases.txt (digit runs, case-folded contractions,
      line breaks inside and after space runs, punctuation before letters), one line each,
      then split-edge-cases.txt as one text (its runs of line breaks and spaces whole).
Made with tokenizers 0.23.3.
"""
import gzip
import hashlib
import json
import struct
import subprocess
import sys
from pathlib import Path

import tokenizers
from tokenizers import Tokenizer

REPO = Path(__file__).resolve().parent.parent
INPUTS = REPO / "test" / "runtime" / "tokenizer" / "Inputs"
SPLICE = REPO / "test" / "runtime" / "tokenizer" / "splice-pretokenizer.py"
TEXTS = [("wikitext2-test", "data/wikitext2/wiki.test.raw"),
         ("tinystories-eval", "data/tinystories/eval.txt")]
LINES_PER_BLOCK = 100


def blocks_of(path):
    data = (REPO / path).read_bytes()
    lines = data.split(b"\n")
    lines = [l + b"\n" for l in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    return data, len(lines), [b"".join(lines[i:i + LINES_PER_BLOCK]).decode("utf-8")
                              for i in range(0, len(lines), LINES_PER_BLOCK)]


def golden(tok, path):
    data, nlines, blocks = blocks_of(path)
    out = [f"# text={path} sha256={hashlib.sha256(data).hexdigest()} lines={nlines} "
           f"lines_per_block={LINES_PER_BLOCK} blocks={len(blocks)} "
           f"add_special_tokens=true tokenizers={tokenizers.__version__}"]
    total, h = 0, hashlib.sha256()
    for i, enc in enumerate(tok.encode_batch(blocks, add_special_tokens=True)):
        raw = struct.pack("<%di" % len(enc.ids), *enc.ids)
        out.append(f"{i} {len(enc.ids)} {hashlib.sha256(raw).hexdigest()}")
        total += len(enc.ids)
        h.update(raw)
    out.append(f"total {total} {h.hexdigest()}")
    return "\n".join(out) + "\n"


def main():
    for variant in ("llama3", "qwen2"):
        js = subprocess.run([sys.executable, str(SPLICE), variant,
                             str(REPO / "models/smollm2-tokenizer/tokenizer.json.gz")],
                            check=True, capture_output=True).stdout.decode("utf-8")
        tok = Tokenizer.from_str(js)
        for name, path in TEXTS:
            (INPUTS / f"{variant}-{name}.golden").write_text(golden(tok, path), newline="\n")
        lines = []
        for edge in ("edge-cases.txt", "split-edge-cases.txt"):
            # Bytes, not read_text: universal newlines would turn "\r\n" into "\n".
            text = (INPUTS / edge).read_bytes().decode("utf-8").split("\n")
            lines += [l + "\n" for l in text[:-1]] + ([text[-1]] if text[-1] else [])
        whole = (INPUTS / "split-edge-cases.txt").read_bytes().decode("utf-8")
        ids = [" ".join(map(str, e.ids))
               for e in tok.encode_batch(lines + [whole], add_special_tokens=True)]
        (INPUTS / f"{variant}-edge-cases.ids").write_text("\n".join(ids) + "\n", newline="\n")
        print(f"make-split-goldens: {variant} written", file=sys.stderr)


if __name__ == "__main__":
    main()
