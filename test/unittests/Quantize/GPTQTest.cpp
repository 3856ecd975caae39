//===- GPTQTest.cpp - GPTQ against a straightforward implementation -------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The reference here is GPTQ as its paper derives it from Optimal Brain Surgeon, without
// its two speed-ups: after each column, the error moves onto every later column through
// the current inverse Hessian, which then loses that column's row and column by Gaussian
// elimination (no Cholesky factor, no blocks). Both must pick the same codes.
//
//===----------------------------------------------------------------------===//

#include "midllama/Quantize/GPTQ.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

using namespace midllama::quant;

namespace {

/// Activations with a few strong, correlated channels, as real layer inputs have.
std::vector<float> makeInputs(int64_t rows, int64_t k, unsigned seed, int64_t dead = -1) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(rows * k));
  for (int64_t r = 0; r < rows; ++r) {
    float common = normal(rng);
    for (int64_t j = 0; j < k; ++j) {
      float v = normal(rng) + 0.7f * common;
      if (j % 7 == 0)
        v *= 6.0f; // salient channels
      x[size_t(r * k + j)] = j == dead ? 0.0f : v;
    }
  }
  return x;
}

std::vector<float> makeWeights(int64_t n, int64_t k, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> w(static_cast<size_t>(n * k));
  for (float &v : w)
    v = normal(rng);
  return w;
}

std::vector<float> hessianOf(const std::vector<float> &x, int64_t rows, int64_t k) {
  std::vector<float> h(static_cast<size_t>(k * k));
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) {
      double s = 0;
      for (int64_t r = 0; r < rows; ++r)
        s += double(x[size_t(r * k + i)]) * x[size_t(r * k + j)];
      h[size_t(i * k + j)] = float(2.0 * s / double(rows));
    }
  return h;
}

/// OBS-style GPTQ, column by column, left to right, groups re-fitted on the updated
/// weights when they start. Returns the dequantized weights.
std::vector<float> referenceGPTQ(std::vector<float> w, int64_t n, int64_t k,
                                 const std::vector<float> &hIn, const AffineParams &p,
                                 double damp) {
  std::vector<double> h(hIn.begin(), hIn.end());
  for (int64_t j = 0; j < k; ++j)
    if (h[size_t(j * k + j)] == 0) {
      h[size_t(j * k + j)] = 1;
      for (int64_t r = 0; r < n; ++r)
        w[size_t(r * k + j)] = 0;
    }
  double mean = 0;
  for (int64_t j = 0; j < k; ++j)
    mean += h[size_t(j * k + j)] / double(k);
  for (int64_t j = 0; j < k; ++j)
    h[size_t(j * k + j)] += damp * mean;
  // Gauss-Jordan inverse.
  std::vector<double> a = h, inv(static_cast<size_t>(k * k), 0.0);
  for (int64_t i = 0; i < k; ++i)
    inv[size_t(i * k + i)] = 1;
  for (int64_t c = 0; c < k; ++c) {
    double pivot = a[size_t(c * k + c)];
    for (int64_t j = 0; j < k; ++j) {
      a[size_t(c * k + j)] /= pivot;
      inv[size_t(c * k + j)] /= pivot;
    }
    for (int64_t r = 0; r < k; ++r) {
      if (r == c)
        continue;
      double f = a[size_t(r * k + c)];
      for (int64_t j = 0; j < k; ++j) {
        a[size_t(r * k + j)] -= f * a[size_t(c * k + j)];
        inv[size_t(r * k + j)] -= f * inv[size_t(c * k + j)];
      }
    }
  }
  std::vector<float> q(w.size());
  std::vector<float> scale(static_cast<size_t>(n));
  std::vector<int> zero(static_cast<size_t>(n));
  for (int64_t j = 0; j < k; ++j) {
    if (j % p.groupSize == 0)
      for (int64_t r = 0; r < n; ++r)
        groupScale(&w[size_t(r * k + j)], std::min(p.groupSize, k - j), p, scale[size_t(r)],
                   zero[size_t(r)]);
    double d = inv[size_t(j * k + j)];
    for (int64_t r = 0; r < n; ++r) {
      float x = w[size_t(r * k + j)];
      float deq = dequantizeValue(quantizeValue(x, scale[size_t(r)], zero[size_t(r)], p.bits),
                                  scale[size_t(r)], zero[size_t(r)]);
      q[size_t(r * k + j)] = deq;
      double e = (double(x) - deq) / d;
      for (int64_t c = j + 1; c < k; ++c)
        w[size_t(r * k + c)] -= float(e * inv[size_t(j * k + c)]);
    }
    // Remove column j from the problem: eliminate it from the inverse.
    std::vector<double> row(inv.begin() + j * k, inv.begin() + (j + 1) * k);
    for (int64_t r = 0; r < k; ++r) {
      double f = inv[size_t(r * k + j)] / d;
      for (int64_t c = 0; c < k; ++c)
        inv[size_t(r * k + c)] -= f * row[size_t(c)];
    }
  }
  return q;
}

