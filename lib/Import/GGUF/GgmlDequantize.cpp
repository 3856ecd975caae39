//===- GgmlDequantize.cpp - ggml tensor types to fp32 ---------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Block layouts (ggml-common.h): block_q8_0 {fp16 d; int8 qs[32]}, block_q4_0 {fp16 d;
// uint8 qs[16]}, block_q4_1 {fp16 d; fp16 m; uint8 qs[16]}; in a 4-bit block, byte j holds
// value j in its low nibble and value j + 16 in its high nibble. The K-quants' super-blocks
// of 256 values are described at their functions.
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

/// The 6-bit scale and minimum of sub-block `j` (of 8) of a Q4_K/Q5_K block's 12 packed
/// bytes (ggml's get_scale_min_k4).
void scaleMinK4(int j, const uint8_t *q, int &scale, int &min) {
  if (j < 4) {
    scale = q[j] & 63;
    min = q[j + 4] & 63;
  } else {
    scale = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

} // namespace

bool midllama::gguf::canDequantize(TensorType type) {
  switch (type) {
  case TensorType::F32: case TensorType::F16: case TensorType::BF16: case TensorType::Q4_0:
  case TensorType::Q4_1: case TensorType::Q5_0: case TensorType::Q5_1: case TensorType::Q8_0:
  case TensorType::Q4_K: case TensorType::Q5_K: case TensorType::Q6_K:
    return true;
  default:
    return false;
  }
}

namespace {

/// Q5_0: (q − 16)·d, exact; Q5_1: d·q + m rounded once, as Q4_1.
void dequantizeQ5(TensorType type, const uint8_t *src, int64_t count, float *dst) {
  const bool min = type == TensorType::Q5_1;
  uint8_t codes[32];
  for (int64_t b = 0; b < count / 32; ++b, src += min ? 24 : 22) {
    q5BlockCodes(type, src, codes);
    const float d = halfAt(src), m = min ? halfAt(src + 2) : 0.0f;
    for (int j = 0; j < 32; ++j)
      dst[b * 32 + j] = min ? scaledPlus(d, codes[j], m) : float(int(codes[j]) - 16) * d;
  }
}

/// The K-quants from their codes and exact sub-block values (kQuantBlock): Q6_K
/// (d·scale)·(q − 32), exact as ggml's; Q4_K/Q5_K d·scale·q (exact) plus −dmin·min,
/// rounded once as ggml's.
void dequantizeKQuants(TensorType type, const uint8_t *src, int64_t count, float *dst) {
  const int64_t blockBytes =
      type == TensorType::Q4_K ? 144 : type == TensorType::Q5_K ? 176 : 210;
  uint8_t codes[256];
  float scales[16], mins[8];
  for (int64_t b = 0; b < count / 256; ++b) {
    kQuantBlock(type, src + b * blockBytes, codes, scales, mins);
    float *out = dst + b * 256;
    for (int i = 0; i < 256; ++i)
      out[i] = type == TensorType::Q6_K ? scales[i / 16] * float(int(codes[i]) - 32)
                                        : scales[i / 32] * float(codes[i]) + mins[i / 32];
  }
}

} // namespace

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
  case TensorType::Q5_0:
  case TensorType::Q5_1:
    return dequantizeQ5(type, src, count, dst);
  case TensorType::Q4_K:
  case TensorType::Q5_K:
  case TensorType::Q6_K:
    return dequantizeKQuants(type, src, count, dst);
  default:
    return; // callers check canDequantize
  }
}

