#!/usr/bin/env python3
"""Golden digests of bitsandbytes' NF4 with double quantization (quantize_4bit, blocksize
64, compress_statistics=True, CPU) of every decoder-layer projection of a model, in
nf4-digests.py's format: `<weight> <sha256 of codes, 8-bit absmax codes, their fp32
scales, fp32 offset>`. The input is the fp32 parameter file midllama-import wrote, so both
sides quantize the same values. Not part of CI (needs torch, bitsandbytes, numpy); the
committed digests were made with torch 2.15.0, bitsandbytes 0.50.2:

    midllama-import stories260K.bin -o m.mlir          # writes m.safetensors
    python3 make-nf4-dq-digests.py m.safetensors > nf4-dq-stories260K.sha256
"""
import hashlib
import json
import re
import struct
import sys

import numpy as np
import torch
import bitsandbytes.functional as F


def main():
    with open(sys.argv[1], "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
        data = f.read()
    for name in sorted(k for k in header if re.match(r"^model\.layers\.", k)):
        info = header[name]
        if info["dtype"] != "F32" or len(info["shape"]) != 2:
            continue
        begin, end = info["data_offsets"]
        w = torch.from_numpy(np.frombuffer(data[begin:end], np.float32).copy())
        q, s = F.quantize_4bit(w, blocksize=64, quant_type="nf4", compress_statistics=True)
        h = hashlib.sha256()
        h.update(q.reshape(-1).numpy().astype(np.uint8).tobytes())
        h.update(s.absmax.numpy().astype(np.uint8).tobytes())
        h.update(s.state2.absmax.numpy().astype(np.float32).tobytes())
        h.update(np.float32(s.offset).tobytes())
        print(name, h.hexdigest())


if __name__ == "__main__":
    main()
