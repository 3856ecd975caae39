//===- ParamFileTest.cpp - Parameter file round trip and hostile input ----===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/params/ParamFile.h"

#include "../TempDirTest.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>

using namespace midllama::rt;

namespace {

class ParamFileTest : public midllama::testing::TempDirTest {
protected:
  /// A raw safetensors file from a JSON header and a data buffer.
  static std::string rawFile(const std::string &header, const std::string &data) {
    std::string out(8, '\0');
    uint64_t n = header.size();
    for (int i = 0; i < 8; ++i)
      out[i] = char(n >> (8 * i));
    return out + header + data;
  }
  std::string openError(const std::string &bytes) {
    writeAll(path("bad.safetensors"), bytes);
    std::string error;
    auto file = ParamFile::open(path("bad.safetensors"), error);
    EXPECT_EQ(file, nullptr);
    return error;
  }

};

TEST_F(ParamFileTest, RoundTripIsAlignedAndExact) {
  std::vector<float> matrix(64 * 3);
  for (size_t i = 0; i < matrix.size(); ++i)
    matrix[i] = 0.5f * float(i) - 3.0f;
  std::vector<uint8_t> codes = {1, 2, 3, 4, 5, 6, 7};
  std::vector<uint16_t> halves = {0x3c00, 0x4000, 0xc000, 0x0001, 0x7bff};

  ParamFileWriter writer;
  std::string error;
  ASSERT_TRUE(writer.addOwned("w.qweight", DType::U8, {7}, codes, error)) << error;
  ASSERT_TRUE(writer.addBorrowed("layers.0.wq", DType::F32, {64, 3}, matrix.data(),
                                 matrix.size() * 4, error))
      << error;
  ASSERT_TRUE(writer.addBorrowed("norm", DType::F16, {5}, halves.data(), 10, error)) << error;
  writer.setMetadata("source", "unit \"test\"");
  ASSERT_TRUE(writer.commit(path("p.safetensors"), error)) << error;

  std::string bytes = readAll(path("p.safetensors"));
  EXPECT_EQ(int64_t(bytes.size()), writer.plannedFileSize());
  uint64_t headerLen = 0;
  for (int i = 7; i >= 0; --i)
    headerLen = (headerLen << 8) | uint8_t(bytes[i]);
  EXPECT_EQ((8 + headerLen) % 64, 0u) << "data buffer must start 64-byte aligned";
  // The gaps are covered by padding tensors, as safetensors forbids holes.
  EXPECT_NE(bytes.find("\"__pad__.0\""), std::string::npos);

  auto file = ParamFile::open(path("p.safetensors"), error);
  ASSERT_TRUE(file) << error;
  ASSERT_EQ(file->tensors().size(), 3u);
  EXPECT_EQ(file->metadata().at("format"), "midllama-params");
  EXPECT_EQ(file->metadata().at("alignment"), "64");
  EXPECT_EQ(file->metadata().at("source"), "unit \"test\"");
  const TensorView *q = file->find("w.qweight");
  const TensorView *m = file->find("layers.0.wq");
  const TensorView *n = file->find("norm");
  ASSERT_TRUE(q && m && n);
  EXPECT_EQ(file->find("__pad__.0"), nullptr);
  for (const TensorView *t : {q, m, n})
    EXPECT_EQ(t->fileOffset % 64, 0) << t->name;
  EXPECT_EQ(m->dtype, DType::F32);
  EXPECT_EQ(m->shape, (std::vector<int64_t>{64, 3}));
  EXPECT_EQ(std::memcmp(m->data, matrix.data(), matrix.size() * 4), 0);
  EXPECT_EQ(std::memcmp(q->data, codes.data(), 7), 0);
  EXPECT_EQ(std::memcmp(n->data, halves.data(), 10), 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(m->data) % 64, 0u);
}

TEST_F(ParamFileTest, WriterRejectsBadTensors) {
  ParamFileWriter writer;
  std::string error;
  std::vector<uint8_t> four(4);
  EXPECT_FALSE(writer.addOwned("a", DType::F32, {2}, four, error));
  EXPECT_NE(error.find("shape needs 8 bytes, got 4"), std::string::npos) << error;
  EXPECT_TRUE(writer.addOwned("a", DType::U8, {4}, four, error));
  EXPECT_FALSE(writer.addOwned("a", DType::U8, {4}, four, error));
  EXPECT_NE(error.find("added twice"), std::string::npos) << error;
  EXPECT_FALSE(writer.addOwned("__pad__.3", DType::U8, {4}, four, error));
  EXPECT_FALSE(writer.addOwned("__metadata__", DType::U8, {4}, four, error));
}

TEST_F(ParamFileTest, FailedCommitLeavesTheDestinationAlone) {
  writeAll(path("keep.safetensors"), "precious");
  ParamFileWriter writer;
  std::string error;
  ASSERT_TRUE(writer.addOwned("a", DType::U8, {1}, {7}, error));
  EXPECT_FALSE(writer.commit(path("no-such-dir/p.safetensors"), error));
  EXPECT_NE(error.find("no-such-dir"), std::string::npos) << error;
  // Success replaces the old file whole and leaves no temporary behind.
  ASSERT_TRUE(writer.commit(path("keep.safetensors"), error)) << error;
  EXPECT_NE(readAll(path("keep.safetensors")), "precious");
  EXPECT_EQ(std::system(("test $(ls '" + dir + "' | wc -l) -eq 1").c_str()), 0);
}

TEST_F(ParamFileTest, RejectsHostileAndTruncatedFiles) {
  std::string error;
  EXPECT_EQ(ParamFile::open(path("missing.safetensors"), error), nullptr);
  EXPECT_NE(error.find("missing.safetensors"), std::string::npos) << error;
  EXPECT_NE(openError("").find("too short"), std::string::npos);
  EXPECT_NE(openError("\xff\xff\xff\xff\xff\xff\xff\x7f{}").find("exceeds the file"),
            std::string::npos);
  EXPECT_NE(openError(rawFile("{\"a\":", "")).find("JSON"), std::string::npos);
  EXPECT_NE(openError(rawFile("[1,2]", "")).find("not a JSON object"), std::string::npos);
  EXPECT_NE(openError(rawFile(R"({"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})",
                              std::string(8, '\0')))
                .find("unsupported dtype 'F64'"),
            std::string::npos);
  // Truncated data: the tensor claims bytes past the end of the file.
  EXPECT_NE(openError(rawFile(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})",
                              std::string(10, '\0')))
                .find("truncated"),
            std::string::npos);
  // Shape and byte span disagree.
  EXPECT_NE(openError(rawFile(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})",
                              std::string(16, '\0')))
                .find("shape needs 12 bytes but data_offsets span 16"),
            std::string::npos);
  // Dimensions whose product overflows int64.
  EXPECT_NE(openError(rawFile(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}})",
                              std::string(16, '\0')))
                .find("shape needs -1 bytes"),
            std::string::npos);
  EXPECT_NE(openError(rawFile(R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
                              R"("b":{"dtype":"U8","shape":[8],"data_offsets":[4,12]}})",
                              std::string(12, '\0')))
                .find("overlap"),
            std::string::npos);
  EXPECT_NE(openError(rawFile(R"({"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}})", ""))
                .find("negative"),
            std::string::npos);
  // A file that says it is ours must keep its alignment promise.
  EXPECT_NE(openError(rawFile(R"({"__metadata__":{"format":"midllama-params"},)"
                              R"("a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}})",
                              "abc"))
                .find("not 64-byte aligned"),
            std::string::npos);
}

TEST_F(ParamFileTest, ReadsPlainSafetensorsToo) {
  // Written the way the reference implementation writes: contiguous, unaligned, escaped name.
  std::string header =
      R"({"__metadata__":{"k":"v"},"x\u00e9":{"dtype":"I32","shape":[2],"data_offsets":[0,8]},)"
      R"("y":{"dtype":"BF16","shape":[1,1],"data_offsets":[8,10]}})";
  std::string data("\x01\x00\x00\x00\x02\x00\x00\x00\x80\x3f", 10);
  writeAll(path("plain.safetensors"), rawFile(header, data));
  std::string error;
  auto file = ParamFile::open(path("plain.safetensors"), error);
  ASSERT_TRUE(file) << error;
  const TensorView *x = file->find("x\xc3\xa9");
  ASSERT_TRUE(x);
  EXPECT_EQ(x->numElements(), 2);
  int32_t values[2];
  std::memcpy(values, x->data, 8);
  EXPECT_EQ(values[1], 2);
  EXPECT_EQ(file->find("y")->dtype, DType::BF16);
}

} // namespace
