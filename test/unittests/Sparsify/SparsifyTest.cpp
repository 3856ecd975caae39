//===- SparsifyTest.cpp - Pruning scores, masks and SparseGPT -------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// SparseGPT is checked against Optimal Brain Surgeon done the long way: with the mask
// SparseGPT chose, prune column by column, move each pruned weight's error onto the later
// columns through the current inverse Hessian and eliminate the column from it (no
// Cholesky factor, no blocks). Both must give the same weights.
//
//===----------------------------------------------------------------------===//

#include "midllama/Sparsify/Sparsify.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace midllama::sparse;

namespace {

std::vector<float> randomValues(int64_t count, float sigma, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, sigma);
  std::vector<float> v(static_cast<size_t>(count));
  for (float &x : v)
    x = normal(rng);
  return v;
}

std::vector<float> inputs(int64_t rows, int64_t k, unsigned seed) {
  std::vector<float> x = randomValues(rows * k, 1.0f, seed);
  for (int64_t r = 0; r < rows; ++r) // correlated channels, a few strong ones
    for (int64_t j = 1; j < k; ++j)
      x[size_t(r * k + j)] = 0.6f * x[size_t(r * k + j - 1)] + x[size_t(r * k + j)] * (j % 9 == 0 ? 5.0f : 1.0f);
  return x;
}

std::vector<float> hessianOf(const std::vector<float> &x, int64_t rows, int64_t k) {
  std::vector<float> h(static_cast<size_t>(k * k));
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) {
      double s = 0;
      for (int64_t r = 0; r < rows; ++r)
        s += double(x[size_t(r * k + i)]) * x[size_t(r * k + j)];
      h[size_t(i * k + j)] = float(2 * s / rows);
    }
  return h;
}

double outputError(const std::vector<float> &w, const std::vector<float> &q, int64_t n,
                   int64_t k, const std::vector<float> &h) {
  double total = 0;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j)
        total += (double(w[size_t(r * k + i)]) - q[size_t(r * k + i)]) * h[size_t(i * k + j)] *
                 (double(w[size_t(r * k + j)]) - q[size_t(r * k + j)]);
  return total / 2;
}

/// OBS pruning with a given mask, column by column, with explicit inverse updates.
std::vector<float> referenceOBS(std::vector<float> w, int64_t n, int64_t k,
                                const std::vector<float> &hIn, const std::vector<uint8_t> &mask,
                                double damp) {
  std::vector<double> a(hIn.begin(), hIn.end()), inv(static_cast<size_t>(k * k), 0.0);
  double mean = 0;
  for (int64_t j = 0; j < k; ++j)
    mean += a[size_t(j * k + j)] / double(k);
  for (int64_t j = 0; j < k; ++j)
    a[size_t(j * k + j)] += damp * mean;
  for (int64_t i = 0; i < k; ++i)
    inv[size_t(i * k + i)] = 1;
  for (int64_t c = 0; c < k; ++c) { // Gauss-Jordan
    double pivot = a[size_t(c * k + c)];
    for (int64_t j = 0; j < k; ++j) {
      a[size_t(c * k + j)] /= pivot;
      inv[size_t(c * k + j)] /= pivot;
    }
    for (int64_t r = 0; r < k; ++r)
      if (r != c) {
        double f = a[size_t(r * k + c)];
        for (int64_t j = 0; j < k; ++j) {
          a[size_t(r * k + j)] -= f * a[size_t(c * k + j)];
          inv[size_t(r * k + j)] -= f * inv[size_t(c * k + j)];
        }
      }
  }
  for (int64_t j = 0; j < k; ++j) {
    double d = inv[size_t(j * k + j)];
    for (int64_t r = 0; r < n; ++r) {
      if (mask[size_t(r * k + j)])
        continue;
      double e = w[size_t(r * k + j)] / d;
      for (int64_t c = j; c < k; ++c)
        w[size_t(r * k + c)] -= float(e * inv[size_t(j * k + c)]);
      w[size_t(r * k + j)] = 0;
    }
    std::vector<double> row(inv.begin() + j * k, inv.begin() + (j + 1) * k);
    for (int64_t r = 0; r < k; ++r) {
      double f = inv[size_t(r * k + j)] / d;
      for (int64_t c = 0; c < k; ++c)
        inv[size_t(r * k + c)] -= f * row[size_t(c)];
    }
  }
  return w;
}

