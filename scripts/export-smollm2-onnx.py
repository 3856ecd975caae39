#!/usr/bin/env python3
"""Exports SmolLM2-135M-Instruct to ONNX the way a user would, for the test that GGUF and
ONNX import agree (issue 15, test/Import/smollm2-paths.test):

 1. transformers loads the GGUF (scripts/get-model.sh smollm2; `gguf_file=`, dequantized to
    fp32 by the `gguf` package) and saves a Hugging Face checkpoint;
 2. onnxruntime-genai's model builder exports it in fp32 for the CPU (com.microsoft
    contrib ops, KV cache);
 3. ONNX Runtime runs the export on the prompt ids of the test and writes its logits at
    every position (float32, as midllama-run --logits-out does), a third opinion next to
    midllama's two imports.

Everything goes to the cache beside the GGUF ($MIDLLAMA_CACHE or ~/.cache/midllama,
models/smollm2/onnx-genai-fp32/), never into the repository (the export is 540 MB).
Idempotent: an existing export is kept unless --force. Not part of CI; needs torch,
transformers, accelerate, gguf, onnx, onnxruntime, onnxruntime-genai (measured with torch
2.15.0, transformers 4.57.6, onnxruntime-genai 0.11).

    python3 scripts/export-smollm2-onnx.py [--force]
"""
import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("MIDLLAMA_CACHE", os.path.expanduser("~/.cache/midllama"))
MODEL_DIR = os.path.join(CACHE, "models", "smollm2")
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# "The capital of France is" in SmolLM2's tokenizer (test/Import/GGUF/smollm2.test).
PROMPT_IDS = [504, 3575, 282, 4649, 314]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    gguf = os.path.join(MODEL_DIR, GGUF)
    if not os.path.isfile(gguf):
        sys.exit(f"export-smollm2-onnx: {gguf} is missing: run scripts/get-model.sh smollm2")
    out = os.path.join(MODEL_DIR, "onnx-genai-fp32")
    if os.path.isfile(os.path.join(out, "ort-logits-capital-of-france.f32")) and not args.force:
        print(out)
        return
    import torch
    import transformers

    hf_dir = os.path.join(MODEL_DIR, "hf-from-gguf")
    model = transformers.AutoModelForCausalLM.from_pretrained(
        MODEL_DIR, gguf_file=GGUF, torch_dtype=torch.float32)
    tokenizer = transformers.AutoTokenizer.from_pretrained(MODEL_DIR, gguf_file=GGUF)
    model.save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as cache:
        subprocess.run([sys.executable, "-m", "onnxruntime_genai.models.builder", "-m", hf_dir,
                        "-i", hf_dir, "-o", out, "-p", "fp32", "-e", "cpu", "-c", cache],
                       check=True)

    # ONNX Runtime with an empty KV cache, as the ONNX fixtures' generator runs its exports.
    spec = importlib.util.spec_from_file_location(
        "make_fixtures", os.path.join(ROOT, "test", "Import", "ONNX", "make-fixtures.py"))
    fixtures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixtures)
    ids = np.array([PROMPT_IDS], dtype=np.int64)
    head_dim = model.config.hidden_size // model.config.num_attention_heads
    logits = fixtures.run_genai_export(out, ids, head_dim)[0]  # every position
    logits.tofile(os.path.join(out, "ort-logits-capital-of-france.f32"))
    with torch.no_grad():
        ref = model(torch.tensor(ids)).logits[0].numpy()
    print(f"ONNX Runtime vs transformers, logits: max |diff| "
          f"{np.abs(ref - logits).max():.2e}", file=sys.stderr)
    print(out)


if __name__ == "__main__":
    main()
