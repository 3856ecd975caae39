#!/usr/bin/env python3
"""CI's check of a GGUF import, standard library only (reference-llama-gguf.py does the
same with the `gguf` package and numpy on real models): reads MODEL.gguf itself,
dequantizes every tensor as ggml defines it (Q8_0 d*q, Q4_0 d*(q-8), Q4_1 d*q+m rounded
once to fp32, F16, BF16, F32), undoes llama.cpp's q/k row permutation, and checks that

1. midllama's parameter file holds exactly these weights, by Hugging Face name: an fp32
   tensor (--dequantize) the dequantized values bit for bit, an fp16 one (--dequantize-f16)
   them rounded to half (to nearest even); a kept tensor (F16, BF16 as
   they are; Q8_0 and Q4_0 as symmetric affine codes with fp16 scales, Q4_1 as codes with
   fp16 scales and minima) turned back into ggml blocks must be the file's bytes;
2. midllama-run's logits for the prompt ids (--logits-out) are within --atol of a float64
   forward pass of the Hugging Face LLaMA on them, with the weights as stored (small models
   only: plain Python).

    check-llama-gguf.py MODEL.gguf PARAMS.safetensors LOGITS.bin "ID ID ..." [--atol X]
"""
import argparse
import json
import math
import struct
import sys

