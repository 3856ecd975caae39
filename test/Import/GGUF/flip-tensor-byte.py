#!/usr/bin/env python3
"""Flips the lowest bit of the first byte of tensor NAME in a safetensors file, in place:
the negative control that shows check-llama-gguf.py sees one changed bit.

    flip-tensor-byte.py FILE.safetensors NAME
"""
import json
import struct
import sys

path, name = sys.argv[1], sys.argv[2]
data = bytearray(open(path, "rb").read())
(n,) = struct.unpack_from("<Q", data, 0)
begin = json.loads(data[8:8 + n])[name]["data_offsets"][0]
data[8 + n + begin] ^= 1
open(path, "wb").write(data)