TEST(Sparsify, PatternsAreCheckedWithClearErrors) {
  std::string error;
  EXPECT_FALSE(checkPattern({1.0, 0, 0}, 64, error));
  EXPECT_NE(error.find("ratio must be in [0, 1)"), std::string::npos) << error;
  EXPECT_FALSE(checkPattern({0, 4, 2}, 64, error));
  EXPECT_NE(error.find("1 <= N < M <= 32"), std::string::npos) << error;
  EXPECT_FALSE(checkPattern({0, 4, 8}, 172, error));
  EXPECT_NE(error.find("M = 8 does not divide K = 172"), std::string::npos) << error;
  EXPECT_TRUE(checkPattern({0, 4, 8, true}, 172, error));
  EXPECT_TRUE(checkPattern({0.5, 0, 0}, 172, error));
  EXPECT_EQ(keptInRun({0, 4, 8, true}, 4), 2);
  EXPECT_EQ(keptInRun({0, 2, 4, true}, 4), 2);
}

TEST(Sparsify, MasksKeepTheHighestScores) {
  const int64_t n = 6, k = 20;
  std::vector<float> s = randomValues(n * k, 1.0f, 1);
  for (float &v : s)
    v = std::fabs(v);
  // Per row: exactly half kept, and every kept score at least every dropped one.
  std::vector<uint8_t> m = selectMask(s, n, k, {0.5}, Comparison::Row);
  for (int64_t r = 0; r < n; ++r) {
    int kept = 0;
    float minKept = INFINITY, maxDropped = 0;
    for (int64_t j = 0; j < k; ++j) {
      float v = s[size_t(r * k + j)];
      if (m[size_t(r * k + j)]) {
        ++kept;
        minKept = std::min(minKept, v);
      } else {
        maxDropped = std::max(maxDropped, v);
      }
    }
    EXPECT_EQ(kept, 10);
    EXPECT_GE(minKept, maxDropped);
  }
  // Per layer: 30% of all, rows may differ.
  m = selectMask(s, n, k, {0.3}, Comparison::Layer);
  int64_t kept = 0;
  for (uint8_t v : m)
    kept += v;
  EXPECT_EQ(kept, n * k - 36);
  // 2:4 and 4:8 with a proportional tail of 4 (K = 20).
  m = selectMask(s, n, k, {0, 2, 4}, Comparison::Row);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c0 = 0; c0 < k; c0 += 4)
      EXPECT_EQ(m[size_t(r * k + c0)] + m[size_t(r * k + c0 + 1)] + m[size_t(r * k + c0 + 2)] +
                    m[size_t(r * k + c0 + 3)],
                2);
  m = selectMask(s, n, k, {0, 4, 8, true}, Comparison::Row);
  for (int64_t r = 0; r < n; ++r) {
    int tail = 0;
    for (int64_t j = 16; j < 20; ++j)
      tail += m[size_t(r * k + j)];
    EXPECT_EQ(tail, 2);
  }
}

TEST(Sparsify, WandaWeighsMagnitudesByInputNorms) {
  std::vector<float> w = {1, -2, 3, -4};
  std::vector<float> s = wandaScores(w.data(), 2, 2, {4.0, 9.0});
  EXPECT_EQ(s, (std::vector<float>{2, 6, 6, 12}));
  EXPECT_EQ(magnitudeScores(w.data(), 2, 2), (std::vector<float>{1, 2, 3, 4}));
}

TEST(Sparsify, GBLMAddsTheGradientTermToTheActivationTerm) {
  std::vector<float> w = {1, -2, 3, -4}, g = {0.5f, 0, 0, 1};
  // a = sumSq / samples = {4, 9} / 4 = {1, 2.25}: sqrt = {1, 1.5}.
  std::vector<float> s = gblmScores(w.data(), 2, 2, {4.0, 9.0}, 4, g.data());
  EXPECT_FLOAT_EQ(s[0], 1 * 1 + 1 * 0.5f);
  EXPECT_FLOAT_EQ(s[1], 2 * 1.5f);
  EXPECT_FLOAT_EQ(s[2], 3 * 1);
  EXPECT_FLOAT_EQ(s[3], 4 * 1.5f + 4 * 1);
  // With no gradient it ranks as Wanda does.
  std::vector<float> zero(4, 0.0f);
  std::vector<float> wanda = wandaScores(w.data(), 2, 2, {4.0, 9.0});
  std::vector<float> only = gblmScores(w.data(), 2, 2, {4.0, 9.0}, 4, zero.data());
  for (size_t i = 0; i < 4; ++i)
    EXPECT_FLOAT_EQ(only[i] * 2, wanda[i]); // sqrt(sumSq / 4) = sqrt(sumSq) / 2
}

