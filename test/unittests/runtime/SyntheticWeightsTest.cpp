//===- SyntheticWeightsTest.cpp - Generated pruned-weight structure -------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// --synthetic-weights generates a pruned weight's index tensors as well as its values: the
// structure must be what the kernels rely on (N:M positions distinct and increasing in
// every run; a bitmask whose row offsets count its bits) and keep exactly the manifest's
// number of values, so that a synthetic artifact occupies the memory the real one does.
//
//===----------------------------------------------------------------------===//

#include "runtime/SyntheticWeights.h"

#include "../TempDirTest.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace midllama::rt;

namespace {

class SyntheticWeightsTest : public midllama::testing::TempDirTest {
protected:
  /// An artifact-like parameter file holding only the manifest `json`, opened.
  std::unique_ptr<ParamFile> withManifest(const std::string &json) {
    ParamFileWriter writer;
    std::string error;
    std::vector<uint8_t> bytes(json.begin(), json.end());
    EXPECT_TRUE(writer.addOwned("__synthetic_weights__", DType::U8, {int64_t(bytes.size())},
                                bytes, error))
        << error;
    EXPECT_TRUE(writer.commit(path("a.mlm"), error)) << error;
    std::unique_ptr<ParamFile> file = ParamFile::open(path("a.mlm"), error);
    EXPECT_TRUE(file) << error;
    return file;
  }

  static WeightInfo pruned(const std::string &name, int64_t n, int64_t k, SparsityKind kind,
                           int64_t keep = 0, int64_t of = 0) {
    WeightInfo w;
    w.name = name;
    w.shape = {n, k};
    w.sparsity = {kind, keep, of};
    return w;
  }

  std::string synthesize(const std::string &json, const Program &program,
                         std::unique_ptr<ParamFile> &file) {
    file = withManifest(json);
    std::string error;
    TensorView manifest = *file->find("__synthetic_weights__");
    return synthesizeWeights(*file, manifest, program, error) ? "" : error;
  }
};

TEST_F(SyntheticWeightsTest, NMPositionsAreDistinctAndIncreasingInEveryRun) {
  Program p;
  p.weights.push_back(pruned("w", 5, 24, SparsityKind::NM, 2, 4));
  p.weights.push_back(pruned("v", 3, 16, SparsityKind::NM, 3, 8));
  std::unique_ptr<ParamFile> file;
  ASSERT_EQ(synthesize(R"([{"name": "w.values", "dtype": "F32", "shape": [5, 12]},
      {"name": "w.indices", "dtype": "U8", "shape": [5, 3], "kept": 60},
      {"name": "v.values", "dtype": "F32", "shape": [3, 6]},
      {"name": "v.indices", "dtype": "U8", "shape": [3, 3], "kept": 18}])",
                       p, file),
            "");
  for (auto [name, rows, runs, keep, bits] :
       {std::tuple{"w.indices", 5, 6, 2, 2}, std::tuple{"v.indices", 3, 2, 3, 3}}) {
    const TensorView *idx = file->find(name);
    ASSERT_TRUE(idx);
    const int64_t rowBytes = idx->shape[1];
    std::vector<int> seen(size_t(1) << bits, 0);
    for (int r = 0; r < rows; ++r)
      for (int g = 0, slot = 0; g < runs; ++g)
        for (int i = 0, prev = -1; i < keep; ++i, ++slot) {
          int pos = 0;
          for (int b = 0; b < bits; ++b) {
            const int bit = slot * bits + b;
            pos |= (idx->data[r * rowBytes + (bit >> 3)] >> (bit & 7) & 1) << b;
          }
          EXPECT_GT(pos, prev) << name << " row " << r << " run " << g;
          EXPECT_LT(pos, 1 << bits);
          prev = pos;
          ++seen[size_t(pos)];
        }
    // Random choices, not the first N of every run: every position is taken somewhere.
    for (size_t pos = 0; pos < seen.size(); ++pos)
      EXPECT_GT(seen[pos], 0) << name << " never keeps position " << pos;
  }
}

