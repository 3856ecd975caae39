//===- CPUBf16ActivationsTest.cpp - The bf16 prefill against its definition --===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// With setBf16Activations(true) a product of 4 or more input rows with a weight not stored
// as dense fp32 is Σ bf16(x_i)·bf16(w_i), each operand rounded to nearest even and the
// sum taken in fp32 (MatMulBF16AVX512.cpp). Each format the loader can hand the kernels
// (fp16/bf16 panels and rows, affine codes of 2-8 bits row-major and tiled, NF4 tiled,
// pruned bitmask and 2:4) against that sum written out in double from the weight's values
// as the row decoder (dequantizeRow) gives them; tiled NF4's decode (1-3 rows) against
// its own definition (the code book rounded, scaled per block in fp32); every other
// decode and dense fp32 weights bit-equal to the fp32 path. Without AVX512_BF16 the
// setting changes nothing, which is what is checked then.
//
//===----------------------------------------------------------------------===//

#include "runtime/artifact/Program.h"
#include "runtime/cpu/Kernels.h"
#include "runtime/format/Codebooks.h"
#include "runtime/params/Half.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

using namespace midllama::rt;
using namespace midllama::rt::cpu;

namespace {

float bitsToFloat(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
uint32_t floatBits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return bits;
}

/// f rounded to bf16, nearest even (finite values), back in fp32.
float roundBf16(float f) {
  uint32_t bits = floatBits(f);
  bits += 0x7fff + ((bits >> 16) & 1);
  return bitsToFloat(bits & 0xffff0000u);
}

/// Whether f lies within 4 fp32 steps of a point halfway between two bf16 values: a
/// decoder that differs from dequantizeRow by an fp32 rounding may round it the other way.
bool nearBf16Tie(float f) {
  const uint32_t low = floatBits(f) & 0xffff;
  return low > 0x8000 - 4 && low < 0x8000 + 4;
}

std::vector<float> randomInputs(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float &x : v)
    x = dist(rng);
  return v;
}

/// A weight under test: its view, the storage behind it, and a name for failures.
struct Case {
  std::string name;
  WeightRef w;
  WeightRef reference; // the same weight row-major (what dequantizeRow reads)
  std::vector<std::vector<uint8_t>> storage;
  uint8_t *add(size_t bytes) {
    storage.emplace_back(bytes);
    return storage.back().data();
  }
};

/// fp16 or bf16 weights, row-major or packed in panels of 16 rows.
Case halfWeight(DType dtype, bool panels, int64_t n, int64_t k, std::mt19937_64 &rng) {
  Case c;
  c.name = std::string(dtype == DType::F16 ? "fp16" : "bf16") + (panels ? " panels" : " rows");
  std::normal_distribution<float> dist(0.0f, 0.3f);
  uint16_t *rows = reinterpret_cast<uint16_t *>(c.add(size_t(2 * n * k)));
  for (int64_t i = 0; i < n * k; ++i) {
    const float v = dist(rng);
    rows[i] = dtype == DType::F16 ? floatToHalf(v) : uint16_t(floatBits(v) >> 16);
  }
  c.reference = WeightRef{rows, dtype, n, k};
  c.w = c.reference;
  if (panels) {
    uint8_t *packed = c.add(size_t(((n + 15) / 16) * 16 * k * 2));
    packPanel16(reinterpret_cast<const uint8_t *>(rows), n, k, 2, packed);
    c.w.data = packed;
    c.w.panels = true;
  }
  return c;
}

/// Affine codes of `bits` in groups of `group` with zero points and fp16 scales, tiled as
/// the loader tiles them when `tiled` and it can (the row-major codes then spoiled for the
/// tiled rows, so that a kernel reading them instead of the tiles fails).
Case affineWeight(int bits, int64_t group, bool tiled, int64_t n, int64_t k,
                  std::mt19937_64 &rng) {
  Case c;
  const int64_t groups = (k + group - 1) / group, rowBytes = (k * bits + 7) / 8;
  uint8_t *codes = c.add(size_t(n * rowBytes)), *zeros = c.add(size_t(n * groups));
  uint16_t *scales = reinterpret_cast<uint16_t *>(c.add(size_t(2 * n * groups)));
  for (int64_t i = 0; i < n * rowBytes; ++i)
    codes[i] = uint8_t(rng());
  for (int64_t i = 0; i < n * groups; ++i) {
    zeros[i] = uint8_t(rng() % (1u << bits));
    scales[i] = floatToHalf(0.001f * float(1 + rng() % 100));
  }
  WeightRef w;
  w.dtype = DType::F16;
  w.rows = n;
  w.cols = k;
  w.format = FormatKind::Affine;
  w.bits = bits;
  w.groupSize = group;
  w.groups = groups;
  w.codeRowBytes = rowBytes;
  w.codes = codes;
  w.scales = scales;
  w.zeros = zeros;
  c.reference = c.w = w;
  if (tiled && codeTilesApply(w)) {
    uint8_t *copy = c.add(size_t(n * rowBytes));
    std::memcpy(copy, codes, size_t(n * rowBytes));
    c.w.codes = copy;
    c.storage.emplace_back();
    packCodeTiles(c.w, c.storage.back());
    if (codeTilesWanted())
      std::memset(copy, 0x5a, size_t(n / 16 * 16 * rowBytes));
  }
  c.name = "int" + std::to_string(bits) + " g" + std::to_string(group) +
           (c.w.tileCodes ? " tiled" : " rows");
  return c;
}

