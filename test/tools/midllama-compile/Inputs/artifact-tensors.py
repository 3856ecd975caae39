"""Prints, for each artifact, the target its program was compiled for and what its embedded
CUDA kernel image is, read from the file itself: the safetensors header (8-byte
little-endian length, then JSON), the program's config (runtime/artifact/Program.h:
"MLPROG", u16 version, u32 count, count x (u32 length + key, u32 length + value)) and the
image's first word (the fatbin container's magic)."""
import json
import os
import struct
import sys

FATBIN_MAGIC = 0xBA55ED50


def tensor(f, header, length, name):
    begin, end = header[name]["data_offsets"]
    f.seek(8 + length + begin)
    return f.read(end - begin)


def config(program):
    assert program[:6] == b"MLPROG"
    at = 8
    (count,) = struct.unpack_from("<I", program, at)
    at += 4
    values = {}
    for _ in range(count):
        strings = []
        for _ in range(2):
            (n,) = struct.unpack_from("<I", program, at)
            strings.append(program[at + 4:at + 4 + n].decode())
            at += 4 + n
        values[strings[0]] = strings[1]
    return values


for path in sys.argv[1:]:
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        target = config(tensor(f, header, length, "__program__")).get("target", "?")
        name = os.path.basename(path)
        if "__cuda_kernels__" not in header:
            print(f"{name}: target {target}, no __cuda_kernels__")
            continue
        image = tensor(f, header, length, "__cuda_kernels__")
        (magic,) = struct.unpack_from("<I", image, 0)
        kind = "fatbin" if magic == FATBIN_MAGIC else f"unknown magic {magic:#x}"
        print(f"{name}: target {target}, __cuda_kernels__ {len(image)} bytes, {kind}")
