//===- CudaDecodeTest.cpp - The GPU kernels' decoders, checked on the CPU -===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The CUDA kernels decode weights with the __host__ __device__ functions of
// runtime/format/WeightView.h, from the same view the CPU kernels read, relocated. Both
// run here, without a GPU: every stored value of every row, walked as RowExpand.cuh walks
// it (dense columns; N:M positions; a bitmask's set bits in rank order), must equal the
// CPU backend's dequantizeRow bit for bit, for every format and odd shapes (K = 37 with a
// tail group, affine with zero points or minima, NF4 blocks straddling rows, int8 outlier
// columns, sparse + quantized).
//
//===----------------------------------------------------------------------===//

#include "runtime/cpu/Kernels.h"
#include "runtime/params/Half.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

using namespace midllama::rt;

namespace {

/// Row n of `d` expanded as RowExpand.cuh's expandRow does, sequentially.
std::vector<float> expandOnHost(const WeightView &d, int64_t n) {
  std::vector<float> row(static_cast<size_t>(d.cols), 0.0f);
  if (d.sparse == SparsityKind::None) {
    for (int64_t c = 0; c < d.cols; ++c)
      row[size_t(c)] = storedValue(d, n, n * d.cols + c, c, c);
  } else if (d.sparse == SparsityKind::NM) {
    int64_t perRow = d.cols / d.nmM * d.nmN;
    for (int64_t i = 0; i < perRow; ++i) {
      int64_t col = nmColumn(d, n, i);
      row[size_t(col)] = storedValue(d, n, n * perRow + i, i, col);
    }
  } else {
    const uint8_t *mask = d.index + n * ((d.cols + 7) / 8);
    int64_t rank = 0;
    for (int64_t c = 0; c < d.cols; ++c)
      if (mask[c >> 3] >> (c & 7) & 1) {
        row[size_t(c)] = storedValue(d, n, d.rowPtr[n] + rank, rank, c);
        ++rank;
      }
  }
  for (int64_t o = 0; o < d.numOutliers; ++o)
    row[size_t(d.outlierColumns[o])] = halfBitsToFloat(d.outliers[n * d.numOutliers + o]);
  return row;
}

void expectSameRows(const cpu::WeightRef &w) {
  WeightView d;
  ASSERT_TRUE(w.relocated([](const void *p) { return p; }, d));
  std::vector<float> cpuRow(static_cast<size_t>(w.cols));
  for (int64_t n = 0; n < w.rows; ++n) {
    if (w.isQuantized() || w.sparse != SparsityKind::None)
      cpu::dequantizeRow(w, n, cpuRow.data());
    else
      for (int64_t c = 0; c < w.cols; ++c)
        cpuRow[size_t(c)] = loadAs(w.data, d.dtype, n * w.cols + c);
    std::vector<float> gpuRow = expandOnHost(d, n);
    ASSERT_EQ(std::memcmp(gpuRow.data(), cpuRow.data(), cpuRow.size() * 4), 0) << "row " << n;
  }
}

std::vector<uint8_t> randomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (uint8_t &b : v)
    b = uint8_t(rng());
  return v;
}

