#!/usr/bin/env python3
"""Exports SmolLM2-135M-Instruct to ONNX the way users do, for the tests that GGUF and
ONNX import agree (issue 15, test/Import/GGUF/smollm2-paths.test) and that optimum's
exports import (issue 16, test/Import/ONNX/smollm2-optimum.test):

 1. transformers loads the GGUF (scripts/get-model.sh smollm2; `gguf_file=`, dequantized to
    fp32 by the `gguf` package) and saves a Hugging Face checkpoint;
 2. onnxruntime-genai's model builder exports it in fp32 for the CPU (com.microsoft
    contrib ops, KV cache), and optimum-onnx 0.1.0 (`optimum-cli export onnx`) with the
    tasks text-generation-with-past and text-generation (TorchScript exporter);
 3. ONNX Runtime runs the export on the prompt ids of the test and writes its logits at
    every position (float32, as midllama-run --logits-out does), a third opinion next to
    midllama's two imports.

Everything goes to the cache beside the GGUF ($MIDLLAMA_CACHE or ~/.cache/midllama,
models/smollm2/onnx-genai-fp32/, optimum-text-generation{-with-past,}/), never into the
repository (each export is 540 MB).
Idempotent: an existing export is kept unless --force. Not part of CI; needs torch,
transformers, accelerate, gguf, onnx, onnxruntime, onnxruntime-genai, optimum-onnx
(measured with torch 2.15.0, transformers 4.57.6, onnxruntime-genai 0.11.4, optimum-onnx
0.1.0).

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
    exports = {  # folder -> how it is made
        "onnx-genai-fp32": "genai",
        "optimum-text-generation-with-past": "text-generation-with-past",
        "optimum-text-generation": "text-generation",
    }
    logits_file = "ort-logits-capital-of-france.f32"
    missing = [d for d in exports
            if args.force or not os.path.isfile(os.path.join(MODEL_DIR, d, logits_file))]
    if not missing:
        print("\n".join(os.path.join(MODEL_DIR, d) for d in exports))
        return
    import torch
    import transformers

    hf_dir = os.path.join(MODEL_DIR, "hf-from-gguf")
    model = transformers.AutoModelForCausalLM.from_pretrained(
        MODEL_DIR, gguf_file=GGUF, torch_dtype=torch.float32)
    tokenizer = transformers.AutoTokenizer.from_pretrained(MODEL_DIR, gguf_file=GGUF)
    model.save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)
    # ONNX Runtime with an empty KV cache, as the ONNX fixtures' generator runs its exports.
    spec = importlib.util.spec_from_file_location(
        "make_fixtures", os.path.join(ROOT, "test", "Import", "ONNX", "make-fixtures.py"))
    fixtures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixtures)
    ids = np.array([PROMPT_IDS], dtype=np.int64)
    head_dim = model.config.hidden_size // model.config.num_attention_heads
    with torch.no_grad():
        ref = model(torch.tensor(ids)).logits[0].numpy()
    for folder in missing:
        out = os.path.join(MODEL_DIR, folder)
        os.makedirs(out, exist_ok=True)
        if exports[folder] == "genai":
            with tempfile.TemporaryDirectory() as cache:
                subprocess.run([sys.executable, "-m", "onnxruntime_genai.models.builder",
                                "-m", hf_dir, "-i", hf_dir, "-o", out, "-p", "fp32", "-e",
                                "cpu", "-c", cache], check=True)
        else:  # optimum-cli export onnx --task ... (optimum-onnx 0.1.0)
            from optimum.exporters.onnx import main_export
            main_export(hf_dir, output=out, task=exports[folder])
        logits = fixtures.run_genai_export(out, ids, head_dim)[0]  # every position
        logits.tofile(os.path.join(out, logits_file))
        print(f"{folder}: ONNX Runtime vs transformers, logits: max |diff| "
              f"{np.abs(ref - logits).max():.2e}", file=sys.stderr)
    print("\n".join(os.path.join(MODEL_DIR, d) for d in exports))


if __name__ == "__main__":
    main()