/// NF4 with blocks of 64 on row boundaries, tiled.
Case nf4Weight(int64_t n, int64_t k, std::mt19937_64 &rng) {
  Case c;
  c.name = "nf4 b64 tiled";
  const int64_t blocks = n * k / 64;
  uint8_t *codes = c.add(size_t(n * k / 2));
  float *absmax = reinterpret_cast<float *>(c.add(size_t(4 * blocks)));
  for (int64_t i = 0; i < n * k / 2; ++i)
    codes[i] = uint8_t(rng());
  for (int64_t i = 0; i < blocks; ++i)
    absmax[i] = 0.05f + 0.01f * float(rng() % 50);
  WeightRef w;
  w.rows = n;
  w.cols = k;
  w.bits = 4;
  w.format = FormatKind::NF4;
  w.groupSize = 64;
  w.groups = blocks;
  w.codes = codes;
  w.scales = absmax;
  c.reference = w;
  uint8_t *copy = c.add(size_t(n * k / 2));
  std::memcpy(copy, codes, size_t(n * k / 2));
  w.codes = copy;
  EXPECT_TRUE(codeTilesApply(w));
  c.storage.emplace_back();
  packCodeTiles(w, c.storage.back());
  c.w = w;
  return c;
}

/// Pruned fp32 weights: a bitmask keeping about half of each row, or 2:4.
Case prunedWeight(bool nm, int64_t n, int64_t k, std::mt19937_64 &rng) {
  Case c;
  c.name = nm ? "2:4 fp32" : "bitmask fp32";
  std::normal_distribution<float> dist(0.0f, 0.3f);
  std::vector<float> kept;
  WeightRef w{nullptr, DType::F32, n, k};
  if (nm) {
    const int64_t rowBytes = (k / 2 * 2 + 7) / 8;
    uint8_t *index = c.add(size_t(n * rowBytes));
    std::memset(index, 0, size_t(n * rowBytes));
    for (int64_t r = 0; r < n; ++r)
      for (int64_t run = 0; run < k / 4; ++run) {
        const int first = int(rng() % 3), second = first + 1 + int(rng() % (3 - first));
        for (int pos : {first, second}) {
          const int64_t bit = (int64_t(kept.size()) - r * (k / 2)) * 2;
          index[r * rowBytes + bit / 8] |= uint8_t(pos << (bit % 8));
          kept.push_back(dist(rng));
        }
      }
    w.sparse = SparsityKind::NM;
    w.nmN = 2;
    w.nmM = 4;
    w.index = index;
    w.indexRowBytes = rowBytes;
  } else {
    const int64_t maskBytes = (k + 7) / 8;
    uint8_t *mask = c.add(size_t(n * maskBytes));
    int32_t *rowPtr = reinterpret_cast<int32_t *>(c.add(size_t(4 * (n + 1))));
    std::memset(mask, 0, size_t(n * maskBytes));
    rowPtr[0] = 0;
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t i = 0; i < k; ++i)
        if (rng() % 2) {
          mask[r * maskBytes + i / 8] |= uint8_t(1u << (i % 8));
          kept.push_back(dist(rng));
        }
      rowPtr[r + 1] = int32_t(kept.size());
    }
    w.sparse = SparsityKind::Bitmask;
    w.index = mask;
    w.rowPtr = rowPtr;
  }
  float *values = reinterpret_cast<float *>(c.add(4 * kept.size()));
  std::memcpy(values, kept.data(), 4 * kept.size());
  w.data = values;
  c.reference = c.w = w;
  return c;
}

