#!/usr/bin/env python3
"""Prints, for every NF4 double-quantized weight in a midllama parameter file, one line
`<weight> <sha256>`: the SHA-256 of its packed codes, its 8-bit absmax codes, their fp32
scales and the fp32 offset, in that order (the `.qweight`, `.absmax`, `.absmax_scale` and
`.absmax_offset` tensors). make-nf4-dq-digests.py prints the same for bitsandbytes' output,
so the two compare with diff. Standard library only (CI has no numpy).

    python3 nf4-digests.py model.nf4.safetensors
"""
import hashlib
import json
import struct
import sys

PARTS = (".qweight", ".absmax", ".absmax_scale", ".absmax_offset")


def main():
    with open(sys.argv[1], "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
        data = f.read()
    names = sorted(k[: -len(".absmax_offset")] for k in header if k.endswith(".absmax_offset"))
    for name in names:
        h = hashlib.sha256()
        for part in PARTS:
            begin, end = header[name + part]["data_offsets"]
            h.update(data[begin:end])
        print(name, h.hexdigest())


if __name__ == "__main__":
    main()
