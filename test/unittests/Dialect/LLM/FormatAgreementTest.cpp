//===- FormatAgreementTest.cpp - Compiler and runtime agree on every format ===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Each side defines a weight format once: the compiler through the attribute interfaces
// (WeightLayout.cpp puts their components together), the runtime in runtime/format/
// (componentsOf, which the loader checks every weight against). For every format and
// sparsity, the runtime descriptor the interfaces produce must lead the runtime to the
// very tensors the compiler stores, and survive the program encoding.
//
//===----------------------------------------------------------------------===//

#include "midllama/Dialect/LLM/IR/WeightLayout.h"
#include "midllama/InitAll.h"
#include "runtime/format/Components.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

using namespace midllama;
using namespace midllama::llm;

namespace {

class FormatAgreementTest : public ::testing::Test {
protected:
  FormatAgreementTest() {
    mlir::DialectRegistry registry;
    registerAllDialects(registry);
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
  }

  /// The weight table entry the artifact writer makes for `type`, sent through the
  /// program encoding and back.
  rt::WeightInfo describe(WeightType type) {
    rt::Program p;
    rt::WeightInfo info;
    info.name = "w";
    info.dtype = type.getElementType().isF16() ? rt::DType::F16 : rt::DType::F32;
    info.shape.assign(type.getShape().begin(), type.getShape().end());
    bool compressed = isStoredCompressed(type);
    if (WeightFormatAttrInterface f = type.getFormat()) {
      mlir::FailureOr<rt::FormatParams> params = f.getRuntimeFormat(compressed);
      EXPECT_TRUE(mlir::succeeded(params));
      info.format = *params;
    }
    if (compressed)
      info.sparsity = type.getSparsity().getRuntimeSparsity();
    p.weights = {info};
    p.slotWidths = {1};
    std::vector<uint8_t> bytes = p.encode();
    rt::Program back;
    std::string error;
    EXPECT_TRUE(back.decode(bytes.data(), bytes.size(), error)) << error;
    return back.weights.at(0);
  }

  /// "suffix:DTYPE[dims]" for each tensor.
  template <typename Range> static std::string text(const Range &components) {
    std::string s;
    for (const auto &c : components) {
      s += c.suffix + ":" + std::string(rt::dtypeName(c.dtype)) + "[";
      for (size_t i = 0; i < c.shape.size(); ++i)
        s += (i ? "x" : "") + std::to_string(c.shape[i]);
      s += "] ";
    }
    return s;
  }

  void expectAgree(llvm::StringRef typeText) {
    SCOPED_TRACE(typeText.str());
    auto type = llvm::dyn_cast_or_null<WeightType>(mlir::parseType(typeText, &context));
    ASSERT_TRUE(type);
    // What the artifact holds: the stored components, then the tensors only the type knows.
    WeightLayout layout = getWeightLayout(type);
    std::vector<WeightComponent> stored(layout.components.begin(), layout.components.end());
    llvm::SmallVector<TypeTensor, 1> typeTensors;
    if (WeightFormatAttrInterface f = type.getFormat())
      f.appendTypeTensors(typeTensors);
    for (const TypeTensor &t : typeTensors)
      stored.push_back(t.component);
    auto unstructured = llvm::dyn_cast_or_null<UnstructuredSparsityAttr>(type.getSparsity());
    std::vector<rt::Component> runtime =
        rt::componentsOf(describe(type), unstructured ? unstructured.getNnz() : 0);
    auto bySuffix = [](const auto &a, const auto &b) { return a.suffix < b.suffix; };
    std::sort(stored.begin(), stored.end(), bySuffix);
    std::sort(runtime.begin(), runtime.end(), bySuffix);
    EXPECT_EQ(text(stored), text(runtime));
  }

  mlir::MLIRContext context;
};

TEST_F(FormatAgreementTest, EveryFormatAndSparsity) {
  for (const char *t : {
           "!llm.weight<172x64xf16>",
           "!llm.weight<64xf32>",
           "!llm.weight<172x64xf16, #llm.affine<bits = 4, group_size = 32>>",
           "!llm.weight<172x37xf32, #llm.affine<bits = 3, group_size = 16, symmetric = true>>",
           "!llm.weight<172x64xf16, #llm.affine_min<bits = 4, group_size = 32>>",
           "!llm.weight<172x37xf32, #llm.affine_min<bits = 3, group_size = 16>>",
           // Scales that are codes (ggml's K-quants), and a block that does not divide them.
           "!llm.weight<64x512xf16, #llm.affine_min<bits = 4, group_size = 32, scale_block = 8>>",
           "!llm.weight<64x512xf16, #llm.affine<bits = 6, group_size = 16, symmetric = true, "
           "scale_block = 16>>",
           "!llm.weight<64x160xf32, #llm.affine<bits = 4, group_size = 32, scale_block = 3>>",
           "!llm.weight<172x64xf16, #llm.nf4<block_size = 64>>",
           "!llm.weight<172x64xf16, #llm.nf4<block_size = 64, double_quant = true>>",
           "!llm.weight<172x64xf16, #llm.nf4<block_size = 32, double_quant = true, "
           "dq_block_size = 8>>",
           "!llm.weight<64x64xf16, #llm.int8_outliers<columns = [3, 17]>>",
           "!llm.weight<64x64xf16, #llm.int8_outliers<columns = []>>",
           "!llm.weight<172x64xf16, #llm.n_m<2:4>>",
           "!llm.weight<172x64xf32, #llm.unstructured<nnz = 1000>>",
           "!llm.weight<172x64xf32, #llm.unstructured<nnz = 11000>>", // stored dense
           "!llm.weight<172x64xf16, #llm.affine<bits = 4, group_size = 32>, #llm.n_m<2:4>>",
           "!llm.weight<172x64xf16, #llm.affine<bits = 4, group_size = 32>, "
           "#llm.unstructured<nnz = 900>>",
           "!llm.weight<172x64xf16, #llm.nf4<block_size = 64, double_quant = true>, "
           "#llm.n_m<2:4>>",
           "!llm.weight<64x64xf16, #llm.int8_outliers<columns = [5]>, #llm.n_m<1:4>>",
           "!llm.weight<172x64xf16, #llm.affine_min<bits = 4, group_size = 32>, "
           "#llm.n_m<2:4>>",
       })
    expectAgree(t);
}

TEST_F(FormatAgreementTest, ActOrderHasNoRuntimeFormat) {
  auto type = llvm::cast<WeightType>(mlir::parseType(
      "!llm.weight<64x64xf32, #llm.affine<bits = 4, group_size = 32, act_order = true>>",
      &context));
  EXPECT_TRUE(mlir::failed(type.getFormat().getRuntimeFormat(false)));
}

} // namespace
