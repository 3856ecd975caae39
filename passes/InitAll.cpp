//===- InitAll.cpp - Register every dialect and pass midllama uses --------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/InitAll.h"

#include "midllama/Dialect/Kern/IR/KernDialect.h"
#include "midllama/Dialect/LLM/IR/LLMDialect.h"
#include "midllama/Conversion/Passes.h"
#include "midllama/Dialect/Kern/Transforms/Passes.h"
#include "midllama/Pipelines/Pipelines.h"
#include "midllama/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Transforms/Passes.h"

void midllama::registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<llm::LLMDialect, kern::KernDialect, mlir::func::FuncDialect, mlir::arith::ArithDialect,
                  mlir::tensor::TensorDialect>();
}

void midllama::registerAllPasses() {
  // Once per process: MLIR refuses a pipeline registered twice, and libraries that find
  // passes by name (lib/Calibrate) may be set up by several callers.
  static const bool registered = [] {
    // Upstream cleanups our pipelines use: canonicalize, cse, symbol-dce, inline, ...
    mlir::registerTransformsPasses();
    midllama::registerMidllamaPasses();
    midllama::registerMidllamaConversionPasses();
    midllama::registerKernPasses();
    midllama::registerMidllamaPipelines();
    return true;
  }();
  (void)registered;
}
