//===- Sparsify.cpp - Pruning numerics: scores, masks, SparseGPT ----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Sparsify/Sparsify.h"

#include "midllama/Numerics/Cholesky.h"
#include "midllama/Numerics/LazyBatch.h"

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace midllama;
using namespace midllama::sparse;

bool sparse::checkPattern(const Pattern &p, int64_t k, std::string &error) {
  if (!p.isNM()) {
    if (!(p.ratio >= 0 && p.ratio < 1)) {
      error = "sparsity ratio must be in [0, 1) (got " + std::to_string(p.ratio) + ")";
      return false;
    }
    return true;
  }
  if (p.n < 1 || p.n >= p.m || p.m > 32) {
    error = "N:M needs 1 <= N < M <= 32 (got " + std::to_string(p.n) + ":" + std::to_string(p.m) + ")";
    return false;
  }
  if (k % p.m != 0 && !p.proportionalTail) {
    error = "M = " + std::to_string(p.m) + " does not divide K = " + std::to_string(k) +
            " (allow a proportional last run with tail=proportional)";
    return false;
  }
  return true;
}

int64_t sparse::keptInRun(const Pattern &p, int64_t t) {
  if (t == p.m)
    return p.n;
  return std::min<int64_t>(t, std::llround(double(t) * double(p.n) / double(p.m)));
}

std::vector<float> sparse::magnitudeScores(const float *w, int64_t n, int64_t k) {
  std::vector<float> s(static_cast<size_t>(n * k));
  for (size_t i = 0; i < s.size(); ++i)
    s[i] = std::fabs(w[i]);
  return s;
}

std::vector<float> sparse::wandaScores(const float *w, int64_t n, int64_t k,
                                       const std::vector<double> &sumSq) {
  std::vector<float> s(static_cast<size_t>(n * k));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < k; ++j)
      s[size_t(r * k + j)] = std::fabs(w[r * k + j]) * float(std::sqrt(sumSq[size_t(j)]));
  return s;
}

std::vector<float> sparse::gblmScores(const float *w, int64_t n, int64_t k,
                                      const std::vector<double> &sumSq, int64_t samples,
                                      const float *gradNorm) {
  std::vector<float> s(static_cast<size_t>(n * k));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < k; ++j) {
      double a = sumSq[size_t(j)] / double(std::max<int64_t>(1, samples));
      double mag = std::fabs(double(w[r * k + j]));
      s[size_t(r * k + j)] = float(mag * std::sqrt(a) + mag * double(gradNorm[r * k + j]));
    }
  return s;
}

namespace {

/// Marks the `drop` lowest of `scores[idx[...]]` as pruned in `mask` (ties: lower index).
void dropLowest(const std::vector<float> &scores, std::vector<int64_t> &idx, int64_t drop,
                std::vector<uint8_t> &mask) {
  if (drop <= 0)
    return;
  std::nth_element(idx.begin(), idx.begin() + (drop - 1), idx.end(), [&](int64_t a, int64_t b) {
    return scores[size_t(a)] < scores[size_t(b)] ||
           (scores[size_t(a)] == scores[size_t(b)] && a < b);
  });
  for (int64_t i = 0; i < drop; ++i)
    mask[size_t(idx[size_t(i)])] = 0;
}

} // namespace

std::vector<uint8_t> sparse::selectMask(const std::vector<float> &scores, int64_t n, int64_t k,
                                        const Pattern &p, Comparison comparison) {
  std::vector<uint8_t> mask(static_cast<size_t>(n * k), 1);
  std::vector<int64_t> idx;
  if (p.isNM()) {
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c0 = 0; c0 < k; c0 += p.m) {
        int64_t t = std::min(p.m, k - c0);
        idx.resize(size_t(t));
        std::iota(idx.begin(), idx.end(), r * k + c0);
        dropLowest(scores, idx, t - keptInRun(p, t), mask);
      }
    return mask;
  }
  if (comparison == Comparison::Layer) {
    idx.resize(size_t(n * k));
    std::iota(idx.begin(), idx.end(), 0);
    dropLowest(scores, idx, int64_t(std::floor(double(n * k) * p.ratio)), mask);
    return mask;
  }
  for (int64_t r = 0; r < n; ++r) {
    idx.resize(size_t(k));
    std::iota(idx.begin(), idx.end(), r * k);
    dropLowest(scores, idx, int64_t(std::floor(double(k) * p.ratio)), mask);
  }
  return mask;
}

std::vector<float> sparse::applyMask(const float *w, const std::vector<uint8_t> &mask) {
  std::vector<float> out(mask.size());
  for (size_t i = 0; i < mask.size(); ++i)
    out[i] = mask[i] ? w[i] : 0.0f;
  return out;
}