/// The weight's [n, k] values as the row decoder gives them.
std::vector<float> denseValues(const WeightRef &w) {
  std::vector<float> v(size_t(w.rows * w.cols));
  for (int64_t j = 0; j < w.rows; ++j) {
    if (decodesRows(w)) {
      dequantizeRow(w, j, v.data() + j * w.cols);
      continue;
    }
    const uint16_t *h = static_cast<const uint16_t *>(w.data) + j * w.cols;
    for (int64_t i = 0; i < w.cols; ++i)
      v[size_t(j * w.cols + i)] = w.dtype == DType::F16 ? halfToFloat(h[i])
                                                        : bitsToFloat(uint32_t(h[i]) << 16);
  }
  return v;
}

/// The product of `rows` input rows with `w` with fp32 activations (`fp32`) and with
/// --bf16-activations (`bf16`), each rows x w.rows; leaves the setting on.
void productBothWays(const std::vector<float> &x, int64_t rows, const WeightRef &w,
                     std::vector<float> &fp32, std::vector<float> &bf16) {
  fp32.assign(size_t(rows * w.rows), 0.0f);
  bf16.assign(fp32.size(), 0.0f);
  setBf16Activations(false);
  matmul(x.data(), fp32.data(), rows, w);
  setBf16Activations(true);
  matmul(x.data(), bf16.data(), rows, w);
}

class CPUBf16ActivationsTest : public ::testing::TestWithParam<int> {
protected:
  void SetUp() override { setThreadCount(GetParam()); }
  void TearDown() override {
    setBf16Activations(false);
    setThreadCount(0);
  }
};

std::vector<Case> everyFormat(int64_t n, int64_t k, std::mt19937_64 &rng) {
  std::vector<Case> cases;
  for (DType dtype : {DType::F16, DType::BF16})
    for (bool panels : {false, true})
      cases.push_back(halfWeight(dtype, panels, n, k, rng));
  for (int bits : {2, 3, 4, 5, 6, 7, 8})
    for (bool tiled : {false, true}) {
      cases.push_back(affineWeight(bits, 32, tiled, n, k, rng));
    }
  cases.push_back(affineWeight(4, 128, false, n, k, rng)); // a short last group (k = 160)
  if (k % 64 == 0)
    cases.push_back(nf4Weight(n, k, rng));
  cases.push_back(prunedWeight(false, n, k, rng));
  if (k % 4 == 0)
    cases.push_back(prunedWeight(true, n, k, rng));
  return cases;
}

// Every format, 4 to 13 input rows (blocks of 6 and every tail height), a last panel of 5
// rows (n = 37) and of 16 (n = 48), odd and even K.
TEST_P(CPUBf16ActivationsTest, PrefillIsTheSumOfBf16Products) {
  std::mt19937_64 rng(5);
  const bool available = bf16ActivationsAvailable();
  for (int64_t n : {37, 48})
    for (int64_t k : {160, 75, 576}) {
      for (Case &c : everyFormat(n, k, rng)) {
        const std::vector<float> values = denseValues(c.reference);
        for (int64_t rows : {4, 5, 8, 9, 13}) {
          const std::vector<float> x = randomInputs(rows * k, uint64_t(rows * 7 + k));
          std::vector<float> y, fp32;
          productBothWays(x, rows, c.w, fp32, y);
          if (!available) { // nothing changes
            ASSERT_EQ(y, fp32) << c.name;
            continue;
          }
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t j = 0; j < n; ++j) {
              double expected = 0, magnitude = 0, ties = 0;
              for (int64_t i = 0; i < k; ++i) {
                const float w = values[size_t(j * k + i)], xi = x[size_t(r * k + i)];
                const double product = double(roundBf16(xi)) * roundBf16(w);
                expected += product;
                magnitude += std::fabs(product);
                if (nearBf16Tie(w))
                  ties += std::fabs(double(xi) * w) / 128;
              }
              ASSERT_NEAR(y[size_t(r * n + j)], expected, 4e-6 * magnitude + 1e-6 + ties)
                  << c.name << " n " << n << " k " << k << " rows " << rows << " [" << r
                  << ", " << j << "]";
            }
        }
      }
    }
}

