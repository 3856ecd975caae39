#!/usr/bin/env python3
"""Regenerates test/fuzz/onnx-seeds/: small ONNX models that reach each branch of the ONNX
loader (raw and typed data, fp16 in int32_data, external data, an unsupported opset).
Needs the `onnx` and `numpy` packages; not run by CI (the seeds are committed)."""
import os

import numpy as np
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "onnx-seeds")


def model(inits, opset=17):
    graph = helper.make_graph(
        [helper.make_node("Identity", ["w"], ["y"])], "g", [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset),
                                                   helper.make_opsetid("com.microsoft", 1)])


def external(name, location, offset, length, dims):
    t = TensorProto()
    t.name, t.data_type = name, TensorProto.FLOAT
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    for key, value in [("location", location), ("offset", offset), ("length", length)]:
        entry = t.external_data.add()
        entry.key, entry.value = key, value
    return t


def main():
    os.makedirs(OUT, exist_ok=True)
    raw = numpy_helper.from_array(np.arange(8, dtype=np.float16), "raw")
    typed = helper.make_tensor("typed", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0])
    half = helper.make_tensor("half", TensorProto.FLOAT16, [2], [0x3C00, 0x4000])
    i64 = helper.make_tensor("i64", TensorProto.INT64, [2], [5, -1])
    seeds = {
        "inline.onnx": model([raw, typed, half, i64]),
        "external.onnx": model([external("ext", "w.bin", "16", "16", [4])]),
        "external-escape.onnx": model([external("ext", "../w.bin", "0", "16", [4])]),
        "opset12.onnx": model([raw], 12),
    }
    for name, m in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(m.SerializeToString())


if __name__ == "__main__":
    main()
