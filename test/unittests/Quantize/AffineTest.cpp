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
            EXPECT_EQ(zero, int(std::nearbyint(-lo / scale)));
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

// The GPTQ reference's quantizer (Quantizer.find_params / quantize) at its edges, where a
// plain absmax or min-max reading would differ: these are its codes, not a design choice.
TEST(AffineTest, EdgeGroupsFollowTheGPTQReference) {
  // Symmetric without a negative value: the range stays [0, max], scale max / 255, and
  // the upper half clips.
  const float nonNegative[4] = {0.0f, 1.0f, 2.0f, 3.0f};
  float scale;
  int zero;
  groupScale(nonNegative, 4, AffineParams{8, 4, true}, scale, zero);
  EXPECT_FLOAT_EQ(scale, 3.0f / 255.0f);
  EXPECT_EQ(zero, 128);
  EXPECT_EQ(quantizeValue(1.0f, scale, zero, 8), 213); // 85 + 128
  EXPECT_EQ(quantizeValue(3.0f, scale, zero, 8), 255); // 255 + 128, clipped

  // An all-zero group gets the range [-1, 1]: scale 2 / 15; asymmetric zero = round(1 /
  // scale) = round(7.4999995) in fp32 = 7, symmetric 8. Zero stays exact either way.
  const float zeros[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (bool symmetric : {false, true}) {
    groupScale(zeros, 4, AffineParams{4, 4, symmetric}, scale, zero);
    EXPECT_FLOAT_EQ(scale, 2.0f / 15.0f);
    EXPECT_EQ(zero, symmetric ? 8 : 7);
    EXPECT_EQ(dequantizeValue(quantizeValue(0.0f, scale, zero, 4), scale, zero), 0.0f);
  }

  // Rounding is torch.round's: half to even, of the fp32 quotient.
  EXPECT_EQ(quantizeValue(2.5f, 1.0f, 0, 4), 2);
  EXPECT_EQ(quantizeValue(3.5f, 1.0f, 0, 4), 4);
  EXPECT_EQ(quantizeValue(-0.5f, 1.0f, 8, 4), 8);
  EXPECT_EQ(quantizeValue(-1.5f, 1.0f, 8, 4), 6);
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
