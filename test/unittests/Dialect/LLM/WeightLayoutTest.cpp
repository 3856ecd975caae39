//===- WeightLayoutTest.cpp - Bytes of every weight encoding --------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Every expected number below is worked out by hand in the comment beside it from the
// layout in docs/weights.md, not from the code under test.
//
//===----------------------------------------------------------------------===//

#include "midllama/Dialect/LLM/IR/WeightLayout.h"
#include "midllama/InitAll.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

using namespace midllama::llm;

namespace {

class WeightLayoutTest : public ::testing::Test {
protected:
  WeightLayoutTest() {
    mlir::DialectRegistry registry;
    midllama::registerAllDialects(registry);
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
  }

  WeightType parse(llvm::StringRef text) {
    auto type = llvm::dyn_cast_or_null<WeightType>(mlir::parseType(text, &context));
    EXPECT_TRUE(type) << "failed to parse " << text.str();
    return type;
  }

  /// "suffix:DTYPE[dims]" for each component, to compare whole layouts at once.
  std::string describe(const WeightLayout &layout) {
    std::string s;
    for (const WeightComponent &c : layout.components) {
      s += c.suffix + ":" + std::string(midllama::rt::dtypeName(c.dtype)) + "[";
      for (size_t i = 0; i < c.shape.size(); ++i)
        s += (i ? "x" : "") + std::to_string(c.shape[i]);
      s += "] ";
    }
    return s;
  }