std::vector<float> rtnValues(const std::vector<float> &w, int64_t n, int64_t k,
                             const AffineParams &p) {
  AffineMatrix m = quantizeRTN(w.data(), n, k, p);
  std::vector<float> out(w.size());
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) {
      int64_t g = r * m.groups + c / p.groupSize;
      int zero = p.symmetric ? 1 << (p.bits - 1) : m.zeros[size_t(g)];
      out[size_t(r * k + c)] =
          dequantizeValue(unpackCode(m.codes.data() + r * m.rowBytes, c, p.bits),
                          m.scales[size_t(g)], zero);
    }
  return out;
}

/// The dequantized matrix the packed result stands for.
std::vector<float> unpack(const GPTQResult &r, int64_t n, int64_t k, const AffineParams &p) {
  std::vector<float> out(static_cast<size_t>(n * k));
  const AffineMatrix &m = r.matrix;
  for (int64_t row = 0; row < n; ++row)
    for (int64_t c = 0; c < k; ++c) {
      int64_t g = row * m.groups + c / p.groupSize;
      int zero = p.symmetric ? 1 << (p.bits - 1) : m.zeros[size_t(g)];
      out[size_t(row * k + c)] =
          dequantizeValue(unpackCode(m.codes.data() + row * m.rowBytes, c, p.bits),
                          m.scales[size_t(g)], zero);
    }
  return out;
}

struct Case {
  int bits;
  int64_t group;
  bool symmetric;
};

class GPTQMatchesReference : public ::testing::TestWithParam<Case> {};

TEST_P(GPTQMatchesReference, SameCodesAsColumnByColumnOBS) {
  const Case c = GetParam();
  const int64_t n = 24, k = 80, rows = 400; // K = 80: a tail group of 16 at group 32
  std::vector<float> x = makeInputs(rows, k, 1), w = makeWeights(n, k, 2);
  std::vector<float> h = hessianOf(x, rows, k);
  GPTQOptions o;
  o.affine = {c.bits, c.group, c.symmetric};
  o.blockSize = 16; // several lazy-batch blocks, one not aligned to the groups
  GPTQResult r;
  std::string error;
  ASSERT_TRUE(quantizeGPTQ(w.data(), n, k, h.data(), o, r, error)) << error;
  std::vector<float> ref = referenceGPTQ(w, n, k, h, o.affine, o.damp);

  // The packed codes stand for the values the function reports.
  EXPECT_EQ(unpack(r, n, k, o.affine), r.dequantized);
  // Same codes up to float rounding at exact ties: allow a handful to differ by one step.
  int64_t differ = 0;
  for (size_t i = 0; i < ref.size(); ++i)
    differ += std::fabs(ref[i] - r.dequantized[i]) > 1e-6f;
  EXPECT_LE(differ, int64_t(ref.size()) / 200) << "of " << ref.size();
  double e = layerOutputError(w.data(), r.dequantized.data(), n, k, h.data());
  double eRef = layerOutputError(w.data(), ref.data(), n, k, h.data());
  EXPECT_NEAR(e, eRef, 0.01 * eRef);
  // And GPTQ beats round-to-nearest on the layer's output.
  double eRTN = layerOutputError(w.data(), rtnValues(w, n, k, o.affine).data(), n, k, h.data());
  EXPECT_LT(e, 0.9 * eRTN) << "GPTQ " << e << " vs RTN " << eRTN;
}

