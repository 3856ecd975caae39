#!/usr/bin/env python3
"""Checks a GGUF import against an independent reading of the same file, with the `gguf`
Python package (llama.cpp's own reader, which transformers uses for `gguf_file=`) and
numpy (a venv made by bench/cpu-vs-ort/run.sh has numpy; `pip install gguf`):

1. every weight of midllama's parameter file equals gguf-py's dequantization bit for bit,
   q_proj/k_proj after undoing llama.cpp's row permutation (so they are the original
   Hugging Face weights);
2. that permutation undone is right: llama.cpp's stored rows with its own rotary
   (adjacent dimension pairs) give the same float64 logits as Hugging Face's rows with
   half-split rotary;
3. the logits midllama-run wrote for the prompt ids (--logits-out, fp32 [n, vocab]) match
   a float64 numpy forward pass of the Hugging Face LLaMA (half-split rotary, grouped-query
   attention, SwiGLU, RMSNorm) on those weights: prints the largest absolute and relative
   difference and the top-5 ids per position, and fails above --atol.

    reference-llama-gguf.py MODEL.gguf PARAMS.safetensors LOGITS.bin "ID ID ..." [--atol X]
"""
import argparse
import json
import struct
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        base = 8 + n
    data = np.memmap(path, dtype=np.uint8, mode="r")
    out = {}
    for name, e in header.items():
        if name == "__metadata__" or name.startswith("__pad__"):
            continue
        assert e["dtype"] == "F32", (name, e["dtype"])
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(data[base + b:base + end], dtype=np.float32).reshape(e["shape"])
    return out


def field(reader, key):
    f = reader.fields[key]
    v = f.parts[f.data[0]]
    return v.tobytes().decode() if f.types[0].name == "STRING" else v[0].item()


