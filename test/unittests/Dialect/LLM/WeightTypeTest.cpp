//===- WeightTypeTest.cpp - Parsing and verifying !llm.weight -------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Dialect/LLM/IR/LLMDialect.h"
#include "midllama/Dialect/LLM/IR/WeightLayout.h"
#include "midllama/InitAll.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

using namespace midllama::llm;

namespace {

class WeightTypeTest : public ::testing::Test {
protected:
  WeightTypeTest() {
    mlir::DialectRegistry registry;
    midllama::registerAllDialects(registry);
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
  }

  /// Parses `text`; returns the diagnostics it produced ("" if it parsed cleanly).
  std::string errorsOf(llvm::StringRef text) {
    std::string errors;
    mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &diag) {
      errors += diag.str();
      return mlir::success();
    });
    mlir::Type type = mlir::parseType(text, &context);
    if (!type && errors.empty())
      errors = "<no type, no diagnostic>";
    return errors;
  }

  mlir::MLIRContext context;
};

TEST_F(WeightTypeTest, PrintsWhatItParses) {
  for (llvm::StringRef text :
       {"!llm.weight<64xf32>", "!llm.weight<172x64xbf16>",
        "!llm.weight<172x64xf16, #llm.affine<bits = 4, group_size = 32>>",
        "!llm.weight<172x64xf16, #llm.affine<bits = 3, group_size = 32, symmetric = true, "
        "act_order = true>>",
        "!llm.weight<172x64xf16, #llm.nf4<block_size = 128, double_quant = true>>",
        "!llm.weight<64x64xf16, #llm.int8_outliers<columns = [3, 17]>>",
        "!llm.weight<172x64xf16, #llm.affine<bits = 4, group_size = 32>, #llm.n_m<2:4>>",
        "!llm.weight<172x64xf32, #llm.unstructured<nnz = 5504>>"}) {
    mlir::Type type = mlir::parseType(text, &context);
    ASSERT_TRUE(type) << text.str();
    std::string printed;
    llvm::raw_string_ostream os(printed);
    os << type;
    EXPECT_EQ(printed, text.str());
  }
}

TEST_F(WeightTypeTest, BuildersKeepEncodings) {
  auto dense = WeightType::get(&context, {172, 64}, mlir::Float16Type::get(&context));
  EXPECT_TRUE(dense.isDense());
  EXPECT_EQ(dense.getNumElements(), 172 * 64);
  auto q = dense.withFormat(AffineQuantAttr::get(&context, 4, 32, false, false));
  auto qs = q.withSparsity(NMSparsityAttr::get(&context, 2, 4));
  EXPECT_EQ(qs.getFormat(), q.getFormat());
  EXPECT_TRUE(qs.getSparsity());
  EXPECT_EQ(qs.withFormat({}).withSparsity({}), dense);
}

TEST_F(WeightTypeTest, RejectsEncodingsThatDoNotFit) {
  EXPECT_NE(errorsOf("!llm.weight<64x64xf16, #llm.affine<bits = 4, group_size = 128>>")
                .find("group size 128 does not fit the input dimension K = 64"),
            std::string::npos);
  EXPECT_NE(errorsOf("!llm.weight<64x64xf16, #llm.affine<bits = 9, group_size = 32>>")
                .find("2 to 8 bits, got 9"),
            std::string::npos);
  EXPECT_NE(errorsOf("!llm.weight<64x70xf16, #llm.n_m<2:4>>")
                .find("K = 70 to be a multiple of 4"),
            std::string::npos);
  EXPECT_NE(errorsOf("!llm.weight<64x64xf16, #llm.int8_outliers<columns = [64]>>")
                .find("column 64 is out of range"),
            std::string::npos);
  EXPECT_NE(errorsOf("!llm.weight<64xf16, #llm.nf4<>>").find("only rank-2 weights"),
            std::string::npos);
  EXPECT_NE(errorsOf("!llm.weight<64x64xi8>").find("must be f32, f16 or bf16"),
            std::string::npos);
  EXPECT_NE(errorsOf("!llm.weight<1099511627776x2xf32>").find("more than 2^40"),
            std::string::npos);
  EXPECT_EQ(errorsOf("!llm.weight<64x64xf16, #llm.affine<bits = 2, group_size = 64>>"), "");
}

} // namespace
