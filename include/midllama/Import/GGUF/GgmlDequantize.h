//===- GgmlDequantize.h - ggml tensor types to fp32 -------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The values a GGUF tensor's blocks stand for, as ggml defines them (ggml-quants.c,
// dequantize_row_*), bit-identical to the `gguf` Python package's dequantization (which
// transformers uses to load GGUF files): Q8_0 d·q; Q4_0 d·(q − 8); Q4_1 d·q + m (each
// block's d and m fp16; fp32 product, one rounding of the sum); F16 and BF16 widened; the
// K-quants Q4_K, Q5_K (d·scale·q − dmin·min per sub-block of 32) and Q6_K ((d·scale)·q),
// super-blocks of 256 (test/unittests/Import/GgmlDequantizeTest.cpp: gguf-py's values bit
// for bit). The K-quants are not kept quantized: they are stored as fp32.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_IMPORT_GGUF_GGMLDEQUANTIZE_H
#define MIDLLAMA_IMPORT_GGUF_GGMLDEQUANTIZE_H

#include "midllama/Import/GGUF/GgufFile.h"

#include <cstdint>

namespace midllama::gguf {

/// Whether dequantizeValues reads `type` (F32, F16, BF16, Q4_0, Q4_1, Q8_0 today; the
/// K-quants are not written yet).
bool canDequantize(TensorType type);

/// The `count` values (a whole number of blocks) stored at `src` as `type`, into `dst`.
void dequantizeValues(TensorType type, const uint8_t *src, int64_t count, float *dst);

} // namespace midllama::gguf

#endif // MIDLLAMA_IMPORT_GGUF_GGMLDEQUANTIZE_H