  mlir::MLIRContext context;
};

TEST_F(WeightLayoutTest, DenseIsOneTensorOfTheElementType) {
  WeightLayout l = getWeightLayout(parse("!llm.weight<64x64xf32>"));
  EXPECT_EQ(describe(l), ":F32[64x64] ");
  EXPECT_EQ(l.getNumBytes(), 64 * 64 * 4);
  EXPECT_EQ(getWeightLayout(parse("!llm.weight<172xbf16>")).getNumBytes(), 344);
  // 344 bytes pad to 384 = 6 * 64.
  EXPECT_EQ(getWeightLayout(parse("!llm.weight<172xbf16>")).getAlignedNumBytes(), 384);
}

TEST_F(WeightLayoutTest, AffineInt4AsymmetricGroups) {
  // N=172, K=64, g=32: 2 groups per row. qweight 64*4/8 = 32 B/row -> 5504;
  // scales 172*2 f16 = 688; zeros 172*2 u8 = 344. Total 6536.
  WeightLayout l = getWeightLayout(
      parse("!llm.weight<172x64xf16, #llm.affine<bits = 4, group_size = 32>>"));
  EXPECT_EQ(describe(l), ".qweight:U8[172x32] .scales:F16[172x2] .zeros:U8[172x2] ");
  EXPECT_EQ(l.getNumBytes(), 6536);
  // Aligned: 5504 (=86*64) + 704 + 384.
  EXPECT_EQ(l.getAlignedNumBytes(), 6592);
}

TEST_F(WeightLayoutTest, AffineInt3SymmetricActOrderWithTailGroup) {
  // N=64, K=172, g=32: ceil(172/32) = 6 groups (the last has 12 columns).
  // qweight ceil(172*3/8) = 65 B/row -> 4160; scales 64*6 f32 = 1536; no zeros (symmetric);
  // g_idx 172 i32 = 688. Total 6384.
  WeightLayout l = getWeightLayout(parse(
      "!llm.weight<64x172xf32, #llm.affine<bits = 3, group_size = 32, symmetric = true, "
      "act_order = true>>"));
  EXPECT_EQ(describe(l), ".qweight:U8[64x65] .scales:F32[64x6] .g_idx:I32[172] ");
  EXPECT_EQ(l.getNumBytes(), 6384);
}

TEST_F(WeightLayoutTest, NF4WithAndWithoutDoubleQuant) {
  // 172*64 = 11008 values: 5504 code bytes, 172 blocks of 64.
  WeightLayout plain =
      getWeightLayout(parse("!llm.weight<172x64xf16, #llm.nf4<block_size = 64>>"));
  EXPECT_EQ(describe(plain), ".qweight:U8[5504] .absmax:F32[172] ");
  EXPECT_EQ(plain.getNumBytes(), 5504 + 172 * 4);
  // Double quant: 172 u8 absmax, ceil(172/256) = 1 fp32 scale, 1 fp32 offset.
  WeightLayout dq = getWeightLayout(
      parse("!llm.weight<172x64xf16, #llm.nf4<block_size = 64, double_quant = true>>"));
  EXPECT_EQ(describe(dq), ".qweight:U8[5504] .absmax:U8[172] .absmax_scale:F32[1] "
                          ".absmax_offset:F32[1] ");
  EXPECT_EQ(dq.getNumBytes(), 5504 + 172 + 4 + 4);
}

TEST_F(WeightLayoutTest, NF4BitsPerWeightMatchQLoRA) {
  // QLoRA: 4 + 32/64 = 4.5 bits without double quant, 4 + 8/64 + 32/(64*256) ~= 4.127 with.
  auto bits = [&](llvm::StringRef type) {
    WeightType t = parse(type);
    return 8.0 * getWeightLayout(t).getNumBytes() / t.getNumElements();
  };
  EXPECT_NEAR(bits("!llm.weight<4096x4096xf16, #llm.nf4<>>"), 4.5, 1e-9);
  EXPECT_NEAR(bits("!llm.weight<4096x4096xf16, #llm.nf4<double_quant = true>>"), 4.127,
              5e-4);
}

TEST_F(WeightLayoutTest, Int8WithOutlierColumns) {
  // 64x64 int8 = 4096; one fp32 scale per row = 256; 2 fp16 outlier columns = 256.
  WeightLayout l = getWeightLayout(
      parse("!llm.weight<64x64xf16, #llm.int8_outliers<columns = [3, 17]>>"));
  EXPECT_EQ(describe(l), ".qweight:I8[64x64] .row_scale:F32[64] .outliers:F16[64x2] ");
  EXPECT_EQ(l.getNumBytes(), 4608);
}

TEST_F(WeightLayoutTest, TwoFourDenseAndQuantized) {
  // 2:4 on K=64 keeps 32 values per row, each with a 2-bit index: 8 index bytes per row.
  WeightLayout fp16 = getWeightLayout(parse("!llm.weight<172x64xf16, #llm.n_m<2:4>>"));
  EXPECT_EQ(describe(fp16), ".values:F16[172x32] .indices:U8[172x8] ");
  EXPECT_EQ(fp16.getNumBytes(), 172 * 32 * 2 + 172 * 8);
  // With int4 g32: 32 kept values * 4 bits = 16 B/row; scales/zeros still per 32 logical
  // columns (2 groups per row).
  WeightLayout q = getWeightLayout(parse(
      "!llm.weight<172x64xf16, #llm.affine<bits = 4, group_size = 32>, #llm.n_m<2:4>>"));
  EXPECT_EQ(describe(q),
            ".qweight:U8[172x16] .scales:F16[172x2] .zeros:U8[172x2] .indices:U8[172x8] ");
  EXPECT_EQ(q.getNumBytes(), 2752 + 688 + 344 + 1376);
  // 4:8 uses 3-bit indices: 32 kept values * 3 bits = 12 bytes per row.
  WeightLayout f48 = getWeightLayout(parse("!llm.weight<172x64xf16, #llm.n_m<4:8>>"));
  EXPECT_EQ(describe(f48), ".values:F16[172x32] .indices:U8[172x12] ");
}

TEST_F(WeightLayoutTest, UnstructuredIsCompressedOnlyWhenSmaller) {
  // 50% of 172x64 f32: values 5504*4 = 22016, mask 172*8 = 1376, row_ptr 173*4 = 692:
  // 24084 < 44032 dense bytes, so compressed.
  WeightType half = parse("!llm.weight<172x64xf32, #llm.unstructured<nnz = 5504>>");
  WeightLayout l = getWeightLayout(half);
  EXPECT_EQ(describe(l), ".values:F32[5504] .mask:U8[172x8] .row_ptr:I32[173] ");
  EXPECT_EQ(l.getNumBytes(), 24084);
  EXPECT_EQ(getStorageFormatName(half), "f32 sparse-bitmask");
  // 11000 of 11008 kept: 44000 + 1376 + 692 = 46068 > 44032, so stored dense.
  WeightType full = parse("!llm.weight<172x64xf32, #llm.unstructured<nnz = 11000>>");
  EXPECT_EQ(describe(getWeightLayout(full)), ":F32[172x64] ");
  EXPECT_EQ(getStorageFormatName(full), "f32 sparse-in-dense");
}

TEST_F(WeightLayoutTest, FormatNames) {
  EXPECT_EQ(getStorageFormatName(parse("!llm.weight<8x8xbf16>")), "bf16");
  EXPECT_EQ(getStorageFormatName(parse(
                "!llm.weight<8x8xf16, #llm.affine<bits = 4, group_size = 8>, #llm.n_m<2:4>>")),
            "int4 g8 asym 2:4");
  EXPECT_EQ(getStorageFormatName(parse("!llm.weight<64x64xf16, #llm.nf4<double_quant = true>>")),
            "nf4 b64 dq");
  EXPECT_EQ(getStorageFormatName(
                parse("!llm.weight<8x8xf16, #llm.int8_outliers<columns = [1]>>")),
            "int8 + 1 fp16 cols");
}

} // namespace