bool sparse::sparseGPT(const float *w, int64_t n, int64_t k, const float *h,
                       const SparseGPTOptions &o, std::vector<float> &out,
                       std::vector<uint8_t> &mask, std::string &error) {
  std::vector<int64_t> dead;
  std::vector<double> H = numerics::dampedHessian(h, k, o.damp, dead);
  std::vector<float> W(w, w + n * k);
  for (int64_t j : dead)
    for (int64_t r = 0; r < n; ++r)
      W[size_t(r * k + j)] = 0.0f;
  std::vector<double> U;
  if (!numerics::upperCholeskyOfInverse(std::move(H), k, U)) {
    error = "the Hessian is not positive definite with damp " + std::to_string(o.damp) +
            " (raise damp)";
    return false;
  }
  const Pattern &p = o.pattern;
  mask.assign(static_cast<size_t>(n * k), 1);
  int64_t B = std::max<int64_t>(1, o.blockSize);
  if (p.isNM())
    B = (B + p.m - 1) / p.m * p.m;
  std::vector<float> err(static_cast<size_t>(n * B)), scores;
  std::vector<int64_t> idx;
  for (int64_t i1 = 0; i1 < k; i1 += B) {
    int64_t i2 = std::min(k, i1 + B), width = i2 - i1;
    if (!p.isNM()) {
      // The block's mask, chosen on the weights as the earlier blocks left them, over the
      // whole block as the reference implementation does: the `ratio` lowest w² / U_jj²
      // (U_jj² is the inverse Hessian's diagonal once the earlier columns are eliminated).
      scores.assign(size_t(n * width), 0.0f);
      for (int64_t r = 0; r < n; ++r)
        for (int64_t j = i1; j < i2; ++j) {
          double d = U[size_t(j * k + j)], v = W[size_t(r * k + j)];
          scores[size_t(r * width + j - i1)] = float(v * v / (d * d));
        }
      int64_t drop = int64_t(std::floor(double(n * width) * p.ratio));
      std::vector<uint8_t> blockMask(size_t(n * width), 1);
      if (o.referenceCount) {
        std::vector<float> sorted = scores;
        std::nth_element(sorted.begin(), sorted.begin() + drop, sorted.end());
        float threshold = sorted[size_t(drop)];
        for (size_t j = 0; j < scores.size(); ++j)
          blockMask[j] = scores[j] > threshold;
      } else {
        idx.resize(size_t(n * width));
        std::iota(idx.begin(), idx.end(), 0);
        dropLowest(scores, idx, drop, blockMask);
      }
      for (int64_t r = 0; r < n; ++r)
        for (int64_t j = 0; j < width; ++j)
          mask[size_t(r * k + i1 + j)] = blockMask[size_t(r * width + j)];
    }
    for (int64_t i = i1; i < i2; ++i) {
      if (p.isNM() && i % p.m == 0) {
        // A new run of M columns (blocks hold whole runs).
        int64_t t = std::min(p.m, k - i);
        for (int64_t r = 0; r < n; ++r) {
          scores.assign(size_t(t), 0.0f);
          for (int64_t j = 0; j < t; ++j) {
            double d = U[size_t((i + j) * k + i + j)], v = W[size_t(r * k + i + j)];
            scores[size_t(j)] = float(v * v / (d * d));
          }
          idx.resize(size_t(t));
          std::iota(idx.begin(), idx.end(), 0);
          std::vector<uint8_t> runMask(size_t(t), 1);
          dropLowest(scores, idx, t - keptInRun(p, t), runMask);
          for (int64_t j = 0; j < t; ++j)
            mask[size_t(r * k + i + j)] = runMask[size_t(j)];
        }
      }
      double d = U[size_t(i * k + i)];
      for (int64_t r = 0; r < n; ++r) {
        float *row = W.data() + r * k;
        float x = row[i];
        float q = mask[size_t(r * k + i)] ? x : 0.0f;
        row[i] = q;
        float e = float((double(x) - double(q)) / d);
        err[size_t(r * B + (i - i1))] = e;
        if (e == 0.0f)
          continue;
        const double *u = U.data() + i * k;
        for (int64_t c = i + 1; c < i2; ++c)
          row[c] -= float(e * u[c]);
      }
    }
    numerics::applyBlockErrors(W.data(), n, k, err.data(), B, U, i1, i2);
  }
  for (size_t i = 0; i < W.size(); ++i)
    if (!mask[i])
      W[i] = 0.0f;
  out = std::move(W);
  return true;
}
