//===- Affine.h - Affine integer quantization numerics ----------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Round-to-nearest affine quantization in groups of input columns (docs/algorithms.md,
// "RTN"), writing the byte layout of `#llm.affine` (docs/weights.md): codes
// bit-packed little-endian along each row, a scale per group, a zero point per group unless
// symmetric (zero 2^(bits-1)). GPTQ and AWQ reuse the group parameters and the packing.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_QUANTIZE_AFFINE_H
#define MIDLLAMA_QUANTIZE_AFFINE_H

#include <cmath>
#include <cstdint>
#include <vector>

namespace midllama::quant {

struct AffineParams {
  int bits = 4;
  int64_t groupSize = 128;
  bool symmetric = false;
};

/// One group's scale and zero point from its values: asymmetric min-max (scale =
/// (max - min) / (2^b - 1), zero = round(-min / scale), the range widened to hold 0), or
/// symmetric absmax (scale = 2 max|w| / (2^b - 1), zero = 2^(b-1)), as GPTQ's quantizer.
void groupScale(const float *w, int64_t count, const AffineParams &p, float &scale, int &zero);

/// q = clamp(round(w / scale) + zero, 0, 2^b - 1).
inline int quantizeValue(float w, float scale, int zero, int bits) {
  long q = std::lround(double(w) / double(scale)) + zero;
  long maxq = (1L << bits) - 1;
  return int(q < 0 ? 0 : q > maxq ? maxq : q);
}

/// An [n, k] row-major fp32 matrix quantized: `codes` U8[n, ceil(k*bits/8)], `scales`
/// fp32[n, groups], `zeros` U8[n, groups] (left empty when symmetric).
struct AffineMatrix {
  std::vector<uint8_t> codes, zeros;
  std::vector<float> scales;
  int64_t rowBytes = 0, groups = 0;
};
AffineMatrix quantizeRTN(const float *w, int64_t n, int64_t k, const AffineParams &p);

/// The value a code stands for.
inline float dequantizeValue(int q, float scale, int zero) { return float(q - zero) * scale; }

/// Writes `q` (b bits) at column `c` of a packed row.
void packCode(uint8_t *row, int64_t c, int bits, int q);
int unpackCode(const uint8_t *row, int64_t c, int bits);

} // namespace midllama::quant

#endif // MIDLLAMA_QUANTIZE_AFFINE_H
