#!/usr/bin/env python3
"""Writes the ~100M-parameter LLaMA shape of bench/cpu-vs-ort (12 layers, hidden 768, 12
heads over 4 KV heads, FFN 2048, vocabulary 32000, untied LM head) as an F32 GGUF with
seeded random weights (normal, std 0.02; norms uniform in [0.8, 1.2]) and the Llama 2
tokenizer of models/llama2-tokenizer, so that llama.cpp and midllama run the same weights
(bench/cpu-vs-llamacpp/run.sh with MIDLLAMA_BENCH_MODEL=llama100m). Random weights: the
text means nothing, the speed is the point.

Usage: make-llama100m-gguf.py TOKENIZER_BIN OUT.gguf   (needs numpy and gguf)
"""
import struct
import sys

import gguf
import numpy as np

LAYERS, HIDDEN, HEADS, KV_HEADS, FFN, VOCAB, CONTEXT = 12, 768, 12, 4, 2048, 32000, 2048


def llama2c_vocab(path):
    """The pieces and scores of a llama2.c tokenizer.bin, back in SentencePiece's spelling
    (llama2.c's export wrote the word-start mark as a space and BOS/EOS as "\\n<s>\\n")."""
    with open(path, "rb") as f:
        data = f.read()
    at = 4  # int32 max_token_length
    pieces, scores = [], []
    for i in range(VOCAB):
        score, length = struct.unpack_from("<fi", data, at)
        at += 8
        piece = data[at:at + length].decode("utf-8")
        at += length
        if i == 1:
            piece = "<s>"
        elif i == 2:
            piece = "</s>"
        pieces.append(piece.replace(" ", "\u2581"))
        scores.append(score)
    if at != len(data):
        sys.exit(f"{path}: {len(data) - at} bytes after {VOCAB} pieces: not the Llama 2 vocabulary")
    types = [gguf.TokenType.UNKNOWN if i == 0 else gguf.TokenType.CONTROL if i in (1, 2)
             else gguf.TokenType.BYTE if 3 <= i < 259 else gguf.TokenType.NORMAL
             for i in range(VOCAB)]
    return pieces, scores, types


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    tokenizer, out = sys.argv[1:]
    pieces, scores, types = llama2c_vocab(tokenizer)
    rng = np.random.default_rng(100)
    w = gguf.GGUFWriter(out, "llama")
    w.add_context_length(CONTEXT)
    w.add_embedding_length(HIDDEN)
    w.add_block_count(LAYERS)
    w.add_feed_forward_length(FFN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_dimension_count(HIDDEN // HEADS)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(VOCAB)
    w.add_file_type(0)  # all F32
    w.add_tokenizer_model("llama")
    w.add_token_list(pieces)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)

    def matrix(rows, cols):  # [rows, cols] row-major: GGUF's ne = [cols, rows]
        return (rng.standard_normal((rows, cols), dtype=np.float32) * 0.02).astype(np.float32)

    def norm():
        return rng.uniform(0.8, 1.2, HIDDEN).astype(np.float32)

    head_dim = HIDDEN // HEADS
    w.add_tensor("token_embd.weight", matrix(VOCAB, HIDDEN))
    for layer in range(LAYERS):
        b = f"blk.{layer}."
        w.add_tensor(b + "attn_norm.weight", norm())
        w.add_tensor(b + "attn_q.weight", matrix(HEADS * head_dim, HIDDEN))
        w.add_tensor(b + "attn_k.weight", matrix(KV_HEADS * head_dim, HIDDEN))
        w.add_tensor(b + "attn_v.weight", matrix(KV_HEADS * head_dim, HIDDEN))
        w.add_tensor(b + "attn_output.weight", matrix(HIDDEN, HEADS * head_dim))
        w.add_tensor(b + "ffn_norm.weight", norm())
        w.add_tensor(b + "ffn_gate.weight", matrix(FFN, HIDDEN))
        w.add_tensor(b + "ffn_up.weight", matrix(FFN, HIDDEN))
        w.add_tensor(b + "ffn_down.weight", matrix(HIDDEN, FFN))
    w.add_tensor("output_norm.weight", norm())
    w.add_tensor("output.weight", matrix(VOCAB, HIDDEN))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
