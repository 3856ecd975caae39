#!/usr/bin/env python3
"""Writes small GGUF files for the reader's tests into OUT_DIR: one well-formed file
(every metadata value type, nested arrays, F32/F16/BF16/Q4_1/Q8_0 tensors) in versions 3
and 2, and one broken variant per way a file can lie (GGUF spec: ggml/docs/gguf.md).
Standard library only, so CI needs no gguf package; the expected reading of each file is
in reader.test.

    make-gguf.py OUT_DIR
"""
import os
import struct
import sys

U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
SCALAR = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f",
          BOOL: "<B", U64: "<Q", I64: "<q", F64: "<d"}
T_F32, T_F16, T_Q4_1, T_Q8_0, T_BF16 = 0, 1, 3, 8, 30


def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def value(t, v):
    if t == STRING:
        return gstr(v)
    if t == ARRAY:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(value(et, x) for x in items)
    return struct.pack(SCALAR[t], v)


def kv(key, t, v):
    return gstr(key) + struct.pack("<I", t) + value(t, v)


def tensor_info(name, dims, ttype, offset):
    return (gstr(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
            + struct.pack("<IQ", ttype, offset))


GOOD_KV = [
    ("general.architecture", STRING, "llama"),
    ("llama.block_count", U32, 1),
    ("llama.rope.freq_base", F32, 10000.0),
    ("small.u8", U8, 200), ("small.i8", I8, -5), ("small.u16", U16, 60000),
    ("small.i16", I16, -300), ("small.i32", I32, -70000), ("small.u64", U64, 2 ** 63 + 1),
    ("small.i64", I64, -(2 ** 40)), ("small.f64", F64, 0.125), ("small.flag", BOOL, 1),
    ("small.quote", STRING, 'say "hi"\n'),
    ("tokenizer.ggml.tokens", ARRAY, (STRING, ["<s>", "</s>", "a", "b", "c", "d", "e", "f"])),
    ("tokenizer.ggml.scores", ARRAY, (F32, [0.0, -1.5])),
    ("small.nested", ARRAY, (ARRAY, [(I32, [1, 2]), (I32, [3])])),
]
# name, ggml dims (columns first), type, bytes
GOOD_TENSORS = [
    ("norm.weight", [4], T_F32, 16),
    ("q.weight", [32, 2], T_Q4_1, 40),   # 2 rows of one 20-byte block
    ("embd.weight", [64, 1], T_Q8_0, 68),  # 1 row of two 34-byte blocks
    ("h.weight", [3, 2], T_F16, 12),
    ("b.weight", [2], T_BF16, 4),
]


def build(version=3, kvs=GOOD_KV, tensors=GOOD_TENSORS, alignment=32, offsets=None,
          magic=b"GGUF", counts=None):
    placed, at = [], 0
    for i, (name, dims, ttype, nbytes) in enumerate(tensors):
        off = offsets[i] if offsets else at
        placed.append((name, dims, ttype, off))
        at = (max(at, off + nbytes) + alignment - 1) // alignment * alignment
    tc, kc = counts if counts else (len(tensors), len(kvs))
    head = magic + struct.pack("<IQQ", version, tc, kc)
    body = b"".join(kv(*x) for x in kvs) + b"".join(tensor_info(*p) for p in placed)
    out = head + body
    out += b"\0" * ((-len(out)) % alignment)
    data = bytearray(at)
    for i in range(len(data)):
        data[i] = (i * 7) % 251
    return out + bytes(data)


# A tiny llama decoder (2 layers, hidden 32, 4 heads over 2 KV heads, FFN 64, vocabulary
# 64) with every tensor type the importer dequantizes, and its broken variants.
T_Q4_0 = 2
T_Q4_K, T_Q5_K, T_Q6_K = 12, 13, 14
LLAMA = dict(layers=2, hidden=32, heads=4, kv_heads=2, ffn=64, vocab=64)


def llama_kvs(**changes):
    c = dict(LLAMA, **changes)
    return [("general.architecture", STRING, c.get("arch", "llama")),
            ("llama.block_count", U32, c["layers"]), ("llama.context_length", U32, 128),
            ("llama.embedding_length", U32, c["hidden"]),
            ("llama.feed_forward_length", U32, c["ffn"]),
            ("llama.attention.head_count", U32, c["heads"]),
            ("llama.attention.head_count_kv", U32, c["kv_heads"]),
            ("llama.rope.freq_base", F32, 10000.0),
            ("llama.attention.layer_norm_rms_epsilon", F32, 1e-5)] + c.get("extra", [])


def tokenizer_kvs(pre="smollm", model="gpt2"):
    """A byte-level BPE tokenizer of the model's 64 tokens, as llama.cpp stores one: an end of
    text (control), single characters in GPT-2's byte alphabet (Ġ is the space, Ċ the
    newline), and seven merges."""
    chars = list("abcdefghijklmnopqrstuvwxyz") + ["\u0120", "\u010a"] + list("0123456789.,'")
    merged = ["he", "\u0120t", "\u0120the", "at", "cat", "\u0120cat", "'s"]
    merges = ["h e", "\u0120 t", "\u0120t he", "a t", "c at", "\u0120 cat", "' s"]
    tokens = ["<|endoftext|>"] + chars + merged
    tokens += list("ABCDEFGHIJKLMNOPQRSTUVWXYZ")[:LLAMA["vocab"] - len(tokens)]
    types = [3] + [1] * (len(tokens) - 1)
    return [("tokenizer.ggml.model", STRING, model), ("tokenizer.ggml.pre", STRING, pre),
            ("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)),
            ("tokenizer.ggml.token_type", ARRAY, (I32, types)),
            ("tokenizer.ggml.merges", ARRAY, (STRING, merges)),
            ("tokenizer.ggml.eos_token_id", U32, 0)]


def block_bytes(ttype, count):
    per = {T_F32: (1, 4), T_F16: (1, 2), T_BF16: (1, 2), T_Q4_0: (32, 18), T_Q4_1: (32, 20),
           T_Q8_0: (32, 34), 9: (32, 36), T_Q4_K: (256, 144), T_Q5_K: (256, 176),
           T_Q6_K: (256, 210)}[ttype]
    return count // per[0] * per[1]


def llama_tensors(drop=(), extra=(), types=None, ffn=None):
    L = LLAMA
    h, f, kv = L["hidden"], ffn or L["ffn"], L["kv_heads"] * L["hidden"] // L["heads"]
    t = [("token_embd.weight", [h, L["vocab"]], T_Q8_0)]
    for l in range(L["layers"]):
        b = "blk.%d." % l
        t += [(b + "attn_norm.weight", [h], T_F32), (b + "attn_q.weight", [h, h], T_Q4_1),
              (b + "attn_k.weight", [h, kv], T_Q4_1), (b + "attn_v.weight", [h, kv], T_Q4_0),
              (b + "attn_output.weight", [h, h], T_F16), (b + "ffn_norm.weight", [h], T_F32),
              (b + "ffn_gate.weight", [h, f], T_Q8_0), (b + "ffn_up.weight", [h, f], T_BF16),
              (b + "ffn_down.weight", [f, h], T_Q4_1)]
    t += [("output_norm.weight", [h], T_F32)] + list(extra)
    out = []
    for name, dims, ttype in t:
        if name in drop:
            continue
        ttype = (types or {}).get(name, ttype)
        n = 1
        for d in dims:
            n *= d
        out.append((name, dims, ttype, block_bytes(ttype, n)))
    return out


def llama_data(tensors):
    """Plausible values for each block: fp16 scales/minimums in a small range, any codes."""
    blobs = []
    for i, (name, dims, ttype, nbytes) in enumerate(tensors):
        b = bytearray((j * 37 + i * 11) % 256 for j in range(nbytes))
        if ttype in (T_Q4_0, T_Q4_1, T_Q8_0):
            step = {T_Q4_0: 18, T_Q4_1: 20, T_Q8_0: 34}[ttype]
            for k in range(0, nbytes, step):
                b[k:k + 2] = struct.pack("<e", 0.01 + 0.001 * (k // step % 7))
                if ttype == T_Q4_1:
                    b[k + 2:k + 4] = struct.pack("<e", -0.05 - 0.002 * (k // step % 5))
        elif ttype in (T_Q4_K, T_Q5_K):  # fp16 d, dmin; 12 bytes of 6-bit scales/mins; codes
            step = 144 if ttype == T_Q4_K else 176
            for k in range(0, nbytes, step):
                b[k:k + 4] = struct.pack("<ee", 0.004 + 0.0005 * (k // step % 3), 0.002)
        elif ttype == T_Q6_K:  # codes; 16 int8 scales (any, some negative); fp16 d last
            for k in range(0, nbytes, 210):
                b[k + 208:k + 210] = struct.pack("<e", 0.0003 + 0.0001 * (k // 210 % 3))
        elif ttype == T_F32:
            b = bytearray(struct.pack("<%df" % (nbytes // 4), *[1.0 + 0.01 * j for j in range(nbytes // 4)]))
        elif ttype == T_F16:
            b = bytearray(struct.pack("<%de" % (nbytes // 2), *[0.02 * ((j % 9) - 4) for j in range(nbytes // 2)]))
        elif ttype == T_BF16:
            vals = struct.pack("<%df" % (nbytes // 2), *[0.03 * ((j % 7) - 3) for j in range(nbytes // 2)])
            b = bytearray(b"".join(vals[4 * j + 2:4 * j + 4] for j in range(nbytes // 2)))
        blobs.append(bytes(b))
    return blobs


def build_llama(kvs=None, tensors=None):
    kvs = kvs if kvs is not None else llama_kvs()
    tensors = tensors if tensors is not None else llama_tensors()
    out = build(kvs=kvs, tensors=tensors)
    # Replace the filler data with llama_data's values, tensor by tensor.
    head_end = len(out) - sum((n + 31) // 32 * 32 for *_, n in tensors)
    data = bytearray(out[head_end:])
    at = 0
    for (name, dims, ttype, n), blob in zip(tensors, llama_data(tensors)):
        data[at:at + n] = blob
        at = (at + n + 31) // 32 * 32
    return out[:head_end] + bytes(data)


def raw(kv_count, body):
    """A version-3 header with no tensors and `kv_count` entries, then `body` as it is."""
    return b"GGUF" + struct.pack("<IQQ", 3, 0, kv_count) + body


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    good = build()
    files = {
        "good.gguf": good,
        "v2.gguf": build(version=2),
        "v1.gguf": build(version=1),
        "v4.gguf": build(version=4),
        "magic.gguf": build(magic=b"GGML"),
        "short.gguf": good[:20],
        "truncated.gguf": good[:-30],
        "huge-kv-count.gguf": build(counts=(len(GOOD_TENSORS), 2 ** 40)),
        "huge-tensor-count.gguf": build(counts=(2 ** 50, len(GOOD_KV))),
        "key-past-end.gguf": raw(1, struct.pack("<Q", 2 ** 62) + b"k" * 16),
        "string-past-end.gguf": raw(1, gstr("k") + struct.pack("<IQ", STRING, 2 ** 62) + b"v" * 16),
        "array-huge.gguf": raw(1, gstr("k") + struct.pack("<IIQ", ARRAY, U32, 2 ** 50) + b"\0" * 16),
        "unknown-value-type.gguf": build(kvs=[("k", U8, 1)]).replace(
            gstr("k") + struct.pack("<I", U8), gstr("k") + struct.pack("<I", 13)),
        "bad-bool.gguf": build(kvs=[("k", U8, 2)]).replace(
            gstr("k") + struct.pack("<I", U8), gstr("k") + struct.pack("<I", BOOL)),
        "dup-key.gguf": build(kvs=GOOD_KV + [("llama.block_count", U32, 2)]),
        "deep-array.gguf": build(kvs=[("k", ARRAY, (ARRAY, [(ARRAY, [(ARRAY, [(ARRAY, [(ARRAY, [
            (ARRAY, [(ARRAY, [(ARRAY, [(I32, [1])])])])])])])])]))]),
        "alignment-3.gguf": build(kvs=GOOD_KV + [("general.alignment", U32, 3)]),
        "alignment-u64.gguf": build(kvs=GOOD_KV + [("general.alignment", U64, 64)]),
        "alignment-64.gguf": build(kvs=GOOD_KV + [("general.alignment", U32, 64)], alignment=64),
        "misaligned.gguf": build(offsets=[0, 4, 64, 160, 192]),
        "overlap.gguf": build(offsets=[0, 0, 64, 160, 192]),
        "unknown-type.gguf": build(tensors=[("x", [4], 99, 16)]),
        "five-dims.gguf": build(tensors=[("x", [1, 1, 1, 1, 4], T_F32, 16)]),
        "zero-dim.gguf": build(tensors=[("x", [4, 0], T_F32, 0)]),
        "partial-block.gguf": build(tensors=[("x", [16, 2], T_Q4_1, 20)]),
        "dup-tensor.gguf": build(tensors=[("x", [4], T_F32, 16), ("x", [4], T_F32, 16)]),
        "dim-overflow.gguf": build(tensors=[("x", [2 ** 40, 2 ** 40], T_F32, 0)]),
    }
    files.update({
        "llama.gguf": build_llama(),
        "llama-missing.gguf": build_llama(tensors=llama_tensors(drop=("blk.1.ffn_up.weight",))),
        "llama-extra.gguf": build_llama(tensors=llama_tensors(extra=[("rope_freqs.weight", [4], T_F32)])),
        # FFN 256: the down projections' K is one K-quant super-block.
        "llama-kquants.gguf": build_llama(kvs=llama_kvs(ffn=256), tensors=llama_tensors(
            ffn=256, types={"blk.0.ffn_down.weight": T_Q4_K, "blk.1.ffn_down.weight": T_Q6_K})),
        "llama-untied.gguf": build_llama(tensors=llama_tensors(extra=[("output.weight", [32, 64], T_Q8_0)])),
        "llama-q8_1.gguf": build_llama(tensors=llama_tensors(types={"blk.0.ffn_down.weight": 9})),
        "llama-shape.gguf": build_llama(tensors=[t if t[0] != "blk.0.attn_k.weight" else
                                                 ("blk.0.attn_k.weight", [32, 32], T_Q4_1, 640)
                                                 for t in llama_tensors()]),
        "llama-arch.gguf": build_llama(kvs=llama_kvs(arch="gemma")),
        "llama-no-eps.gguf": build_llama(kvs=[kv for kv in llama_kvs() if "epsilon" not in kv[0]]),
        "llama-rope-scaling.gguf": build_llama(kvs=llama_kvs(extra=[("llama.rope.scaling.type", STRING, "yarn")])),
        "llama-heads.gguf": build_llama(kvs=llama_kvs(heads=5)),
        "llama-tok.gguf": build_llama(kvs=llama_kvs(extra=tokenizer_kvs())),
        "llama-tok-llama3.gguf": build_llama(kvs=llama_kvs(extra=tokenizer_kvs(pre="llama-bpe") + [
            ("tokenizer.ggml.bos_token_id", U32, 0), ("tokenizer.ggml.add_bos_token", BOOL, 1)])),
        "llama-tok-llama3-nobos.gguf": build_llama(kvs=llama_kvs(extra=tokenizer_kvs(pre="llama-bpe"))),
        "llama-tok-qwen35.gguf": build_llama(kvs=llama_kvs(extra=tokenizer_kvs(pre="qwen35"))),
        "llama-tok-spm.gguf": build_llama(kvs=llama_kvs(extra=tokenizer_kvs(model="llama"))),
    })
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
