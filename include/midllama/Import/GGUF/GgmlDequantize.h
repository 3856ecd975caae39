//===- GgmlDequantize.h - ggml tensor types to fp32 -------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The values a GGUF tensor's blocks stand for, as ggml defines them (ggml-quants.c,
// dequantize_row_*), bit-identical to the `gguf` Python package's dequantization (which
// transformers uses to load GGUF files): Q8_0 d·q; Q4_0 d·(q − 8); Q4_1 d·q + m (each
// block's d and m fp16; fp32 product, one rounding of the sum); Q5_0 d·(q − 16) and Q5_1
// d·q + m (5-bit codes: a nibble and a bit of a 32-bit word); F16 and BF16 widened; the
// K-quants Q4_K, Q5_K (d·scale·q − dmin·min per sub-block of 32) and Q6_K ((d·scale)·q),
// super-blocks of 256 (test/unittests/Import/GgmlDequantizeTest.cpp: gguf-py's values bit
// for bit). kQuantBlock splits a K-quant super-block into codes and exact fp32 sub-block
// scales (and minimums), from which the dequantized values follow with the same single
// rounding: what the importer keeps them as (GgmlRepack.h).
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_IMPORT_GGUF_GGMLDEQUANTIZE_H
#define MIDLLAMA_IMPORT_GGUF_GGMLDEQUANTIZE_H

#include "midllama/Import/GGUF/GgufFile.h"

#include <cstdint>

namespace midllama::gguf {

/// Whether dequantizeValues reads `type` (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
/// Q4_K, Q5_K, Q6_K).
bool canDequantize(TensorType type);

/// The 32 five-bit codes of a Q5_0 block {fp16 d; 4 bytes of fifth bits; 16 bytes of
/// nibbles} or Q5_1 block {fp16 d, m; the same}, in column order: w = d·(q − 16), or
/// d·q + m.
void q5BlockCodes(TensorType type, const uint8_t *block, uint8_t *codes);

/// A Q4_K, Q5_K or Q6_K super-block of 256 values as its codes (`codes[256]`: 0-15, 0-31,
/// 0-63), one scale per sub-block (8 of 32 values; Q6_K 16 of 16) and, for Q4_K and Q5_K,
/// one minimum per sub-block: w = q·scale + min, and Q6_K w = (q − 32)·scale. The scales
/// d·scale and minimums −dmin·min are exact in fp32, so these values are ggml's, bit for bit.
void kQuantBlock(TensorType type, const uint8_t *block, uint8_t *codes, float *scales,
                 float *mins);

/// The same super-block's sub-block scales as ggml stores them: integer codes (Q6_K: 16
/// int8; Q4_K/Q5_K: 8 unsigned 6-bit scales and 8 minimums) and the fp16 bits of what they
/// multiply (`supers[0]` = d; Q4_K/Q5_K `supers[1]` = -dmin, so that a minimum is
/// supers[1]·code as a scale is supers[0]·code). scale = d·code, exactly kQuantBlock's.
void kQuantScaleCodes(TensorType type, const uint8_t *block, uint8_t *scaleCodes,
                      uint8_t *minCodes, uint16_t *supers);

/// The `count` values (a whole number of blocks) stored at `src` as `type`, into `dst`.
void dequantizeValues(TensorType type, const uint8_t *src, int64_t count, float *dst);

} // namespace midllama::gguf

#endif // MIDLLAMA_IMPORT_GGUF_GGMLDEQUANTIZE_H
