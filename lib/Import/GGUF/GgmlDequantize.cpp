//===- GgmlDequantize.cpp - ggml tensor types to fp32 ---------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Block layouts (ggml-common.h): block_q8_0 {fp16 d; int8 qs[32]}, block_q4_0 {fp16 d;
// uint8 qs[16]}, block_q4_1 {fp16 d; fp16 m; uint8 qs[16]}; in a 4-bit block, byte j holds
// value j in its low nibble and value j + 16 in its high nibble.
//
//===----------------------------------------------------------------------===//

#include "midllama/Import/GGUF/GgmlDequantize.h"

#include "runtime/params/Half.h"

#include <cstring>

using namespace midllama::gguf;

namespace {

float halfAt(const uint8_t *p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return midllama::rt::halfToFloat(h);
}

/// d·q + m rounded once to fp32, as the reference's fp32 `d * q + m` (whose product is
/// exact: 11 by 4 significant bits). Computed in fp64, where the sum is exact too, so a
/// compiler's fused multiply-add cannot change the result.
float scaledPlus(float d, int q, float m) {
  return float(double(d) * double(q) + double(m));
}

} // namespace

bool midllama::gguf::canDequantize(TensorType type) {
  switch (type) {
  case TensorType::F32: case TensorType::F16: case TensorType::BF16: case TensorType::Q4_0:
  case TensorType::Q4_1: case TensorType::Q8_0:
    return true;
  default:
    return false;
  }
}

void midllama::gguf::dequantizeValues(TensorType type, const uint8_t *src, int64_t count,
                                      float *dst) {
  switch (type) {
  case TensorType::F32:
    std::memcpy(dst, src, size_t(count) * 4);
    return;
  case TensorType::F16:
    for (int64_t i = 0; i < count; ++i)
      dst[i] = halfAt(src + 2 * i);
    return;
  case TensorType::BF16:
    for (int64_t i = 0; i < count; ++i) {
      uint32_t bits = uint32_t(src[2 * i] | src[2 * i + 1] << 8) << 16;
      std::memcpy(&dst[i], &bits, 4);
    }
    return;
  case TensorType::Q8_0:
    for (int64_t b = 0; b < count / 32; ++b, src += 34) {
      float d = halfAt(src);
      for (int j = 0; j < 32; ++j)
        dst[b * 32 + j] = d * float(int8_t(src[2 + j]));
    }
    return;
  case TensorType::Q4_0:
    for (int64_t b = 0; b < count / 32; ++b, src += 18) {
      float d = halfAt(src);
      for (int j = 0; j < 16; ++j) {
        dst[b * 32 + j] = d * float((src[2 + j] & 0xF) - 8);
        dst[b * 32 + j + 16] = d * float((src[2 + j] >> 4) - 8);
      }
    }
    return;
  case TensorType::Q4_1:
    for (int64_t b = 0; b < count / 32; ++b, src += 20) {
      float d = halfAt(src), m = halfAt(src + 2);
      for (int j = 0; j < 16; ++j) {
        dst[b * 32 + j] = scaledPlus(d, src[4 + j] & 0xF, m);
        dst[b * 32 + j + 16] = scaledPlus(d, src[4 + j] >> 4, m);
      }
    }
    return;
  default:
    return; // callers check canDequantize
  }
}
