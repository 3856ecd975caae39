//===- ProgramTest.cpp - The artifact program's encoding -----------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/artifact/Program.h"

#include <gtest/gtest.h>

using namespace midllama::rt;

namespace {

Program sample() {
  Program p;
  p.config = {{"vocab_size", "512"}, {"target", "cpu"}};
  p.slotWidths = {64, 512};
  p.weights = {{"model.embed_tokens.weight", DType::F16, {512, 64}}};
  p.calls = {{OpCode::Embed, {0, 0}}, {OpCode::MatMul, {0, 1, 0, 1}}};
  return p;
}

TEST(ProgramTest, RoundTrips) {
  std::vector<uint8_t> bytes = sample().encode();
  Program back;
  std::string error;
  ASSERT_TRUE(back.decode(bytes.data(), bytes.size(), error)) << error;
  EXPECT_EQ(back.config, sample().config);
  EXPECT_EQ(back.slotWidths, sample().slotWidths);
  ASSERT_EQ(back.weights.size(), 1u);
  EXPECT_EQ(back.weights[0].name, "model.embed_tokens.weight");
  EXPECT_EQ(back.weights[0].dtype, DType::F16);
  EXPECT_EQ(back.weights[0].shape, (std::vector<int64_t>{512, 64}));
  ASSERT_EQ(back.calls.size(), 2u);
  EXPECT_EQ(back.calls[1].op, OpCode::MatMul);
  EXPECT_EQ(back.calls[1].args, (std::vector<int64_t>{0, 1, 0, 1}));
  EXPECT_EQ(back.configInt("vocab_size", 0), 512);
  EXPECT_EQ(back.configInt("target", -1), -1);
  EXPECT_FLOAT_EQ(bitsFloat(floatBits(0.35355339f)), 0.35355339f);
}

TEST(ProgramTest, EveryTruncationIsAnErrorNotACrash) {
  std::vector<uint8_t> bytes = sample().encode();
  for (size_t n = 0; n < bytes.size(); ++n) {
    Program p;
    std::string error;
    EXPECT_FALSE(p.decode(bytes.data(), n, error)) << n;
    EXPECT_EQ(error.rfind("the program is malformed: ", 0), 0u) << error;
  }
}

TEST(ProgramTest, RefusesUnknownOpsAndWrongArity) {
  Program p = sample();
  p.calls.push_back({OpCode(99), {1}});
  std::vector<uint8_t> bytes = p.encode();
  Program back;
  std::string error;
  EXPECT_FALSE(back.decode(bytes.data(), bytes.size(), error));
  EXPECT_EQ(error, "the program is malformed: call 2 has op code 99 with 1 arguments");
  p = sample();
  p.calls[0].args.push_back(7);
  bytes = p.encode();
  EXPECT_FALSE(back.decode(bytes.data(), bytes.size(), error));
  EXPECT_EQ(error, "the program is malformed: call 0 has op code 1 with 3 arguments");
}

TEST(ProgramTest, RefusesSlotsWeightsAndFlagsOutOfRange) {
  std::string error;
  Program back;
  auto refused = [&](Program p) {
    std::vector<uint8_t> bytes = p.encode();
    return !back.decode(bytes.data(), bytes.size(), error);
  };
  Program p = sample();
  p.calls[1].args = calls::MatMul{0, 2, 0, false}.encode().args; // 2 slots: 0 and 1
  EXPECT_TRUE(refused(p));
  EXPECT_EQ(error, "the program is malformed: call 1 (matmul): argument 'out' is 2, out of "
                   "range");
  p = sample();
  p.calls[0] = calls::Embed{0, 1}.encode(); // one weight
  EXPECT_TRUE(refused(p));
  EXPECT_EQ(error, "the program is malformed: call 0 (embed): argument 'table' is 1, out of "
                   "range");
  p = sample();
  p.calls[1].args[3] = 2; // lastTokenOnly is a flag
  EXPECT_TRUE(refused(p));
  EXPECT_EQ(error, "the program is malformed: call 1 (matmul): argument 'lastTokenOnly' is 2, "
                   "out of range");
}

// The argument structs and the kind table come from one declaration: encoding a struct
// gives as many arguments as the table lists, and decoding gives the fields back.
TEST(ProgramTest, NamedArgumentsRoundTrip) {
  calls::Attention at;
  at.q = 1, at.k = 2, at.v = 3, at.out = 4, at.layer = 5, at.heads = 8, at.kvHeads = 4;
  at.headDim = 16, at.scale = 0.25f, at.theta = 10000.0f, at.rotaryDim = 8;
  at.interleaved = true;
  Call c = at.encode();
  EXPECT_EQ(c.op, OpCode::Attention);
  ASSERT_EQ(int(c.args.size()), opArgumentCount(OpCode::Attention));
  auto back = calls::Attention::decode(c);
  EXPECT_EQ(back.out, 4);
  EXPECT_EQ(back.kvHeads, 4);
  EXPECT_EQ(back.scale, 0.25f);
  EXPECT_EQ(back.theta, 10000.0f);
  EXPECT_TRUE(back.interleaved);
  ArgList list = argumentsOf(OpCode::Attention);
  EXPECT_STREQ(list.names[9], "theta");
  EXPECT_EQ(list.kinds[9], ArgKind::Float);
  EXPECT_EQ(list.kinds[3], ArgKind::SlotOut);
  EXPECT_EQ(argumentsOf(OpCode(99)).size, 0u);
  EXPECT_STREQ(opName(OpCode::GateUpSwiGLU), "gate_up_swiglu");
}

TEST(ProgramTest, HugeCountsDoNotAllocate) {
  std::vector<uint8_t> bytes = sample().encode();
  // The config count sits right after the 6-byte magic and the 2-byte version.
  bytes[8] = bytes[9] = bytes[10] = bytes[11] = 0xff;
  Program p;
  std::string error;
  EXPECT_FALSE(p.decode(bytes.data(), bytes.size(), error));
  EXPECT_EQ(error, "the program is malformed: config");
}

TEST(ProgramTest, FormatParametersRoundTrip) {
  Program p = sample();
  WeightInfo nf4{"w", DType::F16, {8, 64}};
  nf4.format.kind = FormatKind::NF4;
  nf4.format.nf4 = {64, true, 8}; // the double-quantization block size is stored, not 256
  nf4.sparsity = {SparsityKind::NM, 2, 4};
  WeightInfo affine{"v", DType::F32, {8, 37}};
  affine.format.kind = FormatKind::Affine;
  affine.format.affine = {3, 16, true};
  WeightInfo int8{"u", DType::F16, {8, 64}};
  int8.format.kind = FormatKind::Int8Outliers;
  int8.format.int8.numOutliers = 2;
  int8.sparsity = {SparsityKind::Bitmask, 0, 0};
  p.weights = {nf4, affine, int8};
  std::vector<uint8_t> bytes = p.encode();
  Program back;
  std::string error;
  ASSERT_TRUE(back.decode(bytes.data(), bytes.size(), error)) << error;
  ASSERT_EQ(back.weights.size(), 3u);
  const FormatParams &f = back.weights[0].format;
  EXPECT_EQ(f.kind, FormatKind::NF4);
  EXPECT_EQ(f.nf4.blockSize, 64);
  EXPECT_TRUE(f.nf4.doubleQuant);
  EXPECT_EQ(f.nf4.dqBlockSize, 8);
  EXPECT_EQ(back.weights[0].sparsity.kind, SparsityKind::NM);
  EXPECT_EQ(back.weights[0].sparsity.n, 2);
  EXPECT_EQ(back.weights[0].sparsity.m, 4);
  EXPECT_EQ(back.weights[1].format.affine.bits, 3);
  EXPECT_EQ(back.weights[1].format.affine.groupSize, 16);
  EXPECT_TRUE(back.weights[1].format.affine.symmetric);
  EXPECT_EQ(back.weights[2].format.kind, FormatKind::Int8Outliers);
  EXPECT_EQ(back.weights[2].format.int8.numOutliers, 2);
  EXPECT_EQ(back.weights[2].sparsity.kind, SparsityKind::Bitmask);
}

TEST(ProgramTest, BadFormatParametersAreRefused) {
  Program p = sample();
  p.weights[0].format.kind = FormatKind::Affine;
  p.weights[0].format.affine = {9, 32, false};
  std::vector<uint8_t> bytes = p.encode();
  Program back;
  std::string error;
  EXPECT_FALSE(back.decode(bytes.data(), bytes.size(), error));
  EXPECT_EQ(error, "the program is malformed: weight 'model.embed_tokens.weight' has a bad "
                   "affine encoding");
  p = sample();
  p.weights[0].format.kind = FormatKind::NF4;
  p.weights[0].format.nf4 = {64, true, 0}; // double-quantized without its block size
  bytes = p.encode();
  EXPECT_FALSE(back.decode(bytes.data(), bytes.size(), error));
  EXPECT_EQ(error, "the program is malformed: weight 'model.embed_tokens.weight' has a bad "
                   "NF4 encoding");
}

TEST(ProgramTest, OlderProgramVersionsAskForARecompile) {
  std::vector<uint8_t> bytes = sample().encode();
  bytes[6] = 4; // the version after the magic: 4 shared fields between formats
  bytes[7] = 0;
  Program back;
  std::string error;
  EXPECT_FALSE(back.decode(bytes.data(), bytes.size(), error));
  EXPECT_EQ(error, "the program is malformed: program version 4, this runtime reads 5 "
                   "(compiled by another midllama; recompile)");
}

} // namespace
