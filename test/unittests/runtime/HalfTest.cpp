//===- HalfTest.cpp - fp16 and bf16 conversions ---------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// llm-cast-weights and the search's fp16/bf16 candidates store weights through these:
// round to nearest even as torch's `.to(float16)` / `.to(bfloat16)`, exact round trips of
// representable values, infinities and NaNs kept.
//
//===----------------------------------------------------------------------===//

#include "runtime/params/Half.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

using namespace midllama::rt;

namespace {

float fromBits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

TEST(HalfTest, BF16RoundsToNearestEven) {
  // 1 + 2^-8 lies halfway between bf16's 1 and 1 + 2^-7: ties go to the even mantissa (1).
  EXPECT_EQ(floatToBF16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  // 1 + 3·2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): up.
  EXPECT_EQ(floatToBF16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  // Just above the tie rounds up, just below down.
  EXPECT_EQ(floatToBF16(fromBits(0x3f808001)), 0x3f81);
  EXPECT_EQ(floatToBF16(fromBits(0x3f807fff)), 0x3f80);
  EXPECT_EQ(floatToBF16(-2.5f), 0xc020);
  // The largest finite float rounds into infinity, as torch's conversion does.
  EXPECT_EQ(floatToBF16(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_EQ(floatToBF16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(floatToBF16(-std::numeric_limits<float>::infinity()), 0xff80);
  // A NaN whose payload sits in the low bits must not round into infinity.
  EXPECT_TRUE(std::isnan(bf16ToFloat(floatToBF16(fromBits(0x7f800001)))));
}

TEST(HalfTest, RepresentableValuesRoundTrip) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float b = bf16ToFloat(uint16_t(h));
    if (!std::isnan(b))
      EXPECT_EQ(floatToBF16(b), h) << std::hex << h;
    float f = halfToFloat(uint16_t(h));
    if (!std::isnan(f))
      EXPECT_EQ(floatToHalf(f), h) << std::hex << h;
  }
}

TEST(HalfTest, HalfRoundsToNearestEven) {
  // 1 + 2^-11 is halfway between fp16's 1 and 1 + 2^-10: to even (1).
  EXPECT_EQ(floatToHalf(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(floatToHalf(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00); // rounds past the largest finite (65504)
  EXPECT_EQ(floatToHalf(65504.0f), 0x7bff);
}

} // namespace
