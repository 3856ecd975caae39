#!/usr/bin/env python3
"""Writes a gradient-norm file for --llm-prune-gblm: one F32 [N, K] tensor per projection
of stories260K, in safetensors (standard library only, so tests need no numpy or torch).

    make-gradient-norms.py OUT.safetensors zero|ramp|partial

zero: every norm 0 (GBLM then ranks exactly as Wanda); ramp: norm j / K for input column j
(favours the later columns); partial: ramp without layer 4 (to test the error). Real norms come from a backward pass over calibration text.
"""
import json
import struct
import sys

SHAPES = {"self_attn.q_proj": (64, 64), "self_attn.k_proj": (32, 64),
          "self_attn.v_proj": (32, 64), "self_attn.o_proj": (64, 64),
          "mlp.gate_proj": (172, 64), "mlp.up_proj": (172, 64), "mlp.down_proj": (64, 172)}


def main():
    out, mode = sys.argv[1], sys.argv[2]
    header, blobs, offset = {}, [], 0
    for layer in range(4 if mode == "partial" else 5):
        for role, (n, k) in SHAPES.items():
            values = [0.0 if mode == "zero" else j / k for _ in range(n) for j in range(k)]
            blob = struct.pack("<%df" % len(values), *values)
            name = "model.layers.%d.%s.weight" % (layer, role)
            header[name] = {"dtype": "F32", "shape": [n, k],
                            "data_offsets": [offset, offset + len(blob)]}
            blobs.append(blob)
            offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


if __name__ == "__main__":
    main()
