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

/// One group's scale and zero point from its values, exactly as the GPTQ reference's
/// quantizer (`Quantizer.find_params`, also AutoGPTQ's): the range [lo, hi] = [min(w, 0),
/// max(w, 0)]; symmetric: hi = max(-lo, hi) and, only when lo < 0, lo = -hi (a group with
/// no negative value keeps lo = 0), zero = 2^(b-1); an all-zero group gets [-1, 1]; scale
/// = (hi - lo) / (2^b - 1); asymmetric zero = round(-lo / scale). Arithmetic in fp32 and
/// rounding half to even (torch.round), so codes match the reference's at ties too.
void groupScale(const float *w, int64_t count, const AffineParams &p, float &scale, int &zero);

/// q = clamp(round(w / scale) + zero, 0, 2^b - 1), the quotient in fp32 and rounded half
/// to even, as the reference's `quantize` on fp32 weights.
inline int quantizeValue(float w, float scale, int zero, int bits) {
  float quotient = w / scale;
  long q = std::lrint(quotient) + zero; // default rounding mode: to nearest, ties to even
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