// Decode (1-3 rows) of tiled NF4: per block of 64 columns, absmax · Σ bf16(x_i)·bf16(book[q_i])
// (the code book rounded, not the scaled value, MatMulNF4BF16Decode.cpp); the rows past
// the last whole tile (n = 37) keep the fp32 path exactly.
TEST_P(CPUBf16ActivationsTest, Nf4DecodeIsTheSumOfBf16CodeProducts) {
  std::mt19937_64 rng(17);
  const bool available = bf16ActivationsAvailable();
  for (int64_t n : {37, 48})
    for (int64_t k : {64, 192, 576}) {
      Case c = nf4Weight(n, k, rng);
      const uint8_t *codes = c.reference.codes;
      const float *absmax = static_cast<const float *>(c.reference.scales);
      for (int64_t rows : {1, 2, 3}) {
        const std::vector<float> x = randomInputs(rows * k, uint64_t(rows * 5 + k));
        std::vector<float> y, fp32;
        productBothWays(x, rows, c.w, fp32, y);
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t j = 0; j < n; ++j) {
            const size_t at = size_t(r * n + j);
            if (!available || j >= n / 16 * 16) {
              ASSERT_EQ(y[at], fp32[at]) << "n " << n << " k " << k << " [" << r << ", " << j
                                         << "]";
              continue;
            }
            double expected = 0, magnitude = 0;
            for (int64_t b = 0; b < k / 64; ++b) {
              double block = 0;
              for (int64_t i = 64 * b; i < 64 * b + 64; ++i) {
                const int64_t stream = j * k + i;
                const uint8_t byte = codes[stream / 2];
                const float book = kNF4Values[stream % 2 ? byte & 0xf : byte >> 4];
                block += double(roundBf16(x[size_t(r * k + i)])) * roundBf16(book);
                magnitude += std::fabs(double(x[size_t(r * k + i)]) * book) * absmax[stream / 64];
              }
              expected += block * absmax[(j * k + 64 * b) / 64];
            }
            ASSERT_NEAR(y[at], expected, 4e-6 * magnitude + 1e-6)
                << "n " << n << " k " << k << " rows " << rows << " [" << r << ", " << j << "]";
          }
      }
    }
}

// Decode (1-3 rows) but NF4's and dense fp32 weights (rows and panels) keep the fp32 path
// exactly.
TEST_P(CPUBf16ActivationsTest, DecodeAndFp32WeightsAreUnchanged) {
  std::mt19937_64 rng(9);
  const int64_t n = 37, k = 160;
  std::vector<Case> cases = everyFormat(n, k, rng);
  std::vector<float> dense(size_t(n * k)), packed(size_t(48 * k));
  std::normal_distribution<float> dist(0.0f, 0.3f);
  for (float &v : dense)
    v = dist(rng);
  packPanel16(reinterpret_cast<const uint8_t *>(dense.data()), n, k, 4,
              reinterpret_cast<uint8_t *>(packed.data()));
  Case rows{"fp32 rows", WeightRef{dense.data(), DType::F32, n, k}, {}, {}};
  Case panels{"fp32 panels", WeightRef{packed.data(), DType::F32, n, k}, {}, {}};
  panels.w.panels = true;
  cases.push_back(rows);
  cases.push_back(panels);
  for (const Case &c : cases)
    for (int64_t m : {1, 2, 3, 4, 9}) {
      if (m >= 4 && (decodesRows(c.w) || c.w.dtype != DType::F32))
        continue; // the prefill of stored formats is the other test's
      if (c.w.isNF4())
        continue; // Nf4DecodeIsTheSumOfBf16CodeProducts
      const std::vector<float> x = randomInputs(m * k, 3);
      std::vector<float> y, fp32;
      productBothWays(x, m, c.w, fp32, y);
      ASSERT_EQ(y, fp32) << c.name << " rows " << m;
    }
}

// gate_up_swiglu rounds its input once for both projections: silu(x·gateᵀ) ⊙ (x·upᵀ) with
// each product as matmul gives it under the same setting.
TEST_P(CPUBf16ActivationsTest, GateUpSwiGLUUsesTheSameProducts) {
  std::mt19937_64 rng(11);
  const int64_t n = 200, k = 128, rows = 7;
  Case gate = affineWeight(4, 32, true, n, k, rng), up = nf4Weight(n, k, rng);
  const std::vector<float> x = randomInputs(rows * k, 13);
  std::vector<float> g(size_t(rows * n)), u(g.size()), out(g.size());
  setBf16Activations(true);
  matmul(x.data(), g.data(), rows, gate.w);
  matmul(x.data(), u.data(), rows, up.w);
  gateUpSwiGLU(x.data(), out.data(), rows, gate.w, up.w);
  for (size_t i = 0; i < out.size(); ++i) {
    const double expected = g[i] / (1.0 + std::exp(-double(g[i]))) * u[i];
    ASSERT_NEAR(out[i], expected, 1e-5 * (1 + std::fabs(expected))) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Threads, CPUBf16ActivationsTest, ::testing::Values(1, 3),
                         [](const auto &info) { return std::to_string(info.param) + "threads"; });

} // namespace
