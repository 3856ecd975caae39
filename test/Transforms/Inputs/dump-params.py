#!/usr/bin/env python3
"""Prints every tensor of a small safetensors parameter file (but the writer's alignment
padding, `__pad__.*`), one line each, sorted by name: `NAME DTYPE[SHAPE] = v0 v1 ...`. Floats as %.6g (F16 decoded), U8/I32/I64 as
integers, so lit tests can check the exact codes, scales and masks a pass wrote for an
inline test module. Standard library only (tests need no numpy or torch).

    dump-params.py FILE.safetensors
"""
import json
import struct
import sys

FORMATS = {"F32": "f", "F16": "e", "U8": "B", "I8": "b", "I32": "i", "I64": "q"}


def main():
    with open(sys.argv[1], "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    for name in sorted(k for k in header
                       if k != "__metadata__" and not k.startswith("__pad__.")):
        entry = header[name]
        begin, end = entry["data_offsets"]
        fmt = FORMATS[entry["dtype"]]
        count = (end - begin) // struct.calcsize(fmt)
        values = struct.unpack_from("<%d%s" % (count, fmt), data, begin)
        text = " ".join("%.6g" % v if fmt in "fe" else str(v) for v in values)
        shape = "x".join(str(d) for d in entry["shape"])
        print("%s %s[%s] = %s" % (name, entry["dtype"], shape, text))


if __name__ == "__main__":
    main()
