#!/usr/bin/env python3
"""Writes a LLaMA-shaped decoder as a decomposed ONNX graph (standard ops only, as
torch.onnx.export writes them) with a KV cache, fp32 weights as external data,
deterministic synthetic values: the model both ONNX Runtime and midllama run in the CPU
benchmark.

Inputs: input_ids, position_ids [batch, seq] int64; past_key_values.N.key/value
[batch, kv_heads, past, head_dim]. Outputs: logits [batch, seq, vocab] and
present.N.key/value. The embedding is tied to the LM head.

Usage: make_llama_onnx.py OUT_DIR [--layers 12 --hidden 768 --heads 12 --kv-heads 4
       --intermediate 2048 --vocab 32000]   (needs onnx and numpy)
"""
import argparse
import os

import numpy as np
from onnx import TensorProto, helper, numpy_helper, save_model


def to_model(a, d, nodes, inits, cache_inputs, cache_outputs):
    """The graph of `nodes` with its inputs (ids, positions, the past cache) and outputs
    (logits, the present cache) declared."""
    dims = ["batch", "seq"]
    graph_inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, dims),
                    helper.make_tensor_value_info("position_ids", TensorProto.INT64, dims)]
    cache = ["batch", a.kv_heads, "past", d]
    graph_inputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, cache)
                     for n in cache_inputs]
    graph_outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT,
                                                   ["batch", "seq", a.vocab])]
    graph_outputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT,
                                                    ["batch", a.kv_heads, "total", d])
                      for n in cache_outputs]
    graph = helper.make_graph(nodes, "llama", graph_inputs, graph_outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)],
                              producer_name="midllama bench/cpu-vs-ort/make_llama_onnx.py")
    model.ir_version = 9
    return model


