//===- NumericsTest.cpp - The calibration numerics against direct formulas -===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The product, the inverse-Hessian factor and the lazy-batch update that GPTQ and
// SparseGPT run on, each against a plain loop written from its definition, at sizes that
// are not multiples of the kernels' 16-lane panels or 6-row blocks.
//
//===----------------------------------------------------------------------===//

#include "midllama/Numerics/Cholesky.h"
#include "midllama/Numerics/Gemm.h"
#include "midllama/Numerics/LazyBatch.h"
#include "midllama/Numerics/TorchSum.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

using namespace midllama::numerics;

namespace {

std::vector<float> randomMatrix(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> m(size_t(rows * cols));
  for (float &v : m)
    v = dist(rng);
  return m;
}

/// A positive definite [k, k] matrix: XᵀX / rows + 0.1 I for random X, fp64.
std::vector<double> positiveDefinite(int64_t k, uint32_t seed) {
  int64_t rows = 2 * k + 3;
  std::vector<float> x = randomMatrix(rows, k, seed);
  std::vector<double> h(size_t(k * k), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j)
        h[size_t(i * k + j)] += double(x[size_t(r * k + i)]) * x[size_t(r * k + j)] / rows;
  for (int64_t i = 0; i < k; ++i)
    h[size_t(i * k + i)] += 0.1;
  return h;
}

} // namespace

TEST(Numerics, GemmEqualsTheDefinitionAtOddSizes) {
  for (auto [m, k, n] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {7, 13, 5},
                         {13, 64, 33}, {50, 300, 17}, {6, 3, 48}}) {
    std::vector<float> a = randomMatrix(m, k, 1), b = randomMatrix(k, n, 2);
    std::vector<float> c(size_t(m * n), -1.0f);
    gemm(a.data(), b.data(), c.data(), m, k, n);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double want = 0, scale = 0;
        for (int64_t p = 0; p < k; ++p) {
          want += double(a[size_t(i * k + p)]) * b[size_t(p * n + j)];
          scale += std::fabs(double(a[size_t(i * k + p)]) * b[size_t(p * n + j)]);
        }
        ASSERT_NEAR(c[size_t(i * n + j)], want, 1e-6 * scale + 1e-30)
            << m << "x" << k << "x" << n << " at " << i << "," << j;
      }
  }
}

TEST(Numerics, GemmOfATransposeWithItselfIsExactlySymmetric) {
  int64_t rows = 37, k = 21;
  std::vector<float> x = randomMatrix(rows, k, 3), xt(size_t(k * rows)), c(size_t(k * k));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < k; ++i)
      xt[size_t(i * rows + r)] = x[size_t(r * k + i)];
  gemm(xt.data(), x.data(), c.data(), k, rows, k);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < i; ++j)
      EXPECT_EQ(c[size_t(i * k + j)], c[size_t(j * k + i)]);
}

TEST(Numerics, UpperFactorOfTheInverseTimesHIsTheIdentity) {
  for (int64_t k : {1, 2, 9, 40, 131}) {
    std::vector<double> h = positiveDefinite(k, uint32_t(k)), u;
    ASSERT_TRUE(upperCholeskyOfInverse(h, k, u)) << k;
    for (int64_t i = 0; i < k; ++i) {
      EXPECT_GT(u[size_t(i * k + i)], 0.0);
      for (int64_t j = 0; j < i; ++j)
        EXPECT_EQ(u[size_t(i * k + j)], 0.0) << "U is upper triangular";
    }
    // (Uᵀ U) H = I.
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j) {
        double s = 0;
        for (int64_t p = 0; p < k; ++p) {
          double inv = 0; // (Uᵀ U)_ip
          for (int64_t q = 0; q <= std::min(i, p); ++q)
            inv += u[size_t(q * k + i)] * u[size_t(q * k + p)];
          s += inv * h[size_t(p * k + j)];
        }
        ASSERT_NEAR(s, i == j ? 1.0 : 0.0, 1e-10) << k << ": " << i << "," << j;
      }
  }
}

TEST(Numerics, IndefiniteMatricesAreRefused) {
  std::vector<double> h = {1, 2, 2, 1}, u; // eigenvalues 3 and -1
  EXPECT_FALSE(upperCholeskyOfInverse(h, 2, u));
}

TEST(Numerics, BlockErrorsReachOnlyTheLaterColumns) {
  int64_t n = 7, k = 45, stride = 16, i1 = 10, i2 = 23;
  std::vector<double> h = positiveDefinite(k, 5), u;
  ASSERT_TRUE(upperCholeskyOfInverse(h, k, u));
  std::vector<float> w = randomMatrix(n, k, 6), err = randomMatrix(n, stride, 7);
  std::vector<float> want = w;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = i2; c < k; ++c) {
      double s = 0;
      for (int64_t i = i1; i < i2; ++i)
        s += double(err[size_t(r * stride + i - i1)]) * u[size_t(i * k + c)];
      want[size_t(r * k + c)] = float(w[size_t(r * k + c)] - s);
    }
  applyBlockErrors(w.data(), n, k, err.data(), stride, u, i1, i2);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c)
      ASSERT_NEAR(w[size_t(r * k + c)], want[size_t(r * k + c)], 1e-5f) << r << "," << c;
}

TEST(Numerics, TorchSumIsTorchsFloat32SumBitForBit) {
  // x_i = 1/(i+1) + 1000 for every third i, as float32; the expected bits are torch 2.15's
  // torch.sum and torch.mean on the CPU. At n = 37 and 13824 they are not the correctly
  // rounded sum (0x464b30ce, 0x4a8ca014): the order matters.
  struct Case {
    int64_t n;
    uint32_t sum, mean;
  };
  for (Case c : {Case{7, 0x453ba97c, 0x43d6788e}, Case{8, 0x453bab7c, 0x43bbab7c},
                 Case{37, 0x464b30cf, 0x43afbb83}, Case{1000, 0x48a316f0, 0x43a700f6},
                 Case{13824, 0x4a8ca013, 0x43a6aac1}}) {
    std::vector<float> x(static_cast<size_t>(c.n));
    for (int64_t i = 0; i < c.n; ++i)
      x[size_t(i)] = float(1.0 / double(i + 1) + (i % 3 == 0 ? 1000.0 : 0.0));
    float sum = torchSumF32(x.data(), c.n), mean = torchMeanF32(x.data(), c.n);
    uint32_t sumBits, meanBits;
    std::memcpy(&sumBits, &sum, 4);
    std::memcpy(&meanBits, &mean, 4);
    EXPECT_EQ(sumBits, c.sum) << "n = " << c.n;
    EXPECT_EQ(meanBits, c.mean) << "n = " << c.n;
  }
}