INSTANTIATE_TEST_SUITE_P(Formats, GPTQMatchesReference,
                         ::testing::Values(Case{4, 32, false}, Case{3, 32, false},
                                           Case{4, 80, true}, Case{8, 16, false},
                                           Case{2, 1000, false}));

TEST(GPTQ, LayerErrorMatchesTheActivations) {
  const int64_t n = 8, k = 20, rows = 64;
  std::vector<float> x = makeInputs(rows, k, 3), w = makeWeights(n, k, 4);
  std::vector<float> h = hessianOf(x, rows, k);
  std::vector<float> q = rtnValues(w, n, k, {3, 8, false});
  double direct = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < n; ++o) {
      double s = 0;
      for (int64_t j = 0; j < k; ++j)
        s += (double(w[size_t(o * k + j)]) - q[size_t(o * k + j)]) * x[size_t(r * k + j)];
      direct += s * s;
    }
  EXPECT_NEAR(layerOutputError(w.data(), q.data(), n, k, h.data()), direct / rows,
              1e-4 * direct / rows);
}

TEST(GPTQ, ActOrderBeatsRTNAndKeepsThePlainLayout) {
  const int64_t n = 16, k = 96, rows = 300;
  std::vector<float> x = makeInputs(rows, k, 5), w = makeWeights(n, k, 6);
  std::vector<float> h = hessianOf(x, rows, k);
  GPTQOptions o;
  o.affine = {4, 32, false};
  o.actOrder = true;
  GPTQResult r;
  std::string error;
  ASSERT_TRUE(quantizeGPTQ(w.data(), n, k, h.data(), o, r, error)) << error;
  EXPECT_EQ(unpack(r, n, k, o.affine), r.dequantized); // groups in column order: no g_idx
  double e = layerOutputError(w.data(), r.dequantized.data(), n, k, h.data());
  double eRTN = layerOutputError(w.data(), rtnValues(w, n, k, o.affine).data(), n, k, h.data());
  EXPECT_LT(e, eRTN);
}

TEST(GPTQ, DeadInputsAreZeroed) {
  const int64_t n = 8, k = 32, rows = 100;
  std::vector<float> x = makeInputs(rows, k, 7, /*dead=*/5), w = makeWeights(n, k, 8);
  std::vector<float> h = hessianOf(x, rows, k);
  GPTQOptions o;
  o.affine = {4, 16, true};
  GPTQResult r;
  std::string error;
  ASSERT_TRUE(quantizeGPTQ(w.data(), n, k, h.data(), o, r, error)) << error;
  EXPECT_EQ(r.deadColumns, 1);
  for (int64_t row = 0; row < n; ++row)
    EXPECT_EQ(r.dequantized[size_t(row * k + 5)], 0.0f);
}

TEST(GPTQ, MaskAwareKeepsPrunedWeightsAtZeroAndBeatsRTN) {
  const int64_t n = 16, k = 64, rows = 300;
  std::vector<float> x = makeInputs(rows, k, 11), w = makeWeights(n, k, 12);
  std::vector<float> h = hessianOf(x, rows, k);
  // A 2:4 mask by magnitude, the pruned weights set to 0 as a pruning pass leaves them.
  std::vector<uint8_t> keep(static_cast<size_t>(n * k), 1);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c0 = 0; c0 < k; c0 += 4) {
      std::vector<int64_t> idx = {c0, c0 + 1, c0 + 2, c0 + 3};
      std::sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) {
        return std::fabs(w[size_t(r * k + a)]) < std::fabs(w[size_t(r * k + b)]);
      });
      keep[size_t(r * k + idx[0])] = keep[size_t(r * k + idx[1])] = 0;
    }
  std::vector<float> pruned = w;
  for (size_t i = 0; i < w.size(); ++i)
    if (!keep[i])
      pruned[i] = 0.0f;
  GPTQOptions o;
  o.affine = {4, 32, false};
  o.keep = keep.data();
  GPTQResult r;
  std::string error;
  ASSERT_TRUE(quantizeGPTQ(pruned.data(), n, k, h.data(), o, r, error)) << error;
  EXPECT_EQ(unpack(r, n, k, o.affine), r.dequantized);
  for (size_t i = 0; i < keep.size(); ++i)
    if (!keep[i])
      EXPECT_EQ(r.dequantized[i], 0.0f) << i;
  // Against the pruned weights: better than RTN of them (which keeps zeros at zero too).
  double e = layerOutputError(pruned.data(), r.dequantized.data(), n, k, h.data());
  double eRTN = layerOutputError(pruned.data(), rtnValues(pruned, n, k, o.affine).data(), n, k, h.data());
  EXPECT_LT(e, eRTN);
  // Plain GPTQ would refill pruned positions: the mask is what keeps them empty.
  GPTQOptions plain = o;
  plain.keep = nullptr;
  GPTQResult refilled;
  ASSERT_TRUE(quantizeGPTQ(pruned.data(), n, k, h.data(), plain, refilled, error)) << error;
  int64_t nonzero = 0;
  for (size_t i = 0; i < keep.size(); ++i)
    nonzero += !keep[i] && refilled.dequantized[i] != 0.0f;
  EXPECT_GT(nonzero, 0);
}

