#!/usr/bin/env python3
"""Writes small one-layer decoders in the decomposed style torch.onnx uses, spelled the
other ways exporters spell it, for the importer's pattern tests (not part of CI).

The real torch.onnx exports of stories260K (Inputs/stories260K-torch-*) cover the common
spelling; these graphs cover the variations a robust raiser must accept (commuted operands
of every commutative op, Cast noise, RMSNorm as Div(x, Sqrt) and as x * Reciprocal(Sqrt) of
x * x or Pow(x, 2), K^T as a plain Transpose, Constant nodes instead of initializers,
theta 500000) and the inputs it must refuse with a clear error (scaled rotary frequencies,
attention without a mask, an unsupported op, a node with too few inputs, a cycle).

Usage: python3 make-decomposed-variants.py OUT_DIR   (needs onnx and numpy; the committed
outputs were made with onnx 1.23.2, numpy 2.4.6; checked to run in onnxruntime 1.32).
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

VOCAB, HIDDEN, HEADS, KV_HEADS, HEAD_DIM, INTER = 32, 16, 2, 1, 8, 24
THETA, EPS = 500000.0, 1e-6


def build(variant):
    rng = np.random.default_rng(7)
    nodes, inits = [], []

    def init(name, array):
        inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def const(name, array):  # a Constant node, not an initializer
        nodes.append(helper.make_node("Constant", [], [name],
                                      value=numpy_helper.from_array(np.asarray(array), name)))
        return name

    def node(op, inputs, output, **attrs):
        nodes.append(helper.make_node(op, inputs, [output], name=output + "_node", **attrs))
        return output

    def weight(name, rows, cols):
        return init(name, (rng.standard_normal((rows, cols)) * 0.2).astype(np.float32))

    def rms_norm(x, gamma, out, div_style):
        xf = node("Cast", [x], out + "_xf", to=TensorProto.FLOAT)  # Cast noise
        if div_style:  # Div(x, Sqrt(eps + mean(x * x))), weight second
            sq = node("Mul", [xf, xf], out + "_sq")
            ms = node("ReduceMean", [sq, const(out + "_axes", np.array([-1], np.int64))],
                      out + "_ms", keepdims=1)
            den = node("Sqrt", [node("Add", [const(out + "_eps", np.float32(EPS)), ms],
                                     out + "_add")], out + "_den")
            n = node("Div", [xf, den], out + "_n")
            return node("Mul", [n, gamma], out)
        sq = node("Pow", [xf, const(out + "_two", np.float32(2.0))], out + "_sq")
        ms = node("ReduceMean", [sq, const(out + "_axes", np.array([-1], np.int64))],
                  out + "_ms", keepdims=1)
        r = node("Reciprocal", [node("Sqrt", [node("Add", [ms, const(out + "_eps",
                                                                     np.float32(EPS))],
                                                   out + "_add")], out + "_den")], out + "_r")
        n = node("Mul", [r, xf], out + "_n")
        return node("Mul", [gamma, n], out)

    def heads(x, n, out):
        r = node("Reshape", [x, const(out + "_shape", np.array([0, 0, n, HEAD_DIM], np.int64))],
                 out + "_r")
        return node("Transpose", [r], out, perm=[0, 2, 1, 3])

    def rotate(x, cos, sin, out):
        half = HEAD_DIM // 2
        c = lambda v: const(out + "_c%d" % len(nodes), np.array([v], np.int64))
        lo = node("Slice", [x, c(0), c(half), c(-1), c(1)], out + "_lo")
        hi = node("Slice", [x, c(half), c(2**63 - 1), c(-1)], out + "_hi")
        rh = node("Concat", [node("Neg", [hi], out + "_neg"), lo], out + "_rh", axis=-1)
        # Commuted: Add(rotate_half(x) * sin, cos * x).
        return node("Add", [node("Mul", [rh, sin], out + "_b"), node("Mul", [cos, x], out + "_a")],
                    out)

    h = node("Gather", [weight("embed", VOCAB, HIDDEN), "input_ids"], "h", axis=0)
    y = rms_norm(h, init("g1", rng.uniform(0.5, 1.5, HIDDEN).astype(np.float32)), "n1", True)
    q = heads(node("MatMul", [y, weight("wq", HIDDEN, HEADS * HEAD_DIM)], "q"), HEADS, "q4")
    k = heads(node("MatMul", [y, weight("wk", HIDDEN, KV_HEADS * HEAD_DIM)], "k"), KV_HEADS, "k4")
    v = heads(node("MatMul", [y, weight("wv", HIDDEN, KV_HEADS * HEAD_DIM)], "v"), KV_HEADS, "v4")

    inv = THETA ** (-np.arange(0, HEAD_DIM, 2, dtype=np.float64) / HEAD_DIM)
    if variant == "scaled-rope":  # Llama-3-style: low frequencies divided by 8
        inv[HEAD_DIM // 4:] /= 8.0
    pos = node("Cast", [node("Unsqueeze", ["position_ids", const("pos_axes", np.array([2]))],
                             "pos3")], "posf", to=TensorProto.FLOAT)
    freqs = node("Mul", [init("inv_freq", inv.astype(np.float32)), pos], "freqs")
    angles = node("Concat", [freqs, freqs], "angles", axis=-1)
    one = const("head_axis", np.array([1], np.int64))
    cos = node("Unsqueeze", [node("Cos", [angles], "cos"), one], "cos4")
    sin = node("Unsqueeze", [node("Sin", [angles], "sin"), one], "sin4")
    q = rotate(q, cos, sin, "qr")
    k = rotate(k, cos, sin, "kr")

    def repeat(x, out):
        u = node("Unsqueeze", [x, const(out + "_axes", np.array([2], np.int64))], out + "_u")
        e = node("Expand", [u, const(out + "_to", np.array([1, 1, HEADS // KV_HEADS, 1, 1],
                                                           np.int64))], out + "_e")
        return node("Reshape", [e, const(out + "_shape", np.array([0, HEADS, -1, HEAD_DIM],
                                                                   np.int64))], out)

    k, v = repeat(k, "k_rep"), repeat(v, "v_rep")
    kt = node("Transpose", [k], "kt", perm=[0, 1, 3, 2])
    scores = node("Div", [node("MatMul", [q, kt], "qk"),
                          const("sqrt_d", np.float32(np.sqrt(HEAD_DIM)))], "scores")
    if variant != "no-mask":
        # Causal mask from the sequence length: -inf where key j > query i.
        seq = node("Gather", [node("Shape", ["input_ids"], "ids_shape"),
                              const("one_i", np.int64(1))], "seq", axis=0)
        r = node("Range", [const("zero_i", np.int64(0)), seq, const("step", np.int64(1))], "r")
        later = node("Less", [node("Unsqueeze", [r, const("ax1", np.array([1]))], "ri"),
                              node("Unsqueeze", [r, const("ax0", np.array([0]))], "rj")], "later")
        mask = node("Where", [later, const("ninf", np.float32(-np.inf)),
                              const("zero_f", np.float32(0))], "mask")
        scores = node("Add", [mask, scores], "masked")  # commuted
    probs = node("Softmax", [scores], "probs", axis=-1)
    o = node("MatMul", [probs, v], "pv")
    o = node("Reshape", [node("Transpose", [o], "o_t", perm=[0, 2, 1, 3]),
                         const("merge", np.array([0, 0, HEADS * HEAD_DIM], np.int64))], "o")
    h2 = node("Add", [node("MatMul", [o, weight("wo", HEADS * HEAD_DIM, HIDDEN)], "attn_out"), h],
              "h2")
    y2 = rms_norm(h2, init("g2", rng.uniform(0.5, 1.5, HIDDEN).astype(np.float32)), "n2", False)
    gate = node("MatMul", [y2, weight("wg", HIDDEN, INTER)], "gate")
    up = node("MatMul", [y2, weight("wu", HIDDEN, INTER)], "up")
    silu = node("Mul", [node("Sigmoid", [gate], "sig"), gate], "silu")  # commuted
    down = node("MatMul", [node("Mul", [up, silu], "act"), weight("wd", INTER, HIDDEN)], "down")
    h3 = node("Add", [h2, down], "h3")
    if variant == "unsupported-op":
        y3 = node("LayerNormalization", [h3, init("g3", np.ones(HIDDEN, np.float32))], "n3",
                  axis=-1)
    else:
        y3 = rms_norm(h3, init("g3", rng.uniform(0.5, 1.5, HIDDEN).astype(np.float32)), "n3",
                      False)
    node("MatMul", [y3, weight("lm_head", HIDDEN, VOCAB)], "logits")

    if variant == "cycle":  # the residual add reads its own output
        for n in nodes:
            if n.output[0] == "h3":
                n.input[1] = "h3"
    if variant == "short-arity":  # a MatMul with one input
        for n in nodes:
            if n.output[0] == "gate":
                del n.input[1]

    graph = helper.make_graph(
        nodes, "decomposed-" + variant,
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "seq", VOCAB])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)],
                              producer_name="midllama make-decomposed-variants.py")
    model.ir_version = 9
    return model


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for variant in ["good", "scaled-rope", "no-mask", "unsupported-op", "short-arity", "cycle"]:
        model = build(variant)
        if variant == "good":
            onnx.checker.check_model(model)
        onnx.save(model, os.path.join(out, variant + ".onnx"))
    try:  # The good graph is a working model: check it runs and is causal.
        import onnxruntime as ort
        sess = ort.InferenceSession(os.path.join(out, "good.onnx"))
        ids = np.array([[1, 5, 9, 3]], np.int64)
        pos = np.arange(4, dtype=np.int64)[None]
        full = sess.run(None, {"input_ids": ids, "position_ids": pos})[0]
        prefix = sess.run(None, {"input_ids": ids[:, :2], "position_ids": pos[:, :2]})[0]
        assert np.allclose(full[:, :2], prefix, atol=1e-5), "not causal"
        print("good.onnx runs in onnxruntime", ort.__version__, "and is causal")
    except ImportError:
        print("onnxruntime not installed: good.onnx not run")


if __name__ == "__main__":
    main()
