//===- AffineTest.cpp - RTN numerics against their definition -------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Quantize/Affine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

using namespace midllama::quant;

namespace {

std::vector<float> randomMatrix(int64_t n, int64_t k, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.0f, 0.05f);
  std::vector<float> w(size_t(n * k));
  for (float &x : w)
    x = d(rng);
  return w;
}

TEST(AffineTest, CodesPackLittleEndianAlongTheRow) {
  for (int bits = 2; bits <= 8; ++bits) {
    std::vector<uint8_t> row(32, 0);
    std::mt19937 rng(bits);
    std::vector<int> q(23);
    for (size_t c = 0; c < q.size(); ++c) {
      q[c] = int(rng() % (1u << bits));
      packCode(row.data(), int64_t(c), bits, q[c]);
    }
    for (size_t c = 0; c < q.size(); ++c)
      ASSERT_EQ(unpackCode(row.data(), int64_t(c), bits), q[c]) << bits << " bits, column " << c;
  }
  // 4 bits: column 0 is the low nibble of byte 0 (MatMulNBits, GPTQ, llama.cpp agree).
  std::vector<uint8_t> row(1, 0);
  packCode(row.data(), 0, 4, 0x3);
  packCode(row.data(), 1, 4, 0xA);
  EXPECT_EQ(row[0], 0xA3);
}

/// Every weight within half a step of its group's grid (RTN's defining property), the
/// formulas of ALGORITHMS.md for the group parameters, and the tail group.
TEST(AffineTest, RoundToNearestMatchesTheDefinition) {
  const int64_t n = 9, k = 70; // groups of 32: 32, 32 and a tail of 6
  std::vector<float> w = randomMatrix(n, k, 1);
  w[5] = 0.0f;
  for (int bits : {3, 4, 8})
    for (bool symmetric : {false, true}) {
      AffineParams p{bits, 32, symmetric};
      AffineMatrix m = quantizeRTN(w.data(), n, k, p);
      ASSERT_EQ(m.groups, 3);
      ASSERT_EQ(m.rowBytes, (k * bits + 7) / 8);
      const int maxq = (1 << bits) - 1;
      for (int64_t r = 0; r < n; ++r)
        for (int64_t g = 0; g < m.groups; ++g) {
          int64_t c0 = g * 32, c1 = std::min<int64_t>(k, c0 + 32);
          float lo = 0, hi = 0;
          for (int64_t c = c0; c < c1; ++c) {
            lo = std::min(lo, w[r * k + c]);
            hi = std::max(hi, w[r * k + c]);
          }
          float scale = m.scales[r * m.groups + g];
          int zero = symmetric ? 1 << (bits - 1) : m.zeros[r * m.groups + g];
          if (symmetric) {
            EXPECT_FLOAT_EQ(scale, 2 * std::max(-lo, hi) / maxq);
          } else {
            EXPECT_FLOAT_EQ(scale, (hi - lo) / maxq);
            EXPECT_EQ(zero, int(std::lround(-lo / scale)));
          }
          for (int64_t c = c0; c < c1; ++c) {
            int q = unpackCode(m.codes.data() + r * m.rowBytes, c, bits);
            ASSERT_GE(q, 0);
            ASSERT_LE(q, maxq);
            float back = dequantizeValue(q, scale, zero);
            // Inside the grid's range: at most half a step away (ties either way).
            float clampLo = dequantizeValue(0, scale, zero), clampHi = dequantizeValue(maxq, scale, zero);
            float target = std::clamp(w[r * k + c], clampLo, clampHi);
            ASSERT_LE(std::fabs(back - target), 0.5f * scale * 1.0001f)
                << bits << " bits, [" << r << ", " << c << "]";
          }
        }
      // Zero is representable exactly (the grid always contains it).
      EXPECT_EQ(dequantizeValue(unpackCode(m.codes.data(), 5, bits), m.scales[0],
                                symmetric ? 1 << (bits - 1) : m.zeros[0]),
                0.0f);
    }
}

TEST(AffineTest, MoreBitsLessError) {
  const int64_t n = 64, k = 128;
  std::vector<float> w = randomMatrix(n, k, 2);
  double previous = INFINITY;
  for (int bits = 2; bits <= 8; ++bits) {
    AffineParams p{bits, 32, false};
    AffineMatrix m = quantizeRTN(w.data(), n, k, p);
    double err = 0;
    for (int64_t r = 0; r < n; ++r)
      for (int64_t c = 0; c < k; ++c) {
        int64_t g = c / 32;
        float back = dequantizeValue(unpackCode(m.codes.data() + r * m.rowBytes, c, bits),
                                     m.scales[r * m.groups + g], m.zeros[r * m.groups + g]);
        err += double(back - w[r * k + c]) * (back - w[r * k + c]);
      }
    EXPECT_LT(err, previous) << bits << " bits";
    previous = err;
  }
}

} // namespace
