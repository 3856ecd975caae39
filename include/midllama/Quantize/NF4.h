//===- NF4.h - NormalFloat4 quantization (QLoRA) ----------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// NF4 (Dettmers et al. 2023; docs/algorithms.md): blocks of `blockSize` values
// of the row-major stream, one absmax each, every value/absmax mapped to the nearest of 16
// fixed codes; optionally the absmax values double-quantized (their mean subtracted, then
// 8-bit blockwise with bitsandbytes' dynamic code in blocks of 256). Bit-exact with
// bitsandbytes' CPU quantize_4bit (checked against its golden vectors): the same float32
// operations in the same order, the same tie rules, two codes per byte with the first in
// the high nibble, a padding nibble that codes 0.0.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_QUANTIZE_NF4_H
#define MIDLLAMA_QUANTIZE_NF4_H

#include <array>
#include <cstdint>
#include <vector>

namespace midllama::quant {

/// The 16 NF4 values, in code order.
extern const std::array<float, 16> kNF4Values;
/// bitsandbytes' signed 8-bit dynamic code (create_dynamic_map), sorted.
const std::array<float, 256> &dynamicCode8();

struct NF4Tensor {
  std::vector<uint8_t> codes;    // ceil(n / 2) bytes
  std::vector<float> absmax;     // one per block (without double quantization)
  std::vector<uint8_t> qabsmax;  // with double quantization: one code per block,
  std::vector<float> absmaxScale; // one scale per 256 blocks,
  float absmaxOffset = 0;        // and the mean that was subtracted
  bool doubleQuant = false;
};

NF4Tensor quantizeNF4(const float *values, int64_t n, int64_t blockSize, bool doubleQuant);
/// The absmax of each block as the kernels use it (double quantization undone).
std::vector<float> nf4Absmax(const NF4Tensor &t);
/// Value `i` of the stream.
float nf4Value(const NF4Tensor &t, const std::vector<float> &absmax, int64_t i,
               int64_t blockSize);

} // namespace midllama::quant

#endif // MIDLLAMA_QUANTIZE_NF4_H