std::vector<float> randomFloats(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

TEST(CudaDecodeTest, DenseF16) {
  const int64_t n = 5, k = 37;
  std::vector<uint16_t> values(static_cast<size_t>(n * k));
  std::vector<float> f = randomFloats(values.size(), 1, -2, 2);
  for (size_t i = 0; i < f.size(); ++i)
    values[i] = floatToHalf(f[i]);
  cpu::WeightRef w{values.data(), DType::F16, n, k};
  expectSameRows(w);
}

TEST(CudaDecodeTest, AffineGroupsWithTailAndZeroPoints) {
  const int64_t n = 6, k = 37, gs = 16, groups = 3;
  for (int bits : {3, 4, 8})
    for (bool symmetric : {false, true}) {
      int64_t rowBytes = (k * bits + 7) / 8;
      std::vector<uint8_t> codes = randomBytes(size_t(n * rowBytes), 2 + bits);
      std::vector<uint8_t> zeros = randomBytes(size_t(n * groups), 3);
      std::vector<float> scales = randomFloats(size_t(n * groups), 4, 0.01f, 0.1f);
      cpu::WeightRef w{nullptr, DType::F32, n, k};
      w.format = FormatKind::Affine;
      w.bits = bits;
      w.groupSize = gs;
      w.groups = groups;
      w.codeRowBytes = rowBytes;
      w.codes = codes.data();
      w.zeros = symmetric ? nullptr : zeros.data();
      w.scales = scales.data();
      SCOPED_TRACE(std::to_string(bits) + (symmetric ? " bits sym" : " bits asym"));
      expectSameRows(w);
    }
}

TEST(CudaDecodeTest, AffineMinGroupsWithTail) {
  const int64_t n = 6, k = 37, gs = 16, groups = 3;
  for (int bits : {3, 4, 8}) {
    int64_t rowBytes = (k * bits + 7) / 8;
    std::vector<uint8_t> codes = randomBytes(size_t(n * rowBytes), 5 + bits);
    std::vector<uint16_t> scales(size_t(n * groups)), mins(scales.size());
    std::vector<float> s = randomFloats(scales.size(), 6, 0.01f, 0.1f);
    std::vector<float> m = randomFloats(scales.size(), 7, -1.0f, 0.0f);
    for (size_t i = 0; i < scales.size(); ++i) {
      scales[i] = floatToHalf(s[i]);
      mins[i] = floatToHalf(m[i]);
    }
    cpu::WeightRef w{nullptr, DType::F16, n, k};
    w.format = FormatKind::AffineMin;
    w.bits = bits;
    w.groupSize = gs;
    w.groups = groups;
    w.codeRowBytes = rowBytes;
    w.codes = codes.data();
    w.scales = scales.data();
    w.mins = mins.data();
    SCOPED_TRACE(std::to_string(bits) + " bits");
    expectSameRows(w);
  }
}

TEST(CudaDecodeTest, NF4BlocksStraddleRows) {
  const int64_t n = 5, k = 37, block = 8, total = n * k;
  std::vector<uint8_t> codes = randomBytes(size_t((total + 1) / 2), 5);
  std::vector<float> absmax = randomFloats(size_t((total + block - 1) / block), 6, 0.1f, 1.0f);
  cpu::WeightRef w{nullptr, DType::F32, n, k};
  w.bits = 4;
  w.format = FormatKind::NF4;
  w.groupSize = block;
  w.codes = codes.data();
  w.scales = absmax.data();
  expectSameRows(w);
}

TEST(CudaDecodeTest, Int8WithOutlierColumns) {
  const int64_t n = 4, k = 37;
  std::vector<uint8_t> codes = randomBytes(size_t(n * k), 7);
  std::vector<int32_t> columns = {3, 30};
  for (int64_t r = 0; r < n; ++r)
    for (int32_t c : columns)
      codes[size_t(r * k + c)] = 0;
  std::vector<float> scales = randomFloats(size_t(n), 8, 0.01f, 0.1f);
  std::vector<uint16_t> outliers;
  for (float f : randomFloats(size_t(n * 2), 9, -4, 4))
    outliers.push_back(floatToHalf(f));
  cpu::WeightRef w{nullptr, DType::F32, n, k};
  w.bits = 8;
  w.format = FormatKind::Int8Outliers;
  w.codes = codes.data();
  w.scales = scales.data();
  w.numOutliers = 2;
  w.outlierColumns = columns.data();
  w.outliers = outliers.data();
  expectSameRows(w);
}

TEST(CudaDecodeTest, SparseNF4AndAffineByPositionAndRank) {
  // 2:4 over K = 16 with NF4 codes of the kept values, and a bitmask over K = 20 with
  // 4-bit affine codes (zero points or minima): the values are placed by their position or
  // their rank.
  const int64_t n = 3;
  {
    const int64_t k = 16, perRow = 8, idxRowBytes = 2;
    std::vector<uint8_t> idx(size_t(n * idxRowBytes));
    for (int64_t r = 0; r < n; ++r)
      for (int64_t i = 0; i < perRow; ++i) {
        int64_t pos = i % 2 == 0 ? (r + i / 2) % 2 : 2 + r % 2;
        idx[size_t(r * idxRowBytes + i * 2 / 8)] |= uint8_t(pos << (i * 2 % 8));
      }
    std::vector<uint8_t> codes = randomBytes(size_t(n * perRow / 2), 10);
    std::vector<float> absmax = randomFloats(size_t(n * perRow / 4), 11, 0.1f, 1.0f);
    cpu::WeightRef w{nullptr, DType::F32, n, k};
    w.bits = 4;
    w.format = FormatKind::NF4;
    w.groupSize = 4;
    w.codes = codes.data();
    w.scales = absmax.data();
    w.sparse = SparsityKind::NM;
    w.nmN = 2;
    w.nmM = 4;
    w.index = idx.data();
    w.indexRowBytes = idxRowBytes;
    SCOPED_TRACE("nf4 2:4");
    expectSameRows(w);
  }
  {
    const int64_t k = 20, maskBytes = 3, gs = 8, groups = 3;
    std::vector<uint8_t> mask = randomBytes(size_t(n * maskBytes), 12);
    std::vector<int32_t> rowPtr = {0};
    for (int64_t r = 0; r < n; ++r) {
      mask[size_t(r * maskBytes + 2)] &= 0x0f; // columns 20..23 do not exist
      int kept = 0;
      for (int64_t b = 0; b < maskBytes; ++b)
        kept += __builtin_popcount(mask[size_t(r * maskBytes + b)]);
      rowPtr.push_back(rowPtr.back() + kept);
    }
    std::vector<uint8_t> codes = randomBytes(size_t((rowPtr.back() + 1) / 2), 13);
    std::vector<float> scales = randomFloats(size_t(n * groups), 14, 0.01f, 0.1f);
    std::vector<float> mins = randomFloats(size_t(n * groups), 15, -1.0f, 0.0f);
    for (FormatKind format : {FormatKind::Affine, FormatKind::AffineMin}) {
      cpu::WeightRef w{nullptr, DType::F32, n, k};
      w.format = format;
      w.bits = 4;
      w.groupSize = gs;
      w.groups = groups;
      w.codes = codes.data();
      w.scales = scales.data();
      w.mins = format == FormatKind::AffineMin ? mins.data() : nullptr;
      w.sparse = SparsityKind::Bitmask;
      w.index = mask.data();
      w.rowPtr = rowPtr.data();
      SCOPED_TRACE(format == FormatKind::AffineMin ? "int4 min bitmask" : "int4 bitmask");
      expectSameRows(w);
    }
  }
}

TEST(CudaDecodeTest, PanelsAndMissingBuffersAreRefused) {
  std::vector<float> values(32, 1.0f);
  cpu::WeightRef w{values.data(), DType::F32, 2, 16};
  WeightView d;
  w.panels = true;
  EXPECT_FALSE(w.relocated([](const void *p) { return p; }, d));
  w.panels = false;
  EXPECT_FALSE(w.relocated([](const void *) { return static_cast<const void *>(nullptr); }, d));
}

} // namespace