def unpermute(w, heads):
    n, k = w.shape
    return w.reshape(heads, n // heads // 2, 2, k).swapaxes(1, 2).reshape(n, k)


def permute(w, heads):
    """llama.cpp's converter: each head's rows (half, index) -> (index, half)."""
    n, k = w.shape
    return w.reshape(heads, 2, n // heads // 2, k).swapaxes(1, 2).reshape(n, k)


def forward(ref, ids, heads, kv_heads, layers, eps, theta, interleaved):
    """Logits of a LLaMA decoder in float64: Hugging Face's half-split rotary, or
    llama.cpp's adjacent pairs (`interleaved`)."""
    W = {n: v.astype(np.float64) for n, v in ref.items()}
    x = W["model.embed_tokens.weight"][ids]
    S, D = x.shape
    hd = D // heads
    inv = theta ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)
    ang = np.arange(S, dtype=np.float64)[:, None] * inv[None, :]

    def rms(v, w):
        return v / np.sqrt((v * v).mean(-1, keepdims=True) + eps) * w

    def rope(v):  # [S, H, hd]
        c, s_ = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        if interleaved:
            a, b = v[..., 0::2], v[..., 1::2]
            out = np.empty_like(v)
            out[..., 0::2], out[..., 1::2] = a * c - b * s_, a * s_ + b * c
            return out
        a, b = v[..., :hd // 2], v[..., hd // 2:]
        return np.concatenate([a * c - b * s_, b * c + a * s_], -1)

    mask = np.triu(np.full((S, S), -np.inf), 1)
    for l in range(layers):
        p = "model.layers.%d." % l
        h = rms(x, W[p + "input_layernorm.weight"])
        q = rope((h @ W[p + "self_attn.q_proj.weight"].T).reshape(S, heads, hd))
        k = rope((h @ W[p + "self_attn.k_proj.weight"].T).reshape(S, kv_heads, hd))
        v = (h @ W[p + "self_attn.v_proj.weight"].T).reshape(S, kv_heads, hd)
        rep = heads // kv_heads
        k, v = np.repeat(k, rep, 1), np.repeat(v, rep, 1)
        att = np.einsum("shd,thd->hst", q, k) / np.sqrt(hd) + mask
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        o = np.einsum("hst,thd->shd", att, v).reshape(S, D)
        x = x + o @ W[p + "self_attn.o_proj.weight"].T
        h = rms(x, W[p + "post_attention_layernorm.weight"])
        g, u = h @ W[p + "mlp.gate_proj.weight"].T, h @ W[p + "mlp.up_proj.weight"].T
        x = x + (g / (1 + np.exp(-g)) * u) @ W[p + "mlp.down_proj.weight"].T
    x = rms(x, W["model.norm.weight"])
    return x @ W.get("lm_head.weight", W["model.embed_tokens.weight"]).T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gguf")
    ap.add_argument("params")
    ap.add_argument("logits")
    ap.add_argument("ids")
    ap.add_argument("--atol", type=float, default=1e-3)
    a = ap.parse_args()
    r = GGUFReader(a.gguf)
    heads = field(r, "llama.attention.head_count")
    kv_heads = field(r, "llama.attention.head_count_kv")
    layers = field(r, "llama.block_count")
    eps = field(r, "llama.attention.layer_norm_rms_epsilon")
    theta = field(r, "llama.rope.freq_base")
    roles = {"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj",
             "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
             "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
             "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
    ours = read_safetensors(a.params)
    ref = {}
    for t in r.tensors:
        w = dequantize(t.data, t.tensor_type).astype(np.float32)
        w = w.reshape([int(d) for d in reversed(t.shape)]) if len(t.shape) > 1 else w.reshape(-1)
        parts = t.name.split(".")
        if t.name == "token_embd.weight":
            name = "model.embed_tokens.weight"
        elif t.name == "output_norm.weight":
            name = "model.norm.weight"
        elif t.name == "output.weight":
            name = "lm_head.weight"
        else:
            name = "model.layers.%s.%s.weight" % (parts[1], roles[parts[2]])
            if parts[2] == "attn_q":
                w = unpermute(w, heads)
            elif parts[2] == "attn_k":
                w = unpermute(w, kv_heads)
        ref[name] = w
    assert set(ref) == set(ours), sorted(set(ref) ^ set(ours))
    differ = [n for n in ref if ref[n].shape != ours[n].shape
              or not np.array_equal(ref[n].view(np.uint32), ours[n].view(np.uint32))]
    print("weights: %d tensors, %d differ from gguf-py's dequantization" % (len(ref), len(differ)))
    for n in differ[:5]:
        print("  differs:", n)

    ids = [int(x) for x in a.ids.split()]
    want = forward(ref, ids, heads, kv_heads, layers, eps, theta, interleaved=False)
    # The row permutation checked on its own: llama.cpp's weights as stored, with its
    # rotary (adjacent pairs), give the same logits.
    raw = dict(ref)
    for l in range(layers):
        p = "model.layers.%d.self_attn." % l
        raw[p + "q_proj.weight"] = permute(ref[p + "q_proj.weight"], heads)
        raw[p + "k_proj.weight"] = permute(ref[p + "k_proj.weight"], kv_heads)
    same = np.abs(forward(raw, ids, heads, kv_heads, layers, eps, theta, interleaved=True) - want).max()
    print("llama.cpp's row order with adjacent-pair rotary: max difference %.3g" % same)
    S = len(ids)
    got = np.fromfile(a.logits, dtype=np.float32).reshape(S, -1).astype(np.float64)
    diff = np.abs(got - want)
    print("logits: %d positions x %d, max |midllama - float64 reference| = %.3g "
          "(max |logit| %.3g, relative %.3g)" % (S, want.shape[1], diff.max(), np.abs(want).max(),
                                                 diff.max() / np.abs(want).max()))
    for s in range(S):
        top_want, top_got = np.argsort(-want[s])[:5], np.argsort(-got[s])[:5]
        print("  position %d: top-5 reference %s, midllama %s" % (s, top_want.tolist(), top_got.tolist()))
    ok = not differ and diff.max() <= a.atol and same <= 1e-9
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
