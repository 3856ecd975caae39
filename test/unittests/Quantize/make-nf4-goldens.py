#!/usr/bin/env python3
"""Writes NF4 golden vectors from bitsandbytes (CPU quantize_4bit, blocksize 64), with and
without double quantization, for NF4Test.cpp to check lib/Quantize/NF4.cpp against without
bitsandbytes or torch installed (not part of CI).

Each case is a file Inputs/nf4-<name>.bin:
  "NF4G" u32 version=1, u32 n, u32 double_quant,
  f32[n] input, u32 code_bytes, u8[code_bytes] packed codes,
  u32 blocks, then without double quantization f32[blocks] absmax;
  with it u8[blocks] quantized absmax, u32 blocks2, f32[blocks2] their absmax, f32 offset,
  f32[256] the 8-bit code (bitsandbytes' dynamic map).

Usage: python3 make-nf4-goldens.py   (needs torch and bitsandbytes; the committed outputs
were made with torch 2.15.0, bitsandbytes 0.50.2, CPU)
"""
import os
import struct

import numpy as np
import torch
import bitsandbytes as bnb
import bitsandbytes.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "Inputs")


# Cases about the second quantization level only.
DOUBLE_QUANT_ONLY = {"equal-absmax-300x64", "clustered-400x64"}


def cases():
    rng = np.random.default_rng(2026)
    yield "normal-4x64", rng.standard_normal((4, 64)).astype(np.float32) * 0.02
    # Not a multiple of 64 (a short tail block), and an odd count (a padding nibble).
    yield "tail-1001", rng.standard_normal(1001).astype(np.float32)
    # A block of zeros, a block with one huge value, exact code points, heavy tails.
    x = rng.standard_normal(64 * 6).astype(np.float32)
    x[64:128] = 0
    x[130] = 1e4
    x[192:208] = np.array([-1, -0.5, 0, 0.5, 1, 0.0796, -0.0911, 0.04, 0.03979014977812767,
                           0.7229568362236023, 0.6427869200706482, -0.6, 0.25, 0.2, 0.1, 2],
                          dtype=np.float32)
    x[256:320] = rng.standard_t(2, 64).astype(np.float32)
    yield "special-384", x
    # Enough blocks for several double-quantization blocks of 256 (and a short last one).
    yield "many-700x64", (rng.standard_normal(700 * 64) * rng.uniform(0.01, 3, 700 * 64)).astype(np.float32)
    # Every block with the same absmax: absmax - mean is 0 everywhere, an all-zero block of
    # the second level (scale 0, code 0).
    x = np.tile(np.linspace(-0.5, 0.5, 64, dtype=np.float32), 300)
    yield "equal-absmax-300x64", x
    # Absmax values clustered near their mean, with one block at twice it and one at 0
    # setting the scale: the normalized deviations are tiny, where bitsandbytes' 65536-point code table is not the nearest
    # code (its 8-bit code search, reproduced as is).
    x = rng.standard_normal((400, 64)).astype(np.float32)
    x /= np.abs(x).max(axis=1, keepdims=True)
    x *= (1 + rng.uniform(-2e-5, 2e-5, (400, 1))).astype(np.float32)
    x[7] *= 2  # absmax 2 and 0: the mean stays near 1, the deviations near 0
    x[8] = 0
    yield "clustered-400x64", x.astype(np.float32)


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, x in cases():
        for dq in (True,) if name in DOUBLE_QUANT_ONLY else (False, True):
            t = torch.from_numpy(x.reshape(-1))
            q, s = F.quantize_4bit(t, blocksize=64, quant_type="nf4", compress_statistics=dq)
            out = bytearray(b"NF4G")
            out += struct.pack("<III", 1, x.size, int(dq))
            out += x.reshape(-1).tobytes()
            codes = q.reshape(-1).numpy().astype(np.uint8).tobytes()
            out += struct.pack("<I", len(codes)) + codes
            if dq:
                qa = s.absmax.numpy().astype(np.uint8)
                out += struct.pack("<I", qa.size) + qa.tobytes()
                a2 = s.state2.absmax.numpy().astype(np.float32)
                out += struct.pack("<I", a2.size) + a2.tobytes()
                out += struct.pack("<f", float(s.offset))
                out += s.state2.code.numpy().astype(np.float32).tobytes()
            else:
                a = s.absmax.numpy().astype(np.float32)
                out += struct.pack("<I", a.size) + a.tobytes()
            path = os.path.join(OUT, f"nf4-{name}{'-dq' if dq else ''}.bin")
            with open(path, "wb") as f:
                f.write(out)
            print(path, len(out))
    print("torch", torch.__version__, "bitsandbytes", bnb.__version__)


if __name__ == "__main__":
    main()
