#!/usr/bin/env python3
"""Prints the highest-scoring id at each position of a logits file (fp32 [n, vocab], as
midllama-run --logits-out writes it): `position P: ID`. Standard library only.

    top-ids.py LOGITS.bin VOCAB
"""
import array
import sys

values = array.array("f")
with open(sys.argv[1], "rb") as f:
    values.frombytes(f.read())
vocab = int(sys.argv[2])
for p in range(len(values) // vocab):
    row = values[p * vocab:(p + 1) * vocab]
    print("position %d: %d" % (p, max(range(vocab), key=row.__getitem__)))
