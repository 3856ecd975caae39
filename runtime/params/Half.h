//===- Half.h - IEEE fp16 <-> fp32 conversions ------------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Exact fp16 -> fp32, and fp32 -> fp16 with round to nearest even (overflow to infinity,
// subnormals kept), in portable code: fp16 tensors come from ONNX exports and parameter
// files, and compression passes store scales and outlier columns in fp16. One copy for the
// importers, the passes and the runtime.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_PARAMS_HALF_H
#define MIDLLAMA_RUNTIME_PARAMS_HALF_H

#include <cstdint>
#include <cstring>

// The CUDA kernels decode fp16 with the same function (runtime/cuda/kernels).
#if defined(__CUDACC__)
#define MIDLLAMA_HOST_DEVICE __host__ __device__
#else
#define MIDLLAMA_HOST_DEVICE
#endif

namespace midllama::rt {

inline MIDLLAMA_HOST_DEVICE float halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else { // subnormal: renormalize
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) {
        mant <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000 | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  memcpy(&f, &bits, 4); // ::memcpy: the one device code has too
  return f;
}

inline uint16_t floatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  int32_t exp = int32_t((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffff;
  if (((x >> 23) & 0xff) == 0xff) // infinity stays infinity, NaN stays NaN
    return uint16_t(sign | 0x7c00 | (mant ? 0x200 : 0));
  if (exp >= 31)
    return uint16_t(sign | 0x7c00);
  if (exp <= 0) {
    if (exp < -10)
      return uint16_t(sign);
    mant |= 0x800000;
    uint32_t shift = uint32_t(14 - exp);
    uint32_t h = mant >> shift, rest = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rest > half || (rest == half && (h & 1)))
      ++h;
    return uint16_t(sign | h);
  }
  uint32_t h = sign | (uint32_t(exp) << 10) | (mant >> 13), rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
    ++h; // a carry into the exponent rounds up to the next binade (or to infinity): correct
  return uint16_t(h);
}

/// bf16 is the upper half of an fp32: rounded to nearest even as torch's `.to(bfloat16)`;
/// a NaN stays a (quiet) NaN instead of rounding into infinity.
inline uint16_t floatToBF16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffff) > 0x7f800000)
    return uint16_t((x >> 16) | 0x40);
  return uint16_t((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

inline float bf16ToFloat(uint16_t h) {
  uint32_t x = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_PARAMS_HALF_H
