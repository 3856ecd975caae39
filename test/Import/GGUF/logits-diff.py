#!/usr/bin/env python3
"""Compares two logits files (fp32, as midllama-run --logits-out writes them): prints the
largest absolute difference and fails when it is above ATOL. Standard library only.

    logits-diff.py A.bin B.bin ATOL
"""
import array
import sys

a, b = array.array("f"), array.array("f")
a.frombytes(open(sys.argv[1], "rb").read())
b.frombytes(open(sys.argv[2], "rb").read())
if len(a) != len(b):
    sys.exit("logits-diff: %d values against %d" % (len(a), len(b)))
diff = max(abs(x - y) for x, y in zip(a, b))
print("max |a - b| = %.2g over %d values" % (diff, len(a)))
print("OK" if diff <= float(sys.argv[3]) else "FAILED")
sys.exit(0 if diff <= float(sys.argv[3]) else 1)
