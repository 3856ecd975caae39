#!/usr/bin/env python3
"""Compares midllama-tokenize's ids (one line of ids per block of lines) with a golden file
made by scripts/make-smollm2-tokenizer.py from Hugging Face `tokenizers` (per block: its
number of ids and the sha256 of the ids as little-endian int32; then the total). Prints the
first blocks that differ, or that all are equal. Standard library only.

    check-goldens.py IDS.txt GOLDEN
"""
import hashlib
import struct
import sys


def digest(ids):
    return hashlib.sha256(struct.pack("<%di" % len(ids), *ids)).hexdigest()


def main():
    ours = [[int(t) for t in line.split()] for line in open(sys.argv[1])]
    golden, total = [], None
    for line in open(sys.argv[2]):
        if line.startswith("#"):
            continue
        f = line.split()
        if f[0] == "total":
            total = (int(f[1]), f[2])
        else:
            golden.append((int(f[1]), f[2]))
    differ = [i for i, (g, o) in enumerate(zip(golden, ours)) if g != (len(o), digest(o))]
    everything = [t for o in ours for t in o]
    print("%d blocks (golden %d), %d ids (golden %d), %d blocks differ%s" % (
        len(ours), len(golden), len(everything), total[0], len(differ),
        (": " + ", ".join("%d (%d ids, golden %d)" % (i, len(ours[i]), golden[i][0])
                          for i in differ[:5])) if differ else ""))
    ok = not differ and len(ours) == len(golden) and (len(everything), digest(everything)) == total
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
