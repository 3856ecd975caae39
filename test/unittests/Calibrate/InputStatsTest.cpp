//===- InputStatsTest.cpp - Calibration statistics against direct sums ----===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Calibrate/InputStats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace midllama::calib;

TEST(InputStats, MatchesDirectSumsOverSeveralBatches) {
  const int64_t k = 37, rows = 300; // rows not a multiple of the 64-row blocks
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> x(static_cast<size_t>(rows * k));
  for (float &v : x)
    v = normal(rng);
  x[5 * k + 3] = 0.0f; // zeros are skipped by the kernel: still counted right
  InputStats stats(k);
  stats.add(x.data(), 100);
  stats.add(x.data() + 100 * k, rows - 100);
  ASSERT_EQ(stats.rows, rows);
  std::vector<float> h = stats.hessian(), mean = stats.meanAbs();
  for (int64_t i = 0; i < k; ++i) {
    double sumAbs = 0, sumSq = 0;
    float maxAbs = 0;
    for (int64_t r = 0; r < rows; ++r) {
      sumAbs += std::fabs(x[size_t(r * k + i)]);
      sumSq += double(x[size_t(r * k + i)]) * x[size_t(r * k + i)];
      maxAbs = std::max(maxAbs, std::fabs(x[size_t(r * k + i)]));
    }
    EXPECT_NEAR(mean[size_t(i)], sumAbs / rows, 1e-5);
    EXPECT_EQ(stats.maxAbs[size_t(i)], maxAbs);
    EXPECT_NEAR(stats.sumSq[size_t(i)], sumSq, 1e-9 * sumSq);
    for (int64_t j = 0; j < k; ++j) {
      double s = 0;
      for (int64_t r = 0; r < rows; ++r)
        s += double(x[size_t(r * k + i)]) * x[size_t(r * k + j)];
      EXPECT_NEAR(h[size_t(i * k + j)], 2.0 * s / rows, 1e-4 * (1.0 + std::fabs(2.0 * s / rows)))
          << i << "," << j;
    }
  }
}

TEST(InputStats, WithoutHessianKeepsOnlyTheChannelStatistics) {
  InputStats stats(4, /*hessian=*/false);
  float x[8] = {1, -2, 3, -4, -5, 6, -7, 8};
  stats.add(x, 2);
  EXPECT_TRUE(stats.xtx.empty());
  EXPECT_EQ(stats.meanAbs(), (std::vector<float>{3, 4, 5, 6}));
  EXPECT_EQ(stats.maxAbs, (std::vector<float>{5, 6, 7, 8}));
}
