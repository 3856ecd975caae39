//===- GgmlDequantizeTest.cpp - ggml's K-quants against gguf-py -----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Inputs/kquants.golden holds random Q4_K, Q5_K, Q6_K, Q5_0 and Q5_1 blocks and the values the
// `gguf` Python package dequantizes them to (make-kquant-goldens.py): midllama's dequantization
// must give every value bit for bit, and so must the runtime's decode of the blocks as the
// importer keeps them (GgmlRepack.h: codes with fp32 sub-block scales). The simple types
// (Q4_0, Q4_1, Q8_0) are checked the same way on whole models in test/Import/GGUF/.
//
//===----------------------------------------------------------------------===//

#include "midllama/Import/GGUF/GgmlDequantize.h"
#include "midllama/Import/GGUF/GgmlRepack.h"
#include "runtime/cpu/Kernels.h"
#include "runtime/format/BindWeight.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

using namespace midllama::gguf;

namespace {

std::vector<uint8_t> fromHex(const std::string &hex) {
  std::vector<uint8_t> out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = uint8_t(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
  return out;
}

struct Golden {
  int64_t blocks = 0;
  std::vector<uint8_t> bytes, values;
};

std::map<std::string, Golden> readGoldens() {
  std::ifstream in(std::string(MIDLLAMA_SOURCE_DIR) +
                   "/test/unittests/Import/Inputs/kquants.golden");
  std::map<std::string, Golden> out;
  std::string line, current;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key;
    words >> key;
    if (key == "type") {
      std::string blocksWord;
      words >> current >> blocksWord >> out[current].blocks;
    } else if (key == "bytes" || key == "values") {
      std::string hex;
      words >> hex;
      (key == "bytes" ? out[current].bytes : out[current].values) = fromHex(hex);
    }
  }
  return out;
}

const std::map<std::string, TensorType> kKQuantTypes = {{"Q4_K", TensorType::Q4_K},
                                                        {"Q5_K", TensorType::Q5_K},
                                                        {"Q6_K", TensorType::Q6_K},
                                                        {"Q5_0", TensorType::Q5_0},
                                                        {"Q5_1", TensorType::Q5_1}};

/// Values per block of a golden's type.
int64_t blockValues(TensorType type) {
  return type == TensorType::Q5_0 || type == TensorType::Q5_1 ? 32 : 256;
}

/// How many of `ours` differ from the golden's values in any bit (the first few reported).
int bitDifferences(const std::vector<float> &ours, const Golden &golden) {
  int differ = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    uint32_t a, b;
    std::memcpy(&a, &ours[i], 4);
    std::memcpy(&b, golden.values.data() + 4 * i, 4);
    if (a != b && differ++ < 3)
      ADD_FAILURE() << "value " << i << ": " << ours[i] << " vs gguf-py "
                    << *reinterpret_cast<const float *>(golden.values.data() + 4 * i);
  }
  return differ;
}

TEST(GgmlDequantizeTest, KQuantsEqualGgufPyBitForBit) {
  std::map<std::string, Golden> goldens = readGoldens();
  ASSERT_EQ(goldens.size(), kKQuantTypes.size())
      << "Inputs/kquants.golden is missing or incomplete";
  for (const auto &[name, golden] : goldens) {
    SCOPED_TRACE(name);
    TensorType type = kKQuantTypes.at(name);
    ASSERT_TRUE(canDequantize(type));
    int64_t count = golden.blocks * blockValues(type);
    ASSERT_EQ(golden.values.size(), size_t(count) * 4);
    std::vector<float> ours(size_t(count), -1.0f);
    dequantizeValues(type, golden.bytes.data(), count, ours.data());
    EXPECT_EQ(bitDifferences(ours, golden), 0) << "of " << count;
  }
}

// Kept, not dequantized: the blocks cut into codes and scales as midllama-import stores
// them (K-quants: scale and minimum codes with fp16 supers), written to a parameter file,
// bound by the loader (which decodes coded scales) and read back by the CPU runtime's
// decode (a row of all the golden's blocks; Q5_0's implicit zero is 16, Q6_K's 32).
TEST(GgmlDequantizeTest, KeptKQuantsDecodeToGgufPyValues) {
  using namespace midllama::rt;
  std::map<std::string, Golden> goldens = readGoldens();
  ASSERT_EQ(goldens.size(), kKQuantTypes.size())
      << "Inputs/kquants.golden is missing or incomplete";
  for (const auto &[name, golden] : goldens) {
    SCOPED_TRACE(name);
    const TensorType type = kKQuantTypes.at(name);
    const int64_t cols = golden.blocks * blockValues(type);
    const bool symmetric = type == TensorType::Q6_K || type == TensorType::Q5_0;
    const bool kQuant =
        type == TensorType::Q4_K || type == TensorType::Q5_K || type == TensorType::Q6_K;
    std::vector<KeptTensor> kept = keptTensors(type, cols);
    ASSERT_EQ(kept.size(), size_t(symmetric ? 2 : 3) + (kQuant ? (symmetric ? 1 : 2) : 0));
    ParamFileWriter writer;
    std::string error;
    for (size_t which = 0; which < kept.size(); ++which) {
      std::vector<uint8_t> part(size_t(kept[which].rowElements * dtypeSize(kept[which].dtype)));
      repackRow(type, which, golden.bytes.data(), cols, part.data());
      ASSERT_TRUE(writer.addOwned("W" + kept[which].suffix, kept[which].dtype,
                                  {1, kept[which].rowElements}, std::move(part), error))
          << error;
    }
    const std::string path = ::testing::TempDir() + "/kept-" + name + ".safetensors";
    ASSERT_TRUE(writer.commit(path, error)) << error;
    std::unique_ptr<ParamFile> file = ParamFile::open(path, error);
    ASSERT_TRUE(file) << error;
    WeightInfo info; // as midllama-import types it (GgufLlama.cpp)
    info.name = "W";
    info.dtype = DType::F16; // ggml's fp16 d (and m), or the K-quants' fp16 supers
    info.shape = {1, cols};
    const int64_t bits = type == TensorType::Q4_K ? 4 : type == TensorType::Q6_K ? 6 : 5;
    const int64_t group = type == TensorType::Q6_K ? 16 : 32;
    const int64_t scaleBlock = !kQuant ? 0 : type == TensorType::Q6_K ? 16 : 8;
    info.format.kind = symmetric ? FormatKind::Affine : FormatKind::AffineMin;
    info.format.affine = {bits, group, true, scaleBlock};
    info.format.affineMin = {bits, group, scaleBlock};
    WeightView w;
    std::vector<float> decoded;
    ASSERT_TRUE(bindWeight(*file, info, w, decoded, error)) << error;
    std::vector<float> ours(size_t(cols), -1.0f);
    cpu::dequantizeRow(w, 0, ours.data());
    EXPECT_EQ(bitDifferences(ours, golden), 0) << "of " << cols;
    std::remove(path.c_str());
  }
}

} // namespace
