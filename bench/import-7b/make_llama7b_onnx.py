#!/usr/bin/env python3
"""Writes a LLaMA-2-7B-shaped ONNX model in the ONNX Runtime GenAI model-builder style
(32 layers, hidden 4096, FFN 11008, 32 heads, vocab 32000, fp16, packed QKV into
GroupQueryAttention with rotary caches, Skip/SimplifiedLayerNormalization, untied LM head),
with its 13 GB of deterministic synthetic weights in one external-data file.

The weights are streamed to disk one tensor at a time (values from numpy's PCG64 seeded by
the tensor's index, scaled by 0.02), so writing needs little memory. Used by run.sh to
measure midllama-import's time and peak memory at 7B scale; needs only onnx and numpy.

    python make_llama7b_onnx.py OUT_DIR [--layers N]
"""
import argparse
import os

import numpy as np
from onnx import TensorProto, helper, save_model

HIDDEN, FFN, HEADS, KV_HEADS, VOCAB, MAX_POS, THETA = 4096, 11008, 32, 32, 32000, 4096, 10000.0
HEAD = HIDDEN // HEADS


class Weights:
    """Appends fp16 tensors to one external-data file and makes their TensorProtos."""

    def __init__(self, path):
        self.path = path
        self.file = open(path, "wb")
        self.offset = 0
        self.count = 0
        self.initializers = []

    def add(self, name, shape, values=None):
        n = int(np.prod(shape))
        if values is None:
            rng = np.random.default_rng(self.count)
            chunk = 1 << 24
            for start in range(0, n, chunk):
                m = min(chunk, n - start)
                self.file.write((rng.standard_normal(m, dtype=np.float32) * 0.02)
                                .astype(np.float16).tobytes())
        else:
            self.file.write(np.asarray(values, dtype=np.float16).reshape(-1).tobytes())
        self.count += 1
        t = TensorProto()
        t.name, t.data_type = name, TensorProto.FLOAT16
        t.dims.extend(shape)
        t.data_location = TensorProto.EXTERNAL
        for key, value in [("location", os.path.basename(self.path)),
                           ("offset", str(self.offset)), ("length", str(n * 2))]:
            entry = t.external_data.add()
            entry.key, entry.value = key, value
        self.offset += n * 2
        self.initializers.append(t)
        return name


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--layers", type=int, default=32)
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    w = Weights(os.path.join(args.out_dir, "model.onnx.data"))
    nodes = []

    def node(op, inputs, outputs, domain="", **attrs):
        nodes.append(helper.make_node(op, inputs, outputs, name=f"/n{len(nodes)}/{op}",
                                      domain=domain, **attrs))
        return outputs

    inv = THETA ** (-np.arange(0, HEAD, 2) / HEAD)
    angles = np.outer(np.arange(MAX_POS), inv)
    cos = w.add("cos_cache", [MAX_POS, HEAD // 2], np.cos(angles))
    sin = w.add("sin_cache", [MAX_POS, HEAD // 2], np.sin(angles))
    embed = w.add("model.embed_tokens.weight", [VOCAB, HIDDEN])

    # Sequence lengths for GroupQueryAttention, as the builder computes them.
    one = helper.make_tensor("one", TensorProto.INT64, [1], [1])
    node("ReduceSum", ["attention_mask", "one"], ["mask_sum"], keepdims=0)
    node("Sub", ["mask_sum", "one"], ["seqlens_i64"])
    node("Cast", ["seqlens_i64"], ["seqlens_k"], to=TensorProto.INT32)
    node("Shape", ["attention_mask"], ["mask_shape"])
    node("Gather", ["mask_shape", "one_scalar"], ["total_i64"], axis=0)
    node("Cast", ["total_i64"], ["total_len"], to=TensorProto.INT32)
    one_scalar = helper.make_tensor("one_scalar", TensorProto.INT64, [], [1])

    x = node("Gather", [embed, "input_ids"], ["embedded"])[0]
    residual, delta = x, None
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
              helper.make_tensor_value_info("attention_mask", TensorProto.INT64,
                                            ["batch", "total"])]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT16,
                                             ["batch", "seq", VOCAB])]
    for i in range(args.layers):
        p = f"model.layers.{i}."
        norm_in = w.add(p + "input_layernorm.weight", [HIDDEN], np.ones(HIDDEN))
        if delta is None:
            h = node("SimplifiedLayerNormalization", [residual, norm_in], [f"l{i}_in"],
                     epsilon=1e-5, axis=-1, stash_type=1)[0]
        else:
            h, _, _, residual = node("SkipSimplifiedLayerNormalization",
                                     [residual, delta, norm_in],
                                     [f"l{i}_in", "", "", f"l{i}_res"], domain="com.microsoft",
                                     epsilon=1e-5)
        qkv = node("MatMul", [h, w.add(p + "attn.qkv_proj.MatMul.weight",
                                       [HIDDEN, (HEADS + 2 * KV_HEADS) * HEAD])], [f"l{i}_qkv"])[0]
        past = [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
        present = [f"present.{i}.key", f"present.{i}.value"]
        for name in past:
            inputs.append(helper.make_tensor_value_info(
                name, TensorProto.FLOAT16, ["batch", KV_HEADS, "past", HEAD]))
        for name in present:
            outputs.append(helper.make_tensor_value_info(
                name, TensorProto.FLOAT16, ["batch", KV_HEADS, "total", HEAD]))
        attn = node("GroupQueryAttention",
                    [qkv, "", "", past[0], past[1], "seqlens_k", "total_len", cos, sin],
                    [f"l{i}_attn"] + present, domain="com.microsoft", num_heads=HEADS,
                    kv_num_heads=KV_HEADS, scale=HEAD ** -0.5, do_rotary=1,
                    rotary_interleaved=0, local_window_size=-1)[0]
        o = node("MatMul", [attn, w.add(p + "attn.o_proj.MatMul.weight", [HIDDEN, HIDDEN])],
                 [f"l{i}_o"])[0]
        norm_post = w.add(p + "post_attention_layernorm.weight", [HIDDEN], np.ones(HIDDEN))
        h2, _, _, residual = node("SkipSimplifiedLayerNormalization", [residual, o, norm_post],
                                  [f"l{i}_post", "", "", f"l{i}_res2"], domain="com.microsoft",
                                  epsilon=1e-5)
        gate = node("MatMul", [h2, w.add(p + "mlp.gate_proj.MatMul.weight", [HIDDEN, FFN])],
                    [f"l{i}_gate"])[0]
        up = node("MatMul", [h2, w.add(p + "mlp.up_proj.MatMul.weight", [HIDDEN, FFN])],
                  [f"l{i}_up"])[0]
        sig = node("Sigmoid", [gate], [f"l{i}_sig"])[0]
        silu = node("Mul", [gate, sig], [f"l{i}_silu"])[0]
        act = node("Mul", [silu, up], [f"l{i}_act"])[0]
        delta = node("MatMul", [act, w.add(p + "mlp.down_proj.MatMul.weight", [FFN, HIDDEN])],
                     [f"l{i}_down"])[0]
        print(f"layer {i} written ({w.offset / 2**30:.1f} GiB)", flush=True)
    final = w.add("model.norm.weight", [HIDDEN], np.ones(HIDDEN))
    out = node("SkipSimplifiedLayerNormalization", [residual, delta, final], ["final"],
               domain="com.microsoft", epsilon=1e-5)[0]
    node("MatMul", [out, w.add("lm_head.weight", [HIDDEN, VOCAB])], ["logits"])
    w.file.close()

    graph = helper.make_graph(nodes, "llama7b", inputs, outputs,
                              initializer=w.initializers + [one, one_scalar])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21),
                                                    helper.make_opsetid("com.microsoft", 1)])
    save_model(model, os.path.join(args.out_dir, "model.onnx"))
    print(f"wrote {args.out_dir}/model.onnx with {w.offset / 1e9:.2f} GB of weights")


if __name__ == "__main__":
    main()
