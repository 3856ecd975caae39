#!/usr/bin/env python3
"""Reference figures for SmolLM2-135M from Hugging Face transformers, for midllama's to be
compared with (issue 15): the model loaded from the same GGUF file (transformers'
`gguf_file=`, which dequantizes it to fp32 with the `gguf` package), the tokenizer from
models/smollm2-tokenizer/ (the one midllama-import writes; its ids equal `tokenizers`').

  * greedy continuation of a prompt (no BOS: SmolLM2 adds none), token ids and text;
  * the prompt's last-position logits (with --logits, midllama-run --logits-out of the same
    prompt is compared: max |difference|);
  * perplexity under midllama's protocol (docs/algorithms.md): the text tokenized once,
    non-overlapping windows of --ctx tokens, each from an empty cache, every token after the
    first of its window predicted, the first --windows windows; the loss summed in float64.

Needs torch, transformers, accelerate, gguf, tokenizers (PyPI; not CI; measured with torch
2.15.0, transformers 4.57.6, accelerate and gguf 0.19.0). Prints a table and writes JSON.

    python3 scripts/reference-smollm2.py [--gguf PATH] [--ctx 512] [--windows 40] \
        [--prompt TEXT] [--steps 20] [--logits midllama.bin] [--json out.json]
"""
import argparse
import gzip
import json
import math
import os
import time

import numpy as np
import torch
import transformers
from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("MIDLLAMA_CACHE", os.path.expanduser("~/.cache/midllama"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", default=os.path.join(CACHE, "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--tokenizer", default=os.path.join(ROOT, "models/smollm2-tokenizer/tokenizer.json.gz"))
    ap.add_argument("--text", default=os.path.join(ROOT, "data/wikitext2/wiki.test.raw"))
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--windows", type=int, default=40)
    ap.add_argument("--prompt", default="The capital of France is")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--logits", help="midllama-run --logits-out of --prompt, to compare")
    ap.add_argument("--json")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    tok = Tokenizer.from_str(gzip.open(a.tokenizer).read().decode())
    t0 = time.time()
    model = transformers.AutoModelForCausalLM.from_pretrained(
        os.path.dirname(a.gguf), gguf_file=os.path.basename(a.gguf), dtype=torch.float32)
    model.eval()
    load_s = time.time() - t0

    prompt = tok.encode(a.prompt, add_special_tokens=False).ids
    with torch.no_grad():
        logits = model(torch.tensor([prompt])).logits[0].double().numpy()
        out = model.generate(torch.tensor([prompt]), max_new_tokens=a.steps, do_sample=False,
                             eos_token_id=list(range(17)), pad_token_id=2)[0].tolist()
    generated = out[len(prompt):]
    result = {"transformers": transformers.__version__, "torch": torch.__version__,
              "gguf": a.gguf, "load_seconds": round(load_s, 2), "prompt": a.prompt,
              "prompt_ids": prompt, "greedy_ids": generated,
              "greedy_text": tok.decode(generated, skip_special_tokens=False),
              "top_id_last_position": int(np.argmax(logits[-1]))}
    if a.logits:
        ours = np.fromfile(a.logits, dtype=np.float32).reshape(len(prompt), -1)
        result["max_abs_logit_difference"] = float(np.max(np.abs(ours - logits)))
        result["max_abs_logit"] = float(np.max(np.abs(logits)))

    ids = tok.encode(open(a.text, encoding="utf-8").read(), add_special_tokens=False).ids
    windows = min(a.windows, len(ids) // a.ctx)
    nll, count, t0 = 0.0, 0, time.time()
    with torch.no_grad():
        for w in range(windows):
            chunk = torch.tensor([ids[w * a.ctx:(w + 1) * a.ctx]])
            lp = torch.log_softmax(model(chunk).logits[0].double(), dim=-1)
            target = chunk[0, 1:]
            nll -= lp[:-1].gather(1, target[:, None]).sum().item()
            count += a.ctx - 1
            print("window %d/%d running ppl %.6f" % (w + 1, windows, math.exp(nll / count)),
                  flush=True)
    result.update({"text": os.path.relpath(a.text, ROOT), "text_tokens": len(ids), "ctx": a.ctx,
                   "windows": windows, "predicted": count, "perplexity": math.exp(nll / count),
                   "perplexity_seconds": round(time.time() - t0, 1)})
    for k, v in result.items():
        print("%-26s %s" % (k, v))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