TEST_F(SyntheticWeightsTest, BitmaskKeepsExactlyTheManifestCountCountedByItsOffsets) {
  Program p;
  p.weights.push_back(pruned("w", 7, 20, SparsityKind::Bitmask));
  std::unique_ptr<ParamFile> file;
  ASSERT_EQ(synthesize(R"([{"name": "w.values", "dtype": "F32", "shape": [61]},
      {"name": "w.mask", "dtype": "U8", "shape": [7, 3], "kept": 61},
      {"name": "w.row_ptr", "dtype": "I32", "shape": [8], "kept": 61}])",
                       p, file),
            "");
  const TensorView *mask = file->find("w.mask"), *ptr = file->find("w.row_ptr");
  ASSERT_TRUE(mask && ptr);
  int64_t total = 0;
  std::vector<int> columns(20, 0);
  for (int r = 0; r <= 7; ++r) {
    int32_t at;
    std::memcpy(&at, ptr->data + 4 * r, 4);
    EXPECT_EQ(at, total) << "row offset " << r;
    if (r == 7)
      break;
    int64_t count = 0;
    for (int c = 0; c < 20; ++c) {
      const int bit = mask->data[r * 3 + (c >> 3)] >> (c & 7) & 1;
      count += bit;
      columns[size_t(c)] += bit;
    }
    for (int c = 20; c < 24; ++c) // no bit past K
      EXPECT_EQ(mask->data[r * 3 + (c >> 3)] >> (c & 7) & 1, 0);
    EXPECT_EQ(count, r < 61 % 7 ? 61 / 7 + 1 : 61 / 7) << "row " << r;
    total += count;
  }
  EXPECT_EQ(total, 61);
  int varied = 0; // not the same columns in every row
  for (int c = 0; c < 20; ++c)
    varied += columns[size_t(c)] != 0 && columns[size_t(c)] != 7;
  EXPECT_GT(varied, 0);
}

TEST_F(SyntheticWeightsTest, StructureIsTheSameOnEveryLoad) {
  Program p;
  p.weights.push_back(pruned("w", 4, 64, SparsityKind::Bitmask));
  const std::string json = R"([{"name": "w.values", "dtype": "F32", "shape": [100]},
      {"name": "w.mask", "dtype": "U8", "shape": [4, 8], "kept": 100},
      {"name": "w.row_ptr", "dtype": "I32", "shape": [5], "kept": 100}])";
  std::unique_ptr<ParamFile> a, b;
  ASSERT_EQ(synthesize(json, p, a), "");
  std::vector<uint8_t> first(a->find("w.mask")->data, a->find("w.mask")->data + 32);
  ASSERT_EQ(synthesize(json, p, b), "");
  EXPECT_EQ(std::memcmp(first.data(), b->find("w.mask")->data, 32), 0);
}

TEST_F(SyntheticWeightsTest, MissingOrImpossibleKeptCountIsRefused) {
  Program p;
  p.weights.push_back(pruned("w", 2, 8, SparsityKind::Bitmask));
  std::unique_ptr<ParamFile> file;
  EXPECT_EQ(synthesize(R"([{"name": "w.mask", "dtype": "U8", "shape": [2, 1]}])", p, file),
            "synthetic weight 'w.mask': the manifest gives no kept count between 0 and 16");
  EXPECT_EQ(synthesize(R"([{"name": "w.mask", "dtype": "U8", "shape": [2, 1], "kept": 17}])",
                       p, file),
            "synthetic weight 'w.mask': the manifest gives no kept count between 0 and 16");
  EXPECT_EQ(synthesize(R"([{"name": "w.mask", "dtype": "U8", "shape": [2, 2], "kept": 8}])",
                       p, file),
            "synthetic weight 'w.mask': not a bitmask of [rows, ceil(K / 8)] bytes");
}

} // namespace
