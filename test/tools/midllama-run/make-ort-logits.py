#!/usr/bin/env python3
"""Writes ONNX Runtime's logits for the committed ONNX fixtures, the reference the CPU
runtime is compared with in ort-logits.test (not part of CI: CI has no onnxruntime).

For each fixture, one forward pass of a 64-token prompt (the first 64 tokens of the
stories260K greedy reference, BOS first; modulo the vocabulary for the small synthetic
models) from an empty KV cache, positions 0..63; all 64 x vocab logits are saved as raw
little-endian float32 in Inputs/ort-logits/<fixture>.bin, and the ids in PROMPT.txt.

Usage: python3 make-ort-logits.py   (needs onnxruntime and numpy; the committed outputs were
made with onnxruntime 1.32.0, numpy 2.4.6, CPU execution provider, 1 thread)
"""
import os

import numpy as np
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
FIXTURES = os.path.join(ROOT, "test", "Import", "ONNX", "Inputs")
OUT = os.path.join(HERE, "Inputs", "ort-logits")

# ORT 1.32's CPU GroupQueryAttention needs head_size % 16 == 0, which stories260K (8) does
# not have: its GenAI fp32/int4 exports are compared through synthetic-hd16 instead. The
# int4 fixtures wait for the int4 CPU kernels (quantization issue).
RUNNABLE = [
    "stories260K-torch-fp32",
    "stories260K-torch-kv-fp32",
    "stories260K-torch-kv-fp16",
    "stories260K-genai-fp16",
    "synthetic-hd16-genai-fp32",
    "synthetic-hd16-genai-int4",
    "decomposed/good",
]

# MatMulNBits with accuracy_level 4 (what the GenAI builder writes for CPU) makes ONNX
# Runtime quantize the activations to int8 too; the reference is computed at
# accuracy_level 0 (fp32 activations, the 4-bit weights dequantized), which is what the
# CPU runtime computes. The int8-activation result is saved as <fixture>.acc4.bin.
ACCURACY_ZERO = {"synthetic-hd16-genai-int4"}

HEAD_SIZE = {"stories260K-genai-fp16": 8, "synthetic-hd16-genai-fp32": 16,
             "synthetic-hd16-genai-int4": 16}

TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(int64)": np.int64,
         "tensor(int32)": np.int32}


def prompt(vocab):
    with open(os.path.join(ROOT, "models", "stories260K", "greedy_from_bos_256.tokens")) as f:
        ids = [int(t) for t in f.read().split()][:64]
    return np.array([[i % vocab for i in ids]], dtype=np.int64)


def main():
    os.makedirs(OUT, exist_ok=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    for name in RUNNABLE:
        path = os.path.join(FIXTURES, name + ".onnx") if name.startswith("decomposed") else \
            os.path.join(FIXTURES, name, "model.onnx")
        variants = [("", path)]
        if name in ACCURACY_ZERO:
            import onnx
            model = onnx.load(path)
            for node in model.graph.node:
                for a in node.attribute:
                    if node.op_type == "MatMulNBits" and a.name == "accuracy_level":
                        a.i = 0
            variants = [("", model.SerializeToString()), (".acc4", path)]
        for suffix, source in variants:
            run_one(name, suffix, source, options)
    print("onnxruntime", ort.__version__, "numpy", np.__version__)


def run_one(name, suffix, source, options):
    session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    vocab = session.get_outputs()[0].shape[-1]
    ids = prompt(vocab)
    feeds = {}
    for i in session.get_inputs():
        dtype = TYPES[i.type]
        if i.name == "input_ids":
            feeds[i.name] = ids.astype(dtype)
        elif i.name == "position_ids":
            feeds[i.name] = np.arange(ids.shape[1], dtype=dtype)[None]
        elif i.name == "attention_mask":
            feeds[i.name] = np.ones(ids.shape, dtype=dtype)
        elif i.name.startswith("past_key_values"):
            # [batch, kv_heads, past_length, head_size]; the GenAI builder leaves the head
            # size symbolic ("kv_cache_dim"): the model's own head size.
            shape = [1, i.shape[1], 0, i.shape[3] if isinstance(i.shape[3], int) else
                     HEAD_SIZE[name]]
            feeds[i.name] = np.zeros(shape, dtype=dtype)
        else:
            raise SystemExit(f"{name}: unexpected input {i.name}")
    logits = session.run(["logits"], feeds)[0].astype(np.float32)
    assert logits.shape == (1, 64, vocab), logits.shape
    out = os.path.join(OUT, name.replace("/", "-") + suffix + ".bin")
    logits.tofile(out)
    with open(os.path.join(OUT, name.replace("/", "-") + ".ids"), "w") as f:
        f.write(" ".join(str(int(t)) for t in ids[0]) + "\n")
    print(f"{name}{suffix}: logits {logits.shape}, |max| {np.abs(logits).max():.3f} -> {out}")


if __name__ == "__main__":
    main()
