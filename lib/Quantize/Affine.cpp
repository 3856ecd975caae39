//===- Affine.cpp - Affine integer quantization numerics ------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Quantize/Affine.h"

#include <algorithm>
#include <cmath>

using namespace midllama::quant;

void midllama::quant::groupScale(const float *w, int64_t count, const AffineParams &p,
                                 float &scale, int &zero) {
  const float maxq = float((1 << p.bits) - 1);
  float lo = 0.0f, hi = 0.0f; // the range always holds 0, so zeros stay exact
  for (int64_t i = 0; i < count; ++i) {
    lo = std::min(lo, w[i]);
    hi = std::max(hi, w[i]);
  }
  if (p.symmetric) {
    hi = std::max(-lo, hi);
    if (lo < 0)
      lo = -hi;
  }
  if (lo == 0 && hi == 0) { // any scale represents an all-zero group; the reference's
    lo = -1.0f;
    hi = 1.0f;
  }
  scale = (hi - lo) / maxq;
  float negLo = -lo / scale;
  zero = p.symmetric ? 1 << (p.bits - 1) : int(std::lrint(negLo));
}

void midllama::quant::packCode(uint8_t *row, int64_t c, int bits, int q) {
  for (int b = 0; b < bits; ++b) {
    int64_t bit = c * bits + b;
    if (q >> b & 1)
      row[bit >> 3] |= uint8_t(1u << (bit & 7));
    else
      row[bit >> 3] &= uint8_t(~(1u << (bit & 7)));
  }
}

int midllama::quant::unpackCode(const uint8_t *row, int64_t c, int bits) {
  int q = 0;
  for (int b = 0; b < bits; ++b) {
    int64_t bit = c * bits + b;
    q |= (row[bit >> 3] >> (bit & 7) & 1) << b;
  }
  return q;
}

AffineMatrix midllama::quant::quantizeRTN(const float *w, int64_t n, int64_t k,
                                          const AffineParams &p) {
  AffineMatrix m;
  m.rowBytes = (k * p.bits + 7) / 8;
  m.groups = (k + p.groupSize - 1) / p.groupSize;
  m.codes.assign(size_t(n * m.rowBytes), 0);
  m.scales.resize(size_t(n * m.groups));
  if (!p.symmetric)
    m.zeros.resize(size_t(n * m.groups));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t g = 0; g < m.groups; ++g) {
      int64_t c0 = g * p.groupSize, c1 = std::min(k, c0 + p.groupSize);
      float scale;
      int zero;
      groupScale(w + r * k + c0, c1 - c0, p, scale, zero);
      m.scales[r * m.groups + g] = scale;
      if (!p.symmetric)
        m.zeros[r * m.groups + g] = uint8_t(zero);
      for (int64_t c = c0; c < c1; ++c)
        packCode(m.codes.data() + r * m.rowBytes, c, p.bits,
                 quantizeValue(w[r * k + c], scale, zero, p.bits));
    }
  return m;
}
