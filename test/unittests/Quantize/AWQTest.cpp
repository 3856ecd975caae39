//===- AWQTest.cpp - AWQ scales and clipping on small matrices ------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The search itself is checked here on one projection (its own output is the block): with
// a few salient input channels AWQ must pick α > 0 and beat RTN; on inputs without them
// the scales have nothing to protect. The reference output error is computed directly.
//
//===----------------------------------------------------------------------===//

#include "midllama/Quantize/AWQ.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace midllama::quant;

namespace {

std::vector<float> makeInputs(int64_t rows, int64_t k, float salient, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(rows * k));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < k; ++j)
      x[size_t(r * k + j)] = normal(rng) * (j % 16 == 3 ? salient : 1.0f);
  return x;
}

std::vector<float> makeWeights(int64_t n, int64_t k, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> w(static_cast<size_t>(n * k));
  for (float &v : w)
    v = normal(rng);
  return w;
}

/// mean over rows and outputs of (x (w − q)ᵀ)².
double outputError(const std::vector<float> &x, int64_t rows, const std::vector<float> &w,
                   const std::vector<float> &q, int64_t n, int64_t k) {
  double total = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < n; ++o) {
      double d = 0;
      for (int64_t j = 0; j < k; ++j)
        d += double(x[size_t(r * k + j)]) * (double(w[size_t(o * k + j)]) - q[size_t(o * k + j)]);
      total += d * d;
    }
  return total / double(rows * n);
}

std::vector<float> meanAbs(const std::vector<float> &x, int64_t rows, int64_t k) {
  std::vector<float> m(static_cast<size_t>(k), 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < k; ++j)
      m[size_t(j)] += std::fabs(x[size_t(r * k + j)]) / float(rows);
  return m;
}

/// The best α on the grid and its error, and α = 0's (RTN).
struct Search {
  double alpha = 0, best = INFINITY, rtn = 0;
};

Search search(const std::vector<float> &x, int64_t rows, const std::vector<float> &w, int64_t n,
              int64_t k, const AffineParams &p) {
  Search s;
  std::vector<float> m = meanAbs(x, rows, k);
  for (double alpha : awqAlphaGrid(20)) {
    double e = outputError(x, rows, w, quantizeScaled(w.data(), n, k, awqScales(m, alpha), p), n, k);
    if (alpha == 0)
      s.rtn = e;
    if (e < s.best) {
      s.best = e;
      s.alpha = alpha;
    }
  }
  return s;
}

TEST(AWQ, ScalesAreNormalizedPowersOfTheMeanActivation) {
  std::vector<float> m = {0.5f, 2.0f, 8.0f, 0.0f};
  std::vector<float> s = awqScales(m, 0.5);
  // 0.5^0.5, 2^0.5, 8^0.5, max(0, 1e-4) over sqrt(max · min) = sqrt(sqrt(8) · 1e-4).
  float norm = std::sqrt(std::sqrt(8.0f) * 1e-4f);
  EXPECT_NEAR(s[0], std::sqrt(0.5f) / norm, 1e-3f * s[0]);
  EXPECT_NEAR(s[2], std::sqrt(8.0f) / norm, 1e-3f * s[2]);
  EXPECT_NEAR(s[3], 1e-4f / norm, 1e-3f * s[3]);
  for (float v : awqScales(m, 0.0)) // α = 0: all ones, which is RTN
    EXPECT_FLOAT_EQ(v, 1.0f);
  EXPECT_EQ(awqAlphaGrid(20).size(), 20u);
  EXPECT_DOUBLE_EQ(awqAlphaGrid(20)[19], 0.95);
}

TEST(AWQ, SalientChannelsGetAPositiveAlphaThatBeatsRTN) {
  const int64_t n = 32, k = 64, rows = 256;
  std::vector<float> x = makeInputs(rows, k, 20.0f, 1), w = makeWeights(n, k, 2);
  Search s = search(x, rows, w, n, k, {3, 32, false});
  EXPECT_GT(s.alpha, 0.0);
  EXPECT_LT(s.best, 0.8 * s.rtn) << "AWQ " << s.best << " vs RTN " << s.rtn;
}

TEST(AWQ, QuantizeScaledWithUnitScalesIsRTN) {
  const int64_t n = 4, k = 40;
  std::vector<float> w = makeWeights(n, k, 3);
  std::vector<float> ones(static_cast<size_t>(k), 1.0f);
  EXPECT_EQ(quantizeScaled(w.data(), n, k, ones, {4, 16, false}), roundTrip(w.data(), n, k, {4, 16, false}));
}

TEST(AWQ, ClipSearchNeverRaisesTheGroupErrorAndClipsOutliers) {
  const int64_t n = 16, k = 64, rows = 128;
  std::vector<float> x = makeInputs(rows, k, 1.0f, 4), w = makeWeights(n, k, 5);
  for (int64_t r = 0; r < n; r += 2)
    w[size_t(r * k + 7)] = 0.2f; // one large weight in half of the rows
  AffineParams p{3, 32, false};
  std::vector<float> clipped = w;
  int64_t count = clipSearch(clipped.data(), n, k, x.data(), rows, p);
  EXPECT_GT(count, 0);
  double before = outputError(x, rows, w, roundTrip(w.data(), n, k, p), n, k);
  double after = outputError(x, rows, w, roundTrip(clipped.data(), n, k, p), n, k);
  EXPECT_LE(after, before);
  for (size_t i = 0; i < w.size(); ++i) // clipping only shrinks magnitudes
    EXPECT_LE(std::fabs(clipped[i]), std::fabs(w[i]));
}

} // namespace