struct Case {
  Pattern pattern;
  int64_t block;
};

class SparseGPTMatchesOBS : public ::testing::TestWithParam<Case> {};

TEST_P(SparseGPTMatchesOBS, SameWeightsAsColumnByColumnOBSWithItsMask) {
  const Case c = GetParam();
  const int64_t n = 16, k = 48, rows = 300;
  std::vector<float> x = inputs(rows, k, 2), w = randomValues(n * k, 0.1f, 3);
  std::vector<float> h = hessianOf(x, rows, k);
  SparseGPTOptions o;
  o.pattern = c.pattern;
  o.blockSize = c.block;
  std::vector<float> out;
  std::vector<uint8_t> mask;
  std::string error;
  ASSERT_TRUE(sparseGPT(w.data(), n, k, h.data(), o, out, mask, error)) << error;

  std::vector<float> ref = referenceOBS(w, n, k, h, mask, o.damp);
  for (size_t i = 0; i < ref.size(); ++i) {
    EXPECT_NEAR(out[i], ref[i], 2e-4f * (1 + std::fabs(ref[i]))) << i;
    if (!mask[i])
      EXPECT_EQ(out[i], 0.0f);
  }
  int64_t kept = 0;
  for (uint8_t v : mask)
    kept += v;
  if (c.pattern.isNM())
    EXPECT_EQ(kept, n * k / c.pattern.m * c.pattern.n);
  else
    EXPECT_EQ(kept, n * k - int64_t(std::floor(double(n * c.block) * c.pattern.ratio)) * (k / c.block));
  // Error compensation beats plain masking with the same mask, and magnitude pruning.
  double e = outputError(w, out, n, k, h);
  double masked = outputError(w, applyMask(w.data(), mask), n, k, h);
  std::vector<float> mag =
      applyMask(w.data(), selectMask(magnitudeScores(w.data(), n, k), n, k, c.pattern, Comparison::Row));
  EXPECT_LT(e, masked);
  EXPECT_LT(e, outputError(w, mag, n, k, h));
}

INSTANTIATE_TEST_SUITE_P(Patterns, SparseGPTMatchesOBS,
                         ::testing::Values(Case{{0.5}, 16}, Case{{0.5}, 48}, Case{{0.7}, 24},
                                           Case{{0, 2, 4}, 16}, Case{{0, 4, 8}, 16}));

} // namespace

TEST(Sparsify, SparseGPTCountIsExactOrTheReferenceThreshold) {
  // An identity Hessian makes every score w² / const: the order of |w|. One row, one block.
  std::vector<float> h = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
  auto pruned = [&](std::vector<float> w, double ratio, bool reference) {
    SparseGPTOptions o;
    o.pattern.ratio = ratio;
    o.referenceCount = reference;
    std::vector<float> out;
    std::vector<uint8_t> mask;
    std::string error;
    EXPECT_TRUE(sparseGPT(w.data(), 1, 4, h.data(), o, out, mask, error)) << error;
    return mask;
  };
  using M = std::vector<uint8_t>;
  // 50% of 4: exactly 2; the reference prunes up to its threshold sort(tmp)[2]: 3.
  EXPECT_EQ(pruned({1, -2, 3, -4}, 0.5, false), (M{0, 0, 1, 1}));
  EXPECT_EQ(pruned({1, -2, 3, -4}, 0.5, true), (M{0, 0, 0, 1}));
  // 25%: exactly 1; the threshold sort(tmp)[1] = 4 ties with the third weight: 3 pruned.
  EXPECT_EQ(pruned({1, 2, -2, 4}, 0.25, false), (M{0, 1, 1, 1}));
  EXPECT_EQ(pruned({1, 2, -2, 4}, 0.25, true), (M{0, 0, 0, 1}));
}
