//===- AWQ.cpp - Activation-aware weight quantization numerics ------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Quantize/AWQ.h"

#include <algorithm>
#include <cmath>

using namespace midllama::quant;

std::vector<float> midllama::quant::awqScales(const std::vector<float> &meanAbs, double alpha) {
  std::vector<float> s(meanAbs.size());
  float hi = 0, lo = INFINITY;
  for (size_t j = 0; j < s.size(); ++j) {
    s[j] = std::max(float(std::pow(double(meanAbs[j]), alpha)), 1e-4f);
    hi = std::max(hi, s[j]);
    lo = std::min(lo, s[j]);
  }
  float norm = std::sqrt(hi * lo);
  for (float &v : s)
    v /= norm;
  return s;
}

std::vector<double> midllama::quant::awqAlphaGrid(int grid) {
  std::vector<double> alphas;
  for (int i = 0; i < grid; ++i)
    alphas.push_back(double(i) / grid);
  return alphas;
}

std::vector<float> midllama::quant::roundTrip(const float *w, int64_t n, int64_t k,
                                              const AffineParams &p) {
  AffineMatrix m = quantizeRTN(w, n, k, p);
  std::vector<float> out(static_cast<size_t>(n * k));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) {
      int64_t g = r * m.groups + c / p.groupSize;
      int zero = p.symmetric ? 1 << (p.bits - 1) : m.zeros[size_t(g)];
      out[size_t(r * k + c)] = dequantizeValue(
          unpackCode(m.codes.data() + r * m.rowBytes, c, p.bits), m.scales[size_t(g)], zero);
    }
  return out;
}

std::vector<float> midllama::quant::quantizeScaled(const float *w, int64_t n, int64_t k,
                                                   const std::vector<float> &s,
                                                   const AffineParams &p) {
  std::vector<float> scaled(static_cast<size_t>(n * k));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c)
      scaled[size_t(r * k + c)] = w[r * k + c] * s[size_t(c)];
  std::vector<float> q = roundTrip(scaled.data(), n, k, p);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c)
      q[size_t(r * k + c)] /= s[size_t(c)];
  return q;
}

int64_t midllama::quant::clipSearch(float *w, int64_t n, int64_t k, const float *x,
                                    int64_t rows, const AffineParams &p, int grid, int steps) {
  const int64_t gs = std::min<int64_t>(p.groupSize, k);
  int64_t clipped = 0;
  std::vector<float> cand(static_cast<size_t>(gs));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c0 = 0; c0 < k; c0 += gs) {
      int64_t c1 = std::min(k, c0 + gs), len = c1 - c0;
      float *wg = w + r * k + c0;
      float absmax = 0;
      for (int64_t j = 0; j < len; ++j)
        absmax = std::max(absmax, std::fabs(wg[j]));
      if (absmax == 0)
        continue;
      double bestErr = INFINITY;
      float bestMax = absmax;
      for (int i = 0; i < steps; ++i) {
        float maxVal = absmax * (1.0f - float(i) / float(grid));
        for (int64_t j = 0; j < len; ++j)
          cand[size_t(j)] = std::clamp(wg[j], -maxVal, maxVal);
        float scale;
        int zero;
        groupScale(cand.data(), len, p, scale, zero);
        for (int64_t j = 0; j < len; ++j)
          cand[size_t(j)] =
              dequantizeValue(quantizeValue(cand[size_t(j)], scale, zero, p.bits), scale, zero);
        double err = 0;
        for (int64_t t = 0; t < rows; ++t) {
          const float *xt = x + t * k + c0;
          double d = 0;
          for (int64_t j = 0; j < len; ++j)
            d += double(xt[j]) * (double(wg[j]) - double(cand[size_t(j)]));
          err += d * d;
        }
        if (err < bestErr) {
          bestErr = err;
          bestMax = maxVal;
        }
      }
      if (bestMax < absmax) {
        ++clipped;
        for (int64_t j = 0; j < len; ++j)
          wg[j] = std::clamp(wg[j], -bestMax, bestMax);
      }
    }
  return clipped;
}