def build(a):
    rng = np.random.default_rng(0)
    d = a.hidden // a.heads
    nodes, inits = [], []
    counter = [0]

    def name(prefix):
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def init(prefix, array):
        n = name(prefix)
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), n))
        return n

    def const(array):
        return init("c", np.asarray(array))

    def op(kind, inputs, **attrs):
        out = name(kind.lower())
        nodes.append(helper.make_node(kind, inputs, [out], name=out + "_node", **attrs))
        return out

    def weight(rows, cols):  # [in, out] as MatMul reads it, scaled like a trained model
        return init("w", (rng.standard_normal((rows, cols), dtype=np.float32) /
                          np.sqrt(rows)).astype(np.float32))

    def rms_norm(x):
        gamma = init("g", rng.uniform(0.8, 1.2, a.hidden).astype(np.float32))
        ms = op("ReduceMean", [op("Pow", [x, const(np.float32(2))]),
                               const(np.array([-1], np.int64))], keepdims=1)
        r = op("Reciprocal", [op("Sqrt", [op("Add", [ms, const(np.float32(1e-5))])])])
        return op("Mul", [gamma, op("Mul", [x, r])])

    def heads(x, n):
        r = op("Reshape", [x, const(np.array([0, 0, n, d], np.int64))])
        return op("Transpose", [r], perm=[0, 2, 1, 3])

    def rotate(x, cos, sin):
        half = d // 2
        i64 = lambda v: const(np.array([v], np.int64))
        lo = op("Slice", [x, i64(0), i64(half), i64(3), i64(1)])
        hi = op("Slice", [x, i64(half), i64(2**63 - 1), i64(3), i64(1)])
        rh = op("Concat", [op("Neg", [hi]), lo], axis=-1)
        return op("Add", [op("Mul", [x, cos]), op("Mul", [rh, sin])])

    embed = init("embed", (rng.standard_normal((a.vocab, a.hidden), dtype=np.float32) *
                           0.02).astype(np.float32))
    h = op("Gather", [embed, "input_ids"], axis=0)

    inv = (1.0 / 10000.0 ** (np.arange(0, d, 2, dtype=np.float64) / d)).astype(np.float32)
    posf = op("Cast", [op("Unsqueeze", ["position_ids", const(np.array([2], np.int64))])],
              to=TensorProto.FLOAT)
    freqs = op("Mul", [posf, init("inv_freq", inv)])
    angles = op("Concat", [freqs, freqs], axis=-1)
    one = const(np.array([1], np.int64))
    cos = op("Unsqueeze", [op("Cos", [angles]), one])
    sin = op("Unsqueeze", [op("Sin", [angles]), one])

    # Causal mask over past + new positions: -inf where key j > query's absolute position.
    seq = op("Gather", [op("Shape", ["input_ids"]), const(np.int64(1))], axis=0)
    past = op("Gather", [op("Shape", ["past_key_values.0.key"]), const(np.int64(2))], axis=0)
    total = op("Add", [past, seq])
    qpos = op("Range", [past, total, const(np.int64(1))])
    kpos = op("Range", [const(np.int64(0)), total, const(np.int64(1))])
    later = op("Less", [op("Unsqueeze", [qpos, const(np.array([1], np.int64))]),
                        op("Unsqueeze", [kpos, const(np.array([0], np.int64))])])
    mask = op("Where", [later, const(np.float32(-np.inf)), const(np.float32(0))])

    outputs, inputs = [], []
    rep = a.heads // a.kv_heads
    for layer in range(a.layers):
        x = rms_norm(h)
        q = rotate(heads(op("MatMul", [x, weight(a.hidden, a.heads * d)]), a.heads), cos, sin)
        k = rotate(heads(op("MatMul", [x, weight(a.hidden, a.kv_heads * d)]), a.kv_heads),
                   cos, sin)
        v = heads(op("MatMul", [x, weight(a.hidden, a.kv_heads * d)]), a.kv_heads)
        pk, pv = f"past_key_values.{layer}.key", f"past_key_values.{layer}.value"
        inputs += [pk, pv]
        kc = f"present.{layer}.key"
        vc = f"present.{layer}.value"
        nodes.append(helper.make_node("Concat", [pk, k], [kc], axis=2, name=kc + "_node"))
        nodes.append(helper.make_node("Concat", [pv, v], [vc], axis=2, name=vc + "_node"))
        outputs += [kc, vc]

        def repeat(t):
            if rep == 1:
                return t
            u = op("Unsqueeze", [t, const(np.array([2], np.int64))])
            e = op("Expand", [u, const(np.array([1, 1, rep, 1, 1], np.int64))])
            return op("Reshape", [e, const(np.array([0, a.heads, -1, d], np.int64))])

        kt = op("Transpose", [repeat(kc)], perm=[0, 1, 3, 2])
        scores = op("Mul", [op("MatMul", [q, kt]), const(np.float32(1 / np.sqrt(d)))])
        probs = op("Softmax", [op("Add", [scores, mask])], axis=-1)
        o = op("Transpose", [op("MatMul", [probs, repeat(vc)])], perm=[0, 2, 1, 3])
        o = op("Reshape", [o, const(np.array([0, 0, a.hidden], np.int64))])
        h = op("Add", [h, op("MatMul", [o, weight(a.heads * d, a.hidden)])])
        x = rms_norm(h)
        g = op("MatMul", [x, weight(a.hidden, a.intermediate)])
        u = op("MatMul", [x, weight(a.hidden, a.intermediate)])
        act = op("Mul", [op("Mul", [g, op("Sigmoid", [g])]), u])
        h = op("Add", [h, op("MatMul", [act, weight(a.intermediate, a.hidden)])])
    x = rms_norm(h)
    nodes.append(helper.make_node("MatMul", [x, op("Transpose", [embed], perm=[1, 0])],
                                  ["logits"], name="lm_head"))

    return to_model(a, d, nodes, inits, inputs, outputs)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--hidden", type=int, default=768)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--kv-heads", type=int, default=4)
    p.add_argument("--intermediate", type=int, default=2048)
    p.add_argument("--vocab", type=int, default=32000)
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    model = build(a)
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer if len(t.dims) >= 1)
    save_model(model, os.path.join(a.out, "model.onnx"), save_as_external_data=True,
               all_tensors_to_one_file=True, location="model.onnx.data", size_threshold=1024)
    print(f"wrote {a.out}/model.onnx: {a.layers} layers, hidden {a.hidden}, "
          f"{params / 1e6:.1f}M parameters")


if __name__ == "__main__":
    main()
