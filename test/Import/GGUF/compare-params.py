#!/usr/bin/env python3
"""Compares the fp32 tensors two parameter files (safetensors) share by name: prints how
many are equal bit for bit and, for the others, the largest absolute difference; fails when
any differs by more than ATOL or when a 2-D tensor of one file is missing from the other.
Standard library only.

    compare-params.py A.safetensors B.safetensors ATOL
"""
import array
import json
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
        data = f.read()
    header.pop("__metadata__", None)
    return header, data


(ha, da), (hb, db) = read(sys.argv[1]), read(sys.argv[2])
atol = float(sys.argv[3])
matrices = lambda h: {k for k, v in h.items() if len(v["shape"]) == 2}
missing = sorted(matrices(ha) ^ matrices(hb))
equal, worst, compared = 0, 0.0, 0
for name in sorted(set(ha) & set(hb)):
    a, b = ha[name], hb[name]
    if a["dtype"] != "F32" or b["dtype"] != "F32" or a["shape"] != b["shape"]:
        sys.exit(f"compare-params: {name}: {a['dtype']}{a['shape']} against {b['dtype']}{b['shape']}")
    ba = da[a["data_offsets"][0]:a["data_offsets"][1]]
    bb = db[b["data_offsets"][0]:b["data_offsets"][1]]
    compared += 1
    if ba == bb:
        equal += 1
        continue
    xa, xb = array.array("f"), array.array("f")
    xa.frombytes(ba)
    xb.frombytes(bb)
    worst = max(worst, max(abs(x - y) for x, y in zip(xa, xb)))
print(f"{compared} tensors compared, {equal} equal bit for bit, largest difference {worst:.2g}")
for name in missing:
    print("only in one file:", name)
ok = worst <= atol and not missing
print("OK" if ok else "FAILED")
sys.exit(0 if ok else 1)