/// Q4_K {fp16 d, dmin; 12 bytes of 6-bit scales and minima; 128 bytes of codes} and Q5_K
/// (the same plus 32 bytes of fifth bits before the codes): per 64 values, two sub-blocks
/// of 32 read from the low then the high nibbles, w = d·scale·q − dmin·min (d·scale·q is
/// exact in fp32: 11 + 6 + 5 bits). Q6_K {128 bytes of low nibbles, 64 of high bit pairs,
/// 16 int8 scales, fp16 d}: per 128 values, four runs of 32, sub-blocks of 16 in order,
/// w = (d·scale)·(q − 32) (d·scale exact: 11 + 8 bits).
void midllama::gguf::kQuantScaleCodes(TensorType type, const uint8_t *block,
                                      uint8_t *scaleCodes, uint8_t *minCodes, uint16_t *supers) {
  if (type == TensorType::Q6_K) {
    std::memcpy(scaleCodes, block + 192, 16); // int8
    std::memcpy(&supers[0], block + 208, 2);
    return;
  }
  std::memcpy(&supers[0], block, 2);
  std::memcpy(&supers[1], block + 2, 2);
  supers[1] ^= 0x8000; // -dmin: fp16 negation is exact
  for (int j = 0; j < 8; ++j) {
    int scale, min;
    scaleMinK4(j, block + 4, scale, min);
    scaleCodes[j] = uint8_t(scale);
    minCodes[j] = uint8_t(min);
  }
}

void midllama::gguf::kQuantBlock(TensorType type, const uint8_t *block, uint8_t *codes,
                                 float *scales, float *mins) {
  if (type == TensorType::Q6_K) {
    const uint8_t *low = block, *high = block + 128;
    uint8_t sc[16], unused[8];
    uint16_t d16[2];
    kQuantScaleCodes(type, block, sc, unused, d16);
    const float d = halfAt(block + 208);
    for (int g = 0; g < 16; ++g)
      scales[g] = d * float(int8_t(sc[g]));
    for (int n = 0; n < 256; n += 128, low += 64, high += 32)
      for (int l = 0; l < 32; ++l) {
        codes[n + l] = uint8_t((low[l] & 0xF) | ((high[l] >> 0 & 3) << 4));
        codes[n + l + 32] = uint8_t((low[l + 32] & 0xF) | ((high[l] >> 2 & 3) << 4));
        codes[n + l + 64] = uint8_t((low[l] >> 4) | ((high[l] >> 4 & 3) << 4));
        codes[n + l + 96] = uint8_t((low[l + 32] >> 4) | ((high[l] >> 6 & 3) << 4));
      }
    return;
  }
  const bool fiveBits = type == TensorType::Q5_K;
  const float d = halfAt(block), dmin = halfAt(block + 2);
  const uint8_t *packed = block + 4, *high = block + 16;
  const uint8_t *q = block + (fiveBits ? 48 : 16);
  for (int j = 0; j < 256; j += 64, q += 32) {
    const int is = j / 32;
    for (int half = 0; half < 2; ++half) {
      int scale, min;
      scaleMinK4(is + half, packed, scale, min);
      scales[is + half] = d * float(scale);
      mins[is + half] = -(dmin * float(min));
      for (int l = 0; l < 32; ++l) {
        const int fifth = fiveBits ? (high[l] >> (is + half) & 1) << 4 : 0;
        codes[j + 32 * half + l] = uint8_t((half ? q[l] >> 4 : q[l] & 0xF) | fifth);
      }
    }
  }
}

/// ggml's block_q5_0/q5_1: value j (< 16) is the low nibble of qs[j], value j + 16 its high
/// nibble; bit j of the little-endian 32-bit qh is value j's fifth bit.
void midllama::gguf::q5BlockCodes(TensorType type, const uint8_t *block, uint8_t *codes) {
  const uint8_t *qhBytes = block + (type == TensorType::Q5_1 ? 4 : 2);
  const uint32_t qh = uint32_t(qhBytes[0]) | uint32_t(qhBytes[1]) << 8 |
                      uint32_t(qhBytes[2]) << 16 | uint32_t(qhBytes[3]) << 24;
  const uint8_t *qs = qhBytes + 4;
  for (int j = 0; j < 16; ++j) {
    codes[j] = uint8_t((qs[j] & 0xF) | ((qh >> j & 1) << 4));
    codes[j + 16] = uint8_t((qs[j] >> 4) | ((qh >> (j + 16) & 1) << 4));
  }
}