BLOCK = {0: (1, 4), 1: (1, 2), 30: (1, 2), 2: (32, 18), 3: (32, 20), 8: (32, 34)}


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def read_gguf(path):
    data = open(path, "rb").read()
    at = 0

    def take(fmt):
        nonlocal at
        v = struct.unpack_from("<" + fmt, data, at)
        at += struct.calcsize("<" + fmt)
        return v[0] if len(v) == 1 else v

    def string():
        nonlocal at
        n = take("Q")
        s = data[at:at + n].decode()
        at += n
        return s

    sizes = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "B", 10: "Q", 11: "q", 12: "d"}

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("I"), take("Q")
            return [value(et) for _ in range(n)]
        return take(sizes[t])

    magic, version, n_tensors, n_kv = take("4s"), take("I"), take("Q"), take("Q")
    assert magic == b"GGUF" and version in (2, 3)
    meta = {}
    for _ in range(n_kv):
        k = string()
        meta[k] = value(take("I"))
    infos = []
    for _ in range(n_tensors):
        name = string()
        dims = [take("Q") for _ in range(take("I"))]
        infos.append((name, dims, take("I"), take("Q")))
    align = meta.get("general.alignment", 32)
    start = (at + align - 1) // align * align
    tensors = {}
    for name, dims, t, off in infos:
        n = math.prod(dims)
        per, nbytes = BLOCK[t]
        raw = data[start + off:start + off + n // per * nbytes]
        tensors[name] = (dims, dequantize(t, raw, n), t, raw)
    return meta, tensors


def half(b, i):
    return struct.unpack_from("<e", b, i)[0]


def dequantize(t, raw, n):
    if t == 0:
        return list(struct.unpack("<%df" % n, raw))
    if t == 1:
        return list(struct.unpack("<%de" % n, raw))
    if t == 30:
        return [struct.unpack("<f", b"\0\0" + raw[2 * i:2 * i + 2])[0] for i in range(n)]
    out = []
    size = BLOCK[t][1]
    for b in range(n // 32):
        blk = raw[b * size:(b + 1) * size]
        d = half(blk, 0)
        if t == 8:
            out += [f32(d * q) for q in struct.unpack_from("<32b", blk, 2)]
        else:
            qs = blk[4:] if t == 3 else blk[2:]
            codes = [q & 15 for q in qs] + [q >> 4 for q in qs]
            if t == 2:
                out += [f32(d * (q - 8)) for q in codes]
            else:
                m = half(blk, 2)
                out += [f32(d * q + m) for q in codes]
    return out


def unpermute(w, rows, heads):
    """Rows of w (a list of rows) in Hugging Face order."""
    hd = rows // heads
    out = [None] * rows
    for r in range(rows):
        h, within = divmod(r, hd)
        half_, i = divmod(within, hd // 2)
        out[r] = w[h * hd + 2 * i + half_]
    return out


def split(seq, rows):
    n = len(seq) // rows
    return [seq[r * n:(r + 1) * n] for r in range(rows)]


def read_safetensors(path):
    """name -> (dtype, raw bytes)."""
    data = open(path, "rb").read()
    (n,) = struct.unpack_from("<Q", data, 0)
    header = json.loads(data[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__" or name.startswith("__pad__"):
            continue
        b, end = e["data_offsets"]
        out[name] = (e["dtype"], data[8 + n + b:8 + n + end])
    return out


def ggml_rows(t, ours, name, rows):
    """midllama's kept tensors of `name` as ggml rows of type t (None when absent)."""
    if name in ours:
        return split(ours[name][1], rows)
    if name + ".qweight" not in ours:
        return None
    q = split(ours[name + ".qweight"][1], rows)
    d = split(ours[name + ".scales"][1], rows)
    m = split(ours[name + ".mins"][1], rows) if t == 3 else None
    out = []
    for r in range(rows):
        row = b""
        for b in range(len(d[r]) // 2):
            if t == 8:  # codes q + 128
                row += d[r][2 * b:2 * b + 2] + bytes((c - 128) & 255 for c in q[r][32 * b:32 * b + 32])
                continue
            packed = q[r][16 * b:16 * b + 16]  # column order, low nibble first
            codes = [v for c in packed for v in (c & 15, c >> 4)]
            row += d[r][2 * b:2 * b + 2] + (m[r][2 * b:2 * b + 2] if t == 3 else b"")
            row += bytes(codes[j] | codes[j + 16] << 4 for j in range(16))
        out.append(row)
    return out


def main():
    ap = argparse.ArgumentParser()
    for arg in ("gguf", "params", "logits", "ids"):
        ap.add_argument(arg)
    ap.add_argument("--atol", type=float, default=1e-4)
    a = ap.parse_args()
    meta, tensors = read_gguf(a.gguf)
    heads, kv_heads = meta["llama.attention.head_count"], meta["llama.attention.head_count_kv"]
    layers, eps = meta["llama.block_count"], meta["llama.attention.layer_norm_rms_epsilon"]
    theta = meta.get("llama.rope.freq_base", 10000.0)
    roles = {"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj",
             "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
             "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
             "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
    W, shapes, raw_rows, types = {}, {}, {}, {}
    for name, (dims, vals, t, raw) in tensors.items():
        rows, cols = (dims[1], dims[0]) if len(dims) == 2 else (1, dims[0])
        parts = name.split(".")
        if name == "token_embd.weight":
            hf = "model.embed_tokens.weight"
        elif name == "output_norm.weight":
            hf = "model.norm.weight"
        elif name == "output.weight":
            hf = "lm_head.weight"
        else:
            hf = "model.layers.%s.%s.weight" % (parts[1], roles[parts[2]])
        vals, raw = split(vals, rows), split(raw, rows)
        if parts[2:3] in (["attn_q"], ["attn_k"]):
            nh = heads if parts[2] == "attn_q" else kv_heads
            vals, raw = unpermute(vals, rows, nh), unpermute(raw, rows, nh)
        W[hf], shapes[hf] = [v for row in vals for v in row], (rows, cols)
        raw_rows[hf], types[hf] = raw, t
    ours = read_safetensors(a.params)

    def same(n):
        if ours.get(n, ("",))[0] == "F32":  # fp32: the dequantized values
            return ours[n][1] == struct.pack("<%df" % len(W[n]), *W[n])
        if ours.get(n, ("",))[0] == "F16" and types[n] != 1:  # --dequantize-f16: rounded to
            return ours[n][1] == struct.pack("<%de" % len(W[n]), *W[n])  # half, to even
        return ggml_rows(types[n], ours, n, shapes[n][0]) == raw_rows[n]
    differ = sorted(n for n in W if not same(n))
    for n in W:  # the forward pass below computes with what midllama stores
        if ours.get(n, ("",))[0] == "F16" and types[n] != 1:
            W[n] = list(struct.unpack("<%de" % len(W[n]), struct.pack("<%de" % len(W[n]), *W[n])))
    print("weights: %d tensors, %d differ" % (len(W), len(differ)) + (": " + ", ".join(differ[:3]) if differ else ""))

    def mat(name, x):  # x @ W[name].T for a list of rows
        rows, cols = shapes[name]
        w = W[name]
        return [[sum(w[r * cols + k] * v[k] for k in range(cols)) for r in range(rows)] for v in x]

    def rms(x, name):
        w = W[name]
        return [[v / math.sqrt(sum(u * u for u in row) / len(row) + eps) * w[i]
                 for i, v in enumerate(row)] for row in x]

    ids = [int(i) for i in a.ids.split()]
    D = shapes["model.embed_tokens.weight"][1]
    hd = D // heads
    x = [W["model.embed_tokens.weight"][i * D:(i + 1) * D] for i in ids]

    def rope(v, pos, nh):
        out = list(v)
        for h in range(nh):
            for i in range(hd // 2):
                ang = pos * theta ** (-2 * i / hd)
                a_, b_ = v[h * hd + i], v[h * hd + i + hd // 2]
                out[h * hd + i] = a_ * math.cos(ang) - b_ * math.sin(ang)
                out[h * hd + i + hd // 2] = b_ * math.cos(ang) + a_ * math.sin(ang)
        return out

    for l in range(layers):
        p = "model.layers.%d." % l
        h = rms(x, p + "input_layernorm.weight")
        q = [rope(v, s, heads) for s, v in enumerate(mat(p + "self_attn.q_proj.weight", h))]
        k = [rope(v, s, kv_heads) for s, v in enumerate(mat(p + "self_attn.k_proj.weight", h))]
        v = mat(p + "self_attn.v_proj.weight", h)
        o = []
        for s in range(len(ids)):
            row = []
            for hh in range(heads):
                g = hh // (heads // kv_heads)
                sc = [sum(q[s][hh * hd + j] * k[t][g * hd + j] for j in range(hd)) / math.sqrt(hd)
                      for t in range(s + 1)]
                mx = max(sc)
                e = [math.exp(z - mx) for z in sc]
                row += [sum(e[t] * v[t][g * hd + j] for t in range(s + 1)) / sum(e) for j in range(hd)]
            o.append(row)
        x = [[a_ + b_ for a_, b_ in zip(r1, r2)] for r1, r2 in zip(x, mat(p + "self_attn.o_proj.weight", o))]
        h = rms(x, p + "post_attention_layernorm.weight")
        g, u = mat(p + "mlp.gate_proj.weight", h), mat(p + "mlp.up_proj.weight", h)
        act = [[gi / (1 + math.exp(-gi)) * ui for gi, ui in zip(gr, ur)] for gr, ur in zip(g, u)]
        x = [[a_ + b_ for a_, b_ in zip(r1, r2)] for r1, r2 in zip(x, mat(p + "mlp.down_proj.weight", act))]
    x = rms(x, "model.norm.weight")
    head = "lm_head.weight" if "lm_head.weight" in W else "model.embed_tokens.weight"
    want = mat(head, x)
    raw = open(a.logits, "rb").read()
    got = struct.unpack("<%df" % (len(raw) // 4), raw)
    V = len(want[0])
    diff = max(abs(got[s * V + j] - want[s][j]) for s in range(len(ids)) for j in range(V))
    print("logits: %d positions x %d, max |midllama - float64 reference| = %.2g" % (len(ids), V, diff))
    ok = not differ and diff <= a.atol
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
