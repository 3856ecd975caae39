//===- MaterializeWeightsTest.cpp - Values of materialized weights --------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The lit test checks the IR and that the file agrees with it; this checks the numbers:
// transposes and slices of a weight with known values, against indexes computed here.
//
//===----------------------------------------------------------------------===//

#include "midllama/InitAll.h"
#include "midllama/Transforms/Passes.h"
#include "runtime/params/ParamFile.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include <gtest/gtest.h>

#include <cstring>
#include <unistd.h>

using namespace midllama;

namespace {

TEST(MaterializeWeightsTest, TransposesAndSlicesMoveTheRightValues) {
  char tmpl[] = "/tmp/midllama-materialize-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;

  // w[r][c] = 100 r + c, a 5x7 matrix.
  std::vector<float> w(5 * 7);
  for (int r = 0; r < 5; ++r)
    for (int c = 0; c < 7; ++c)
      w[r * 7 + c] = 100.0f * r + c;
  rt::ParamFileWriter writer;
  std::string error;
  ASSERT_TRUE(writer.addBorrowed("w", rt::DType::F32, {5, 7}, w.data(), w.size() * 4, error));
  ASSERT_TRUE(writer.commit(dir + "/in.safetensors", error)) << error;

  std::string ir = R"mlir(
    module attributes {llm.param_file = ")mlir" + dir + R"mlir(/in.safetensors"} {
      llm.param @w : !llm.weight<5x7xf32>
      func.func @f(%x: tensor<1x5xf32>, %y: tensor<1x3xf32>) -> (tensor<1x7xf32>, tensor<1x2xf32>) {
        %w = llm.weight @w : !llm.weight<5x7xf32>
        %t = llm.weight_transpose %w {name = "wt"} : !llm.weight<5x7xf32> -> !llm.weight<7x5xf32>
        %a = llm.linear %x, %t : tensor<1x5xf32>, !llm.weight<7x5xf32> -> tensor<1x7xf32>
        %rows = llm.weight_slice %w {axis = 0 : i64, offset = 1 : i64} : !llm.weight<5x7xf32> -> !llm.weight<3x7xf32>
        %cols = llm.weight_slice %rows {axis = 1 : i64, offset = 4 : i64} : !llm.weight<3x7xf32> -> !llm.weight<3x3xf32>
        %ct = llm.weight_transpose %cols {name = "block"} : !llm.weight<3x3xf32> -> !llm.weight<3x3xf32>
        %sub = llm.weight_slice %ct {axis = 0 : i64, offset = 1 : i64, name = "sub"} : !llm.weight<3x3xf32> -> !llm.weight<2x3xf32>
        %b = llm.linear %y, %sub : tensor<1x3xf32>, !llm.weight<2x3xf32> -> tensor<1x2xf32>
        return %a, %b : tensor<1x7xf32>, tensor<1x2xf32>
      }
    })mlir";

  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  auto module = mlir::parseSourceString<mlir::ModuleOp>(ir, &context);
  ASSERT_TRUE(module);
  mlir::PassManager pm(&context);
  LLMMaterializeWeightsOptions options;
  options.output = dir + "/out.safetensors";
  pm.addPass(createLLMMaterializeWeights(options));
  ASSERT_TRUE(mlir::succeeded(pm.run(*module)));

  auto out = rt::ParamFile::open(dir + "/out.safetensors", error);
  ASSERT_TRUE(out) << error;
  EXPECT_EQ(out->find("w"), nullptr) << "the source fed transforms only";
  const rt::TensorView *wt = out->find("wt");
  const rt::TensorView *sub = out->find("sub");
  ASSERT_TRUE(wt && sub);
  EXPECT_EQ(wt->shape, (std::vector<int64_t>{7, 5}));
  EXPECT_EQ(sub->shape, (std::vector<int64_t>{2, 3}));
  const float *t = reinterpret_cast<const float *>(wt->data);
  for (int r = 0; r < 7; ++r)
    for (int c = 0; c < 5; ++c)
      EXPECT_EQ(t[r * 5 + c], 100.0f * c + r) << r << "," << c;
  // cols = w[1:4, 4:7]; block = colsᵀ, so block[i][j] = w[1 + j][4 + i]; sub = block[1:3].
  const float *s = reinterpret_cast<const float *>(sub->data);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      EXPECT_EQ(s[i * 3 + j], 100.0f * (1 + j) + (4 + i + 1)) << i << "," << j;
  std::system(("rm -rf '" + dir + "'").c_str());
}

} // namespace
