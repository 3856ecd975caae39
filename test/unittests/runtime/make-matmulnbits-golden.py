#!/usr/bin/env python3
"""Writes ONNX Runtime's MatMulNBits products at accuracy_level 4 (int8 activations) and 0
(fp32), the reference MatMulNBitsInt8Test.cpp compares the CPU kernels with (not part of
CI: CI has no onnxruntime).

Each case: one MatMulNBits node (4 bits, com.microsoft), random input A [M, K], random
4-bit codes, fp32 scales and, in one case, 4-bit zero points. ONNX Runtime pads K to whole
blocks; the file holds the codes as midllama stores them (rows of K codes, low nibble
first, no padding). Layout, little-endian: int32 case count, then per case int32 M, K, N,
block_size, has_zero_points; float32 A [M*K]; uint8 codes [N*K/2]; float32 scales
[N*blocks]; uint8 zero points [N*blocks] (one per byte; 8 when absent); float32
acc4 [M*N]; float32 acc0 [M*N].

Usage: python3 make-matmulnbits-golden.py   (needs onnx, onnxruntime, numpy; the committed
file was made with onnxruntime 1.32.0, onnx 1.23.2, numpy 2.4.6, CPU execution provider, 1
thread, on an AVX-512 VNNI CPU)
"""
import os
import struct

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "Inputs", "matmulnbits-acc4-golden.bin")

# (M, K, N, block_size, zero points): spans of 32, 64 and 128 columns, a short last
# block (320 = 2.5 x 128), zero points on the longest span; M = 6 covers the prefill
# kernel (4 or more rows); its first rows, decode.
CASES = [(6, 256, 48, 32, False), (6, 256, 48, 64, False), (6, 320, 48, 128, True)]


def run(m, k, n, block, a, blob, scales, zp, level):
    inputs = ["A", "B", "S"] + (["Z"] if zp is not None else [])
    node = helper.make_node("MatMulNBits", inputs, ["Y"], domain="com.microsoft", K=k, N=n,
                            bits=4, block_size=block, accuracy_level=level)
    inits = [numpy_helper.from_array(blob, "B"), numpy_helper.from_array(scales, "S")]
    if zp is not None:
        inits.append(numpy_helper.from_array(zp, "Z"))
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("A", TensorProto.FLOAT, [m, k])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [m, n])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21),
                                                    helper.make_opsetid("com.microsoft", 1)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    return session.run(None, {"A": a})[0].astype(np.float32)


def main():
    rng = np.random.default_rng(2026)
    out = [struct.pack("<i", len(CASES))]
    for m, k, n, block, with_zp in CASES:
        blocks = -(-k // block)
        a = rng.standard_normal((m, k)).astype(np.float32)
        codes = rng.integers(0, 16, (n, k)).astype(np.uint8)
        scales = (0.01 + 0.1 * rng.random((n, blocks))).astype(np.float32)
        zeros = rng.integers(0, 16, (n, blocks)).astype(np.uint8) if with_zp else \
            np.full((n, blocks), 8, np.uint8)
        padded = np.zeros((n, blocks * block), np.uint8)
        padded[:, :k] = codes
        blob = (padded[:, 0::2] | (padded[:, 1::2] << 4)).reshape(n, blocks, block // 2)
        zp = None
        if with_zp:  # two 4-bit zero points per byte, each row padded to whole bytes
            z = np.zeros((n, blocks + blocks % 2), np.uint8)
            z[:, :blocks] = zeros
            zp = (z[:, 0::2] | (z[:, 1::2] << 4)).reshape(-1)
        acc4 = run(m, k, n, block, a, blob, scales.reshape(-1), zp, 4)
        acc0 = run(m, k, n, block, a, blob, scales.reshape(-1), zp, 0)
        stored = (codes[:, 0::2] | (codes[:, 1::2] << 4)).astype(np.uint8)
        out.append(struct.pack("<5i", m, k, n, block, int(with_zp)))
        for array in (a, stored, scales, zeros, acc4, acc0):
            out.append(np.ascontiguousarray(array).tobytes())
        print(f"M {m} K {k} N {n} block {block} zero points {with_zp}: "
              f"|acc4 - acc0| max {np.abs(acc4 - acc0).max():.4g}")
    with open(OUT, "wb") as f:
        f.write(b"".join(out))
    print("onnxruntime", ort.__version__, "onnx", onnx.__version__, "numpy", np.__version__,
          "->", OUT)


if __name__ == "__main__":
    main()
