//===- Int8OutliersTest.cpp - LLM.int8() split, reference and CPU kernel ---===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Quantize/Int8Outliers.h"

#include "runtime/cpu/Kernels.h"
#include "runtime/cpu/KernelsInternal.h"
#include "runtime/params/Half.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

using namespace midllama;
using namespace midllama::quant;

namespace {

std::vector<float> randomValues(int64_t count, float sigma, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, sigma);
  std::vector<float> v(static_cast<size_t>(count));
  for (float &x : v)
    x = normal(rng);
  return v;
}

TEST(Int8Outliers, ColumnsAreThoseReachingTheThreshold) {
  EXPECT_EQ(outlierColumns({0.5f, 6.0f, 5.99f, 12.0f}, 6.0f), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(outlierColumns({0.5f, 6.0f}, 0.0f), (std::vector<int64_t>{0, 1}));
  EXPECT_TRUE(outlierColumns({0.5f, 6.0f}, 100.0f).empty());
}

TEST(Int8Outliers, OutlierWeightsAreExactInFp16AndTheRestWithinHalfAStep) {
  const int64_t n = 12, k = 40;
  std::vector<float> w = randomValues(n * k, 0.05f, 1);
  w[3 * k + 7] = 2.0f; // a large weight in an outlier column: it must not set the row scale
  std::vector<int64_t> cols = {7, 21};
  Int8OutlierMatrix m = quantizeInt8Outliers(w.data(), n, k, cols);
  std::vector<float> d = dequantizeInt8Outliers(m, n, k);
  for (int64_t r = 0; r < n; ++r) {
    float absmax = 0;
    for (int64_t j = 0; j < k; ++j)
      if (j != 7 && j != 21)
        absmax = std::max(absmax, std::fabs(w[size_t(r * k + j)]));
    EXPECT_FLOAT_EQ(m.rowScale[size_t(r)], absmax / 127.0f);
    for (int64_t j = 0; j < k; ++j) {
      float v = w[size_t(r * k + j)];
      if (j == 7 || j == 21) {
        EXPECT_EQ(d[size_t(r * k + j)], rt::halfToFloat(rt::floatToHalf(v)));
        EXPECT_EQ(m.q[size_t(r * k + j)], 0); // the int8 matrix holds zeros there
      } else {
        EXPECT_LE(std::fabs(d[size_t(r * k + j)] - v), 0.5f * m.rowScale[size_t(r)] * 1.0001f);
      }
    }
  }
}

TEST(Int8Outliers, ReferenceProductIsTheDecomposedInt8Product) {
  const int64_t n = 5, k = 16, rows = 3;
  std::vector<float> w = randomValues(n * k, 0.1f, 2), x = randomValues(rows * k, 1.0f, 3);
  x[1 * k + 4] = 40.0f; // an outlier activation, in an outlier column
  Int8OutlierMatrix m = quantizeInt8Outliers(w.data(), n, k, {4});
  std::vector<float> y(static_cast<size_t>(rows * n));
  int8OutlierMatmulReference(x.data(), rows, m, n, k, y.data());
  for (int64_t r = 0; r < rows; ++r) {
    float absmax = 0;
    for (int64_t j = 0; j < k; ++j)
      if (j != 4)
        absmax = std::max(absmax, std::fabs(x[size_t(r * k + j)]));
    for (int64_t o = 0; o < n; ++o) {
      double expect = 0;
      for (int64_t j = 0; j < k; ++j) {
        if (j == 4)
          continue;
        long xq = std::lround(x[size_t(r * k + j)] / (absmax / 127.0f));
        expect += double(xq) * m.q[size_t(o * k + j)];
      }
      expect *= double(absmax / 127.0f) * m.rowScale[size_t(o)];
      expect += double(rt::halfToFloat(rt::floatToHalf(x[size_t(r * k + 4)]))) *
                rt::halfToFloat(m.outliers[size_t(o)]);
      EXPECT_NEAR(y[size_t(r * n + o)], expect, 1e-5 * (1 + std::fabs(expect)));
    }
  }
  // The outlier activation does not spoil the other columns' precision: the product is
  // close to the fp32 one.
  for (int64_t o = 0; o < n; ++o) {
    double exact = 0;
    for (int64_t j = 0; j < k; ++j)
      exact += double(x[size_t(k + j)]) * w[size_t(o * k + j)];
    EXPECT_NEAR(y[size_t(n + o)], exact, 0.02 * (1 + std::fabs(exact)));
  }
}

TEST(Int8Outliers, CPUKernelMatchesTheReference) {
  // No outliers, a few, and most columns (a real model's last layers at threshold 6).
  for (int64_t numCols : {0, 3, 90})
    for (int64_t rows : {1, 2, 3, 9}) { // decode reads the rows in place, prefill repacks
      const int64_t n = 70, k = 100;
      std::vector<float> w = randomValues(n * k, 0.05f, 4), x = randomValues(rows * k, 1.0f, 5);
      std::vector<int64_t> cols;
      for (int64_t c = 0; c < numCols; ++c)
        cols.push_back((11 + 7 * c) % k); // distinct: 7 and 100 are coprime
      std::sort(cols.begin(), cols.end());
      Int8OutlierMatrix m = quantizeInt8Outliers(w.data(), n, k, cols);
      std::vector<float> expect(static_cast<size_t>(rows * n)), got(expect.size());
      int8OutlierMatmulReference(x.data(), rows, m, n, k, expect.data());
      std::vector<int32_t> cols32(cols.begin(), cols.end());
      rt::cpu::WeightRef ref;
      ref.rows = n;
      ref.cols = k;
      ref.bits = 8;
      ref.format = midllama::rt::FormatKind::Int8Outliers;
      ref.codes = reinterpret_cast<const uint8_t *>(m.q.data());
      ref.scales = m.rowScale.data();
      ref.numOutliers = numCols;
      ref.outlierColumns = cols32.data();
      ref.outliers = m.outliers.data();
      rt::cpu::matmul(x.data(), got.data(), rows, ref);
      for (size_t i = 0; i < got.size(); ++i)
        EXPECT_NEAR(got[i], expect[i], 1e-5f * (1 + std::fabs(expect[i]))) << i;
      // --bf16-activations leaves LLM.int8() as it is, the outlier columns included.
      std::vector<float> bf16(got.size());
      rt::cpu::setBf16Activations(true);
      rt::cpu::matmul(x.data(), bf16.data(), rows, ref);
      rt::cpu::setBf16Activations(false);
      EXPECT_EQ(bf16, got) << numCols << " outlier columns, " << rows << " rows";
      // dequantizeRow gives the weights the kernel stands for.
      std::vector<float> row(static_cast<size_t>(k)), d = dequantizeInt8Outliers(m, n, k);
      rt::cpu::dequantizeRow(ref, 5, row.data());
      EXPECT_EQ(row, std::vector<float>(d.begin() + 5 * k, d.begin() + 6 * k));
    }
}

TEST(Int8Outliers, PrunedRowsMatchTheirDenseForm) {
  // A pruned LLM.int8() weight (GBLM/SparseGPT then int8): the kept codes in one stream, a
  // bitmask per row (int8Row expands it: vpexpandb where the CPU has AVX512_VBMI2). The
  // product and the decoded rows equal those of the dense codes with the pruned ones zero,
  // for decode (1-3 rows, the rows read as expanded) and prefill (9 rows, repacked panels);
  // K = 100 and 150: a last 64-column step of 36 and 22 columns, a mask byte cut short.
  for (int64_t k : {100, 150})
    for (int64_t rows : {1, 3, 9}) {
      const int64_t n = 70, maskBytes = (k + 7) / 8;
      std::vector<float> w = randomValues(n * k, 0.05f, 6), x = randomValues(rows * k, 1.0f, 7);
      std::vector<int64_t> cols = {5, 17};
      Int8OutlierMatrix m = quantizeInt8Outliers(w.data(), n, k, cols);
      std::vector<int32_t> cols32(cols.begin(), cols.end());
      std::mt19937 rng(8);
      std::vector<uint8_t> mask(size_t(n * maskBytes), 0);
      std::vector<int8_t> kept, dense(m.q.size(), 0);
      std::vector<int32_t> rowPtr = {0};
      for (int64_t r = 0; r < n; ++r) {
        for (int64_t c = 0; c < k; ++c)
          if (rng() % 2) {
            mask[size_t(r * maskBytes + c / 8)] |= uint8_t(1u << (c % 8));
            kept.push_back(m.q[size_t(r * k + c)]);
            dense[size_t(r * k + c)] = m.q[size_t(r * k + c)];
          }
        rowPtr.push_back(int32_t(kept.size()));
      }
      rt::cpu::WeightRef ref;
      ref.rows = n;
      ref.cols = k;
      ref.bits = 8;
      ref.format = midllama::rt::FormatKind::Int8Outliers;
      ref.codes = reinterpret_cast<const uint8_t *>(dense.data());
      ref.scales = m.rowScale.data();
      ref.numOutliers = int64_t(cols.size());
      ref.outlierColumns = cols32.data();
      ref.outliers = m.outliers.data();
      rt::cpu::WeightRef pruned = ref;
      pruned.codes = reinterpret_cast<const uint8_t *>(kept.data());
      pruned.sparse = midllama::rt::SparsityKind::Bitmask;
      pruned.index = mask.data();
      pruned.rowPtr = rowPtr.data();
      std::vector<float> expect(static_cast<size_t>(rows * n)), got(expect.size());
      rt::cpu::matmul(x.data(), expect.data(), rows, ref);
      rt::cpu::matmul(x.data(), got.data(), rows, pruned);
      EXPECT_EQ(got, expect) << "k " << k << " rows " << rows;
      std::vector<float> a(static_cast<size_t>(k)), b(a.size());
      for (int64_t r : {int64_t(0), int64_t(37), n - 1}) {
        rt::cpu::dequantizeRow(ref, r, a.data());
        rt::cpu::dequantizeRow(pruned, r, b.data());
        EXPECT_EQ(a, b) << "k " << k << " row " << r;
      }
    }
}

TEST(Int8Outliers, InputSplitRoundsHalvesAwayFromZero) {
  // The input rows as the kernel splits them (quantizeLLMInt8Inputs: AVX-512 or portable),
  // against the reference's lround(clamp(x / s, ±127)): ties (s = 1 exactly), a tail of 5
  // columns past 32, outlier columns out of the absmax, an all-zero row, random rows.
  const int64_t k = 37, rows = 4;
  std::vector<int32_t> cols = {3, 20, 36};
  std::vector<float> x(size_t(rows * k), 0.0f);
  const float ties[] = {127.0f, 2.5f, -2.5f, 0.5f, -0.5f, 126.5f, -126.5f, 1.4999999f, 35.5f};
  for (size_t i = 0; i < std::size(ties); ++i)
    x[i < 3 ? i : i + 1] = ties[i]; // column 3 is an outlier
  x[3] = 1000.0f;                   // not in the absmax
  x[20] = 1.0001f;                  // rounds to fp16's 1.0
  x[36] = 65520.0f;                 // past fp16's largest: infinity
  x[size_t(k + 20)] = 7.0f;         // row 1: only an outlier, so s = 0 and every code 0
  std::vector<float> r = randomValues(2 * k, 3.0f, 9);
  std::copy(r.begin(), r.end(), x.begin() + 2 * k);
  rt::cpu::WeightRef w;
  w.rows = 1;
  w.cols = k;
  w.numOutliers = int64_t(cols.size());
  w.outlierColumns = cols.data();
  for (bool biased : {false, true}) {
    rt::cpu::LLMInt8Inputs in;
    rt::cpu::quantizeLLMInt8Inputs(x.data(), rows, w, biased, in);
    for (int64_t row = 0; row < rows; ++row) {
      float absmax = 0;
      for (int64_t j = 0; j < k; ++j)
        if (std::find(cols.begin(), cols.end(), j) == cols.end())
          absmax = std::max(absmax, std::fabs(x[size_t(row * k + j)]));
      const float s = absmax / 127.0f;
      EXPECT_EQ(in.scale[size_t(row)], s) << row;
      for (int64_t j = 0; j < k; ++j) {
        bool outlier = std::find(cols.begin(), cols.end(), j) != cols.end();
        int q = outlier || s == 0
                    ? 0
                    : int(std::lround(std::clamp(x[size_t(row * k + j)] / s, -127.0f, 127.0f)));
        int got = biased ? int(in.biased[size_t(row * in.stride + j)]) - 128
                         : int(in.codes[size_t(row * k + j)]);
        EXPECT_EQ(got, q) << "row " << row << " column " << j << (biased ? " biased" : "");
      }
      for (size_t o = 0; o < cols.size(); ++o)
        EXPECT_EQ(in.outliers[row * cols.size() + o],
                  rt::halfToFloat(rt::floatToHalf(x[size_t(row * k + cols[o])])));
    }
    if (biased) // padded to whole 4-byte steps with the code of zero
      for (int64_t j = k; j < in.stride; ++j)
        EXPECT_EQ(in.biased[size_t(j)], 128);
    // The ties by hand: halves go away from zero.
    const int8_t expect[] = {127, 3, -3, 1, -1, 127, -127, 1, 36};
    for (size_t i = 0; i < std::size(ties); ++i) {
      size_t j = i < 3 ? i : i + 1;
      EXPECT_EQ(biased ? int(in.biased[j]) - 128 : int(in.codes[j]), expect[i]) << ties[i];
    }
    EXPECT_EQ(in.outliers[1], 1.0f);
    EXPECT_TRUE(std::isinf(in.outliers[2]));
  }
}

} // namespace
