//===- EncodedSpillTest.cpp - Encoded weights kept on disk until the rewrite -===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// A spilled encoding must come back byte for byte (odd sizes, several weights, each
// component at its own aligned offset), leave no bytes in memory, and refuse to grow once
// read back.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/WeightRewriter.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

using namespace midllama;

namespace {

EncodedWeight makeWeight(uint8_t seed, std::vector<size_t> sizes) {
  EncodedWeight e;
  for (size_t i = 0; i < sizes.size(); ++i) {
    EncodedWeight::Component c;
    c.suffix = ".part" + std::to_string(i);
    c.dtype = rt::DType::U8;
    c.shape = {int64_t(sizes[i])};
    for (size_t j = 0; j < sizes[i]; ++j)
      c.bytes.push_back(uint8_t(seed + 7 * i + j * 13));
    e.components.push_back(std::move(c));
  }
  return e;
}

TEST(EncodedSpillTest, SpilledBytesComeBackExactly) {
  EncodedSpill spill;
  std::vector<EncodedWeight> weights = {makeWeight(1, {1, 4097, 63}),
                                        makeWeight(9, {100000, 5})};
  std::vector<EncodedWeight> originals = weights;
  std::string error;
  for (EncodedWeight &e : weights) {
    ASSERT_TRUE(spill.spill(e, error)) << error;
    for (const EncodedWeight::Component &c : e.components) {
      EXPECT_TRUE(c.bytes.empty());
      EXPECT_EQ(c.spill, &spill);
      EXPECT_EQ(c.spilledAt % 64, 0);
    }
  }
  for (size_t w = 0; w < weights.size(); ++w)
    for (size_t i = 0; i < weights[w].components.size(); ++i) {
      const EncodedWeight::Component &c = weights[w].components[i];
      const std::vector<uint8_t> &want = originals[w].components[i].bytes;
      ASSERT_EQ(c.spilledBytes, int64_t(want.size()));
      const uint8_t *got = spill.data(c.spilledAt, error);
      ASSERT_NE(got, nullptr) << error;
      EXPECT_EQ(std::vector<uint8_t>(got, got + want.size()), want) << w << "/" << i;
      spill.evict(c.spilledAt, c.spilledBytes); // and readable again after
      EXPECT_EQ(std::vector<uint8_t>(got, got + want.size()), want) << w << "/" << i;
    }
  EncodedWeight late = makeWeight(3, {10});
  EXPECT_FALSE(spill.spill(late, error));
  EXPECT_NE(error.find("after being read back"), std::string::npos) << error;
}

} // namespace
