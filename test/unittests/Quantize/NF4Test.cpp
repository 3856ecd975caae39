//===- NF4Test.cpp - NF4 bit-exact with bitsandbytes ---------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Inputs/nf4-*.bin are bitsandbytes' own outputs (make-nf4-goldens.py, bitsandbytes
// 0.50.2 CPU quantize_4bit, blocksize 64): codes, absmax and, with double quantization,
// the 8-bit absmax codes, their scales, the offset (torch's float32 mean) and the 8-bit
// code table, all compared bit for bit. The cases hold short tail blocks, odd counts, zero
// blocks, an all-zero second-level block and codes bitsandbytes' table search does not
// pick as the nearest.
//
//===----------------------------------------------------------------------===//

#include "midllama/Quantize/NF4.h"
#include "runtime/cpu/Kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

using namespace midllama::quant;

namespace {

struct Golden {
  std::vector<float> input, absmax, absmaxScale, code8;
  std::vector<uint8_t> codes, qabsmax;
  float offset = 0;
  bool doubleQuant = false;
};

bool readGolden(const std::string &path, Golden &g) {
  std::ifstream f(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t at = 0;
  auto take = [&](void *dst, size_t n) {
    if (bytes.size() - at < n)
      return false;
    std::memcpy(dst, bytes.data() + at, n);
    at += n;
    return true;
  };
  auto u32 = [&](uint32_t &v) { return take(&v, 4); };
  char magic[4];
  uint32_t version, n, dq, count;
  if (!take(magic, 4) || std::memcmp(magic, "NF4G", 4) || !u32(version) || !u32(n) || !u32(dq))
    return false;
  g.doubleQuant = dq != 0;
  g.input.resize(n);
  if (!take(g.input.data(), 4 * n) || !u32(count))
    return false;
  g.codes.resize(count);
  if (!take(g.codes.data(), count) || !u32(count))
    return false;
  if (!g.doubleQuant) {
    g.absmax.resize(count);
    return take(g.absmax.data(), 4 * count) && at == bytes.size();
  }
  g.qabsmax.resize(count);
  if (!take(g.qabsmax.data(), count) || !u32(count))
    return false;
  g.absmaxScale.resize(count);
  g.code8.resize(256);
  return take(g.absmaxScale.data(), 4 * count) && take(&g.offset, 4) &&
         take(g.code8.data(), 4 * 256) && at == bytes.size();
}

uint32_t bitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

class NF4Golden : public ::testing::TestWithParam<const char *> {};

TEST_P(NF4Golden, BitExactWithBitsandbytes) {
  Golden g;
  std::string path = std::string(MIDLLAMA_SOURCE_DIR) + "/test/unittests/Quantize/Inputs/nf4-" +
                     GetParam() + ".bin";
  ASSERT_TRUE(readGolden(path, g)) << path;
  NF4Tensor t = quantizeNF4(g.input.data(), int64_t(g.input.size()), 64, g.doubleQuant);
  ASSERT_EQ(t.codes.size(), g.codes.size());
  for (size_t i = 0; i < g.codes.size(); ++i)
    ASSERT_EQ(int(t.codes[i]), int(g.codes[i])) << "code byte " << i;
  if (!g.doubleQuant) {
    ASSERT_EQ(t.absmax.size(), g.absmax.size());
    for (size_t i = 0; i < g.absmax.size(); ++i)
      ASSERT_EQ(bitsOf(t.absmax[i]), bitsOf(g.absmax[i])) << "absmax " << i;
    return;
  }
  const std::array<float, 256> &code = dynamicCode8();
  for (int i = 0; i < 256; ++i)
    ASSERT_EQ(bitsOf(code[i]), bitsOf(g.code8[i])) << "8-bit code " << i;
  // The offset is torch's float32 mean, its sum in torch's order (numerics::torchSumF32):
  // equal to the bit, like everything else.
  ASSERT_EQ(bitsOf(t.absmaxOffset), bitsOf(g.offset)) << t.absmaxOffset << " vs " << g.offset;
  ASSERT_EQ(t.absmaxScale.size(), g.absmaxScale.size());
  for (size_t i = 0; i < g.absmaxScale.size(); ++i)
    ASSERT_EQ(bitsOf(t.absmaxScale[i]), bitsOf(g.absmaxScale[i])) << "absmax scale " << i;
  ASSERT_EQ(t.qabsmax.size(), g.qabsmax.size());
  for (size_t i = 0; i < g.qabsmax.size(); ++i)
    ASSERT_EQ(int(t.qabsmax[i]), int(g.qabsmax[i])) << "absmax code " << i;
}

INSTANTIATE_TEST_SUITE_P(Goldens, NF4Golden,
                         ::testing::Values("normal-4x64", "normal-4x64-dq", "tail-1001",
                                           "tail-1001-dq", "special-384", "special-384-dq",
                                           "many-700x64", "many-700x64-dq",
                                           "equal-absmax-300x64-dq", "clustered-400x64-dq"),
                         [](const auto &info) {
                           std::string s = info.param;
                           for (char &c : s)
                             if (!isalnum(c))
                               c = '_';
                           return s;
                         });

TEST(NF4Test, DequantizedValuesAreCodeTimesAbsmax) {
  std::vector<float> x = {0.5f, -1.0f, 0.0f, 0.25f, 2.0f};
  NF4Tensor t = quantizeNF4(x.data(), 5, 4, false);
  std::vector<float> absmax = nf4Absmax(t);
  EXPECT_EQ(absmax, (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(nf4Value(t, absmax, 1, 4), -1.0f);
  EXPECT_EQ(nf4Value(t, absmax, 2, 4), 0.0f);
  EXPECT_EQ(nf4Value(t, absmax, 4, 4), 2.0f);
  EXPECT_FLOAT_EQ(nf4Value(t, absmax, 0, 4), 0.44070982933044434f); // 0.5 is nearer 0.4407 than 0.5626
}

} // namespace

namespace {

/// The CPU kernels read NF4 weights as the quantizer wrote them: every dequantized row
/// value is code x absmax of the lib's own decoding, blocks crossing rows included.
TEST(NF4Test, RuntimeDequantizationMatchesTheQuantizer) {
  const int64_t n = 7, k = 45; // 315 values: blocks of 64 straddle rows, odd count
  std::vector<float> w(size_t(n * k));
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = std::sin(float(i) * 0.37f) * (1.0f + float(i % 11));
  for (bool dq : {false, true}) {
    NF4Tensor t = quantizeNF4(w.data(), n * k, 64, dq);
    std::vector<float> absmax = nf4Absmax(t);
    midllama::rt::cpu::WeightRef ref;
    ref.rows = n;
    ref.cols = k;
    ref.bits = 4;
    ref.format = midllama::rt::FormatKind::NF4;
    ref.groupSize = 64;
    ref.codes = t.codes.data();
    ref.scales = absmax.data();
    std::vector<float> row(static_cast<size_t>(k));
    for (int64_t r = 0; r < n; ++r) {
      midllama::rt::cpu::dequantizeRow(ref, r, row.data());
      for (int64_t c = 0; c < k; ++c)
        ASSERT_EQ(row[c], nf4Value(t, absmax, r * k + c, 64)) << r << ", " << c;
    }
  }
}

} // namespace
