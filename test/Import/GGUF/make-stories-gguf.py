#!/usr/bin/env python3
"""Writes stories260K (llama2.c checkpoint and tokenizer) as the GGUF file llama.cpp's
llama2.c converter would make: llama architecture, F32 tensors in llama2.c's (Meta's) q/k
row order, and the SentencePiece tokenizer as `tokenizer.ggml.model` = "llama" (pieces with
U+2581 for spaces, scores, token types: unknown, control, byte, normal). Standard library
only (make-gguf.py's writer), so CI needs no gguf package.

    make-stories-gguf.py stories260K.bin tok512.bin OUT.gguf [--bos-id N]

--bos-id writes another <s> id into the metadata (a layout the importer must refuse).
"""
import importlib.util
import os
import struct
import sys

spec = importlib.util.spec_from_file_location(
    "make_gguf", os.path.join(os.path.dirname(os.path.abspath(__file__)), "make-gguf.py"))
g = importlib.util.module_from_spec(spec)
spec.loader.exec_module(g)


def read_checkpoint(path):
    data = open(path, "rb").read()
    dim, hidden, layers, heads, kv_heads, vocab, seq_len = struct.unpack("<7i", data[:28])
    shared = vocab > 0
    vocab = abs(vocab)
    at = 28
    head = dim // heads

    def take(*shape):
        nonlocal at
        count = 1
        for s in shape:
            count *= s
        blob = data[at:at + 4 * count]
        at += 4 * count
        return blob

    w = {"embed": take(vocab, dim), "att_norm": take(layers, dim),
         "wq": take(layers, dim, dim), "wk": take(layers, kv_heads * head, dim),
         "wv": take(layers, kv_heads * head, dim), "wo": take(layers, dim, dim),
         "ffn_norm": take(layers, dim), "w1": take(layers, hidden, dim),
         "w2": take(layers, dim, hidden), "w3": take(layers, hidden, dim),
         "final_norm": take(dim)}
    take(seq_len, head // 2)  # the rotation tables llama2.c stores
    take(seq_len, head // 2)
    if not shared:
        w["output"] = take(vocab, dim)
    cfg = dict(dim=dim, hidden=hidden, layers=layers, heads=heads, kv_heads=kv_heads,
               vocab=vocab, seq_len=seq_len, head=head)
    return cfg, w


def read_tokenizer(path, vocab):
    data = open(path, "rb").read()
    at = 4
    pieces, scores = [], []
    for _ in range(vocab):
        score, length = struct.unpack("<fi", data[at:at + 8])
        at += 8
        pieces.append(data[at:at + length])
        scores.append(score)
        at += length
    return pieces, scores


def main():
    checkpoint, tokenizer, out = sys.argv[1:4]
    bos = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--bos-id" else 1
    c, w = read_checkpoint(checkpoint)
    pieces, scores = read_tokenizer(tokenizer, c["vocab"])
    # llama2.c's export wrote <s> and </s> as "\n<s>\n" and "\n</s>\n" and U+2581 as a space.
    tokens, types = [], []
    for i, p in enumerate(pieces):
        if i == 1:
            p = b"<s>"
        elif i == 2:
            p = b"</s>"
        tokens.append(p.replace(b" ", "\u2581".encode()))
        types.append(2 if i == 0 else 3 if i < 3 else 6 if i < 259 else 1)
    kvs = [("general.architecture", g.STRING, "llama"),
           ("general.name", g.STRING, "stories260K"),
           ("llama.context_length", g.U32, c["seq_len"]),
           ("llama.embedding_length", g.U32, c["dim"]),
           ("llama.block_count", g.U32, c["layers"]),
           ("llama.feed_forward_length", g.U32, c["hidden"]),
           ("llama.rope.dimension_count", g.U32, c["head"]),
           ("llama.attention.head_count", g.U32, c["heads"]),
           ("llama.attention.head_count_kv", g.U32, c["kv_heads"]),
           ("llama.attention.layer_norm_rms_epsilon", g.F32, 1e-5),
           ("llama.rope.freq_base", g.F32, 10000.0),
           ("tokenizer.ggml.model", g.STRING, "llama"),
           ("tokenizer.ggml.tokens", g.ARRAY, (g.STRING, tokens)),
           ("tokenizer.ggml.scores", g.ARRAY, (g.F32, scores)),
           ("tokenizer.ggml.token_type", g.ARRAY, (g.I32, types)),
           ("tokenizer.ggml.unknown_token_id", g.U32, 0),
           ("tokenizer.ggml.bos_token_id", g.U32, bos),
           ("tokenizer.ggml.eos_token_id", g.U32, 2),
           ("tokenizer.ggml.add_bos_token", g.BOOL, 1)]
    d, hd, kvd, L = c["dim"], c["hidden"], c["kv_heads"] * c["head"], c["layers"]

    def layer(blob, i, rows, cols):
        return blob[4 * i * rows * cols:4 * (i + 1) * rows * cols]

    tensors = [("token_embd.weight", [d, c["vocab"]], w["embed"])]
    for i in range(L):
        b = f"blk.{i}."
        tensors += [(b + "attn_norm.weight", [d], layer(w["att_norm"], i, 1, d)),
                    (b + "attn_q.weight", [d, d], layer(w["wq"], i, d, d)),
                    (b + "attn_k.weight", [d, kvd], layer(w["wk"], i, kvd, d)),
                    (b + "attn_v.weight", [d, kvd], layer(w["wv"], i, kvd, d)),
                    (b + "attn_output.weight", [d, d], layer(w["wo"], i, d, d)),
                    (b + "ffn_norm.weight", [d], layer(w["ffn_norm"], i, 1, d)),
                    (b + "ffn_gate.weight", [d, hd], layer(w["w1"], i, hd, d)),
                    (b + "ffn_down.weight", [hd, d], layer(w["w2"], i, d, hd)),
                    (b + "ffn_up.weight", [d, hd], layer(w["w3"], i, hd, d))]
    tensors.append(("output_norm.weight", [d], w["final_norm"]))
    if "output" in w:
        tensors.append(("output.weight", [d, c["vocab"]], w["output"]))
    out_bytes = g.build(kvs=kvs, tensors=[(n, dims, g.T_F32, len(b)) for n, dims, b in tensors])
    # build() writes filler data after the header: put each tensor's bytes at its offset.
    data_len = sum((len(b) + 31) // 32 * 32 for *_, b in tensors)
    head = out_bytes[:len(out_bytes) - data_len]
    data = bytearray(data_len)
    at = 0
    for _, _, b in tensors:
        data[at:at + len(b)] = b
        at = (at + len(b) + 31) // 32 * 32
    with open(out, "wb") as f:
        f.write(head + bytes(data))


if __name__ == "__main__":
    main()
