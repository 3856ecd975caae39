"""Overwrites one tensor of a safetensors file with NaN, in place (for the tests of what
midllama-run does with NaN weights). Usage: poison-weight.py FILE TENSOR"""
import json
import struct
import sys

path, name = sys.argv[1], sys.argv[2]
with open(path, "r+b") as f:
    (header_len,) = struct.unpack("<Q", f.read(8))
    header = json.loads(f.read(header_len))
    entry = header[name]
    assert entry["dtype"] == "F32", entry
    begin, end = entry["data_offsets"]
    f.seek(8 + header_len + begin)
    f.write(struct.pack("<f", float("nan")) * ((end - begin) // 4))