TEST(GPTQ, RefusesAnIndefiniteHessian) {
  const int64_t n = 2, k = 3;
  std::vector<float> w = makeWeights(n, k, 9);
  // Symmetric with a positive diagonal but an eigenvalue of -1: damping 0.01 cannot fix it.
  std::vector<float> h = {1, 2, 0, 2, 1, 0, 0, 0, 1};
  GPTQOptions o;
  o.affine = {4, 3, false};
  GPTQResult r;
  std::string error;
  EXPECT_FALSE(quantizeGPTQ(w.data(), n, k, h.data(), o, r, error));
  EXPECT_NE(error.find("not positive definite"), std::string::npos) << error;
}

TEST(GPTQ, BlockStartGroupsTakeTheirGridFromTheWeightsAsTheBlockStarted) {
  // One block of 32 columns, groups of 8: the reference (block-start) takes every group's
  // scale and zero from the weights as given, which for this first block is RTN's grid;
  // the default takes groups 1-3 from the error-updated weights, so their grids move.
  const int64_t n = 6, k = 32, rows = 200;
  std::vector<float> w = makeWeights(n, k, 11);
  std::vector<float> h = hessianOf(makeInputs(rows, k, 12), rows, k);
  GPTQOptions o;
  o.affine = {4, 8, false};
  o.blockSize = 32;
  AffineMatrix rtn = quantizeRTN(w.data(), n, k, o.affine);
  GPTQResult updated, blockStart;
  std::string error;
  ASSERT_TRUE(quantizeGPTQ(w.data(), n, k, h.data(), o, updated, error)) << error;
  o.groupsFromBlockStart = true;
  ASSERT_TRUE(quantizeGPTQ(w.data(), n, k, h.data(), o, blockStart, error)) << error;
  EXPECT_EQ(blockStart.matrix.scales, rtn.scales);
  EXPECT_EQ(blockStart.matrix.zeros, rtn.zeros);
  int64_t moved = 0;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t g = 0; g < 4; ++g) {
      size_t at = size_t(r * 4 + g);
      if (g == 0) // the block's first group starts before any update: the same either way
        EXPECT_EQ(updated.matrix.scales[at], rtn.scales[at]);
      else
        moved += updated.matrix.scales[at] != rtn.scales[at];
    }
  EXPECT_GT(moved, 0);
  // With groups as large as the block, the two rules agree bit for bit.
  o.affine.groupSize = 32;
  GPTQResult a, b;
  o.groupsFromBlockStart = false;
  ASSERT_TRUE(quantizeGPTQ(w.data(), n, k, h.data(), o, a, error));
  o.groupsFromBlockStart = true;
  ASSERT_TRUE(quantizeGPTQ(w.data(), n, k, h.data(), o, b, error));
  EXPECT_EQ(a.matrix.codes, b.matrix.codes);
  EXPECT_EQ(a.dequantized, b.dequantized);
}

} // namespace
