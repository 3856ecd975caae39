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

namespace {

/// The error of clamping group `wg` (len values) to ±maxVal and quantizing it: the mean
/// squared change of the partial outputs Σ_j x_tj·w_j over the sample rows, read from their
/// Gram matrix G = X_gᵀX_g (len x len, double) as δᵀGδ — the same sum as Σ_t (x_t·δ)²,
/// len² multiply-adds instead of rows·len — or, without one (len ≥ rows), directly.
double clipError(const float *wg, int64_t len, float maxVal, const AffineParams &p,
                 const double *gram, const float *x, int64_t k, int64_t rows,
                 std::vector<float> &cand, std::vector<double> &delta) {
  for (int64_t j = 0; j < len; ++j)
    cand[size_t(j)] = std::clamp(wg[j], -maxVal, maxVal);
  float scale;
  int zero;
  groupScale(cand.data(), len, p, scale, zero);
  for (int64_t j = 0; j < len; ++j)
    delta[size_t(j)] =
        double(wg[j]) -
        double(dequantizeValue(quantizeValue(cand[size_t(j)], scale, zero, p.bits), scale, zero));
  double err = 0;
  if (gram) {
    for (int64_t a = 0; a < len; ++a) {
      const double *row = gram + a * len;
      double part[8] = {0, 0, 0, 0, 0, 0, 0, 0}; // independent sums the compiler vectorizes
      int64_t b = 0;
      for (; b + 8 <= len; b += 8)
        for (int l = 0; l < 8; ++l)
          part[l] += row[b + l] * delta[size_t(b + l)];
      for (; b < len; ++b)
        part[0] += row[b] * delta[size_t(b)];
      err += delta[size_t(a)] * (((part[0] + part[1]) + (part[2] + part[3])) +
                                 ((part[4] + part[5]) + (part[6] + part[7])));
    }
    return err;
  }
  for (int64_t t = 0; t < rows; ++t) {
    const float *xt = x + t * k;
    double d = 0;
    for (int64_t j = 0; j < len; ++j)
      d += double(xt[j]) * delta[size_t(j)];
    err += d * d;
  }
  return err;
}

} // namespace

int64_t midllama::quant::clipSearch(float *w, int64_t n, int64_t k, const float *x,
                                    int64_t rows, const AffineParams &p, int grid, int steps) {
  const int64_t gs = std::min<int64_t>(p.groupSize, k);
  int64_t clipped = 0;
  std::vector<float> cand(static_cast<size_t>(gs));
  std::vector<double> delta(static_cast<size_t>(gs)), gram;
  for (int64_t c0 = 0; c0 < k; c0 += gs) {
    const int64_t len = std::min(k, c0 + gs) - c0;
    // The group's Gram matrix, shared by every output row (when it is the cheaper way).
    const bool useGram = len < rows;
    if (useGram) {
      gram.assign(size_t(len * len), 0.0);
      for (int64_t t = 0; t < rows; ++t) {
        const float *xt = x + t * k + c0;
        for (int64_t a = 0; a < len; ++a) {
          const double xa = xt[a];
          double *row = gram.data() + a * len;
          for (int64_t b = 0; b <= a; ++b)
            row[b] += xa * double(xt[b]);
        }
      }
      for (int64_t a = 0; a < len; ++a)
        for (int64_t b = a + 1; b < len; ++b)
          gram[size_t(a * len + b)] = gram[size_t(b * len + a)];
    }
    for (int64_t r = 0; r < n; ++r) {
      float *wg = w + r * k + c0;
      float absmax = 0;
      for (int64_t j = 0; j < len; ++j)
        absmax = std::max(absmax, std::fabs(wg[j]));
      if (absmax == 0)
        continue;
      double bestErr = INFINITY;
      float bestMax = absmax;
      for (int i = 0; i < steps; ++i) {
        const float maxVal = absmax * (1.0f - float(i) / float(grid));
        const double err = clipError(wg, len, maxVal, p, useGram ? gram.data() : nullptr,
                                     x + c0, k, rows, cand, delta);
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
  }
  return clipped;
}
