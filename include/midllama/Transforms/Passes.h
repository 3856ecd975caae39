//===- Passes.h - midllama transformation and analysis passes ---*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_TRANSFORMS_PASSES_H
#define MIDLLAMA_TRANSFORMS_PASSES_H

#include "midllama/Dialect/Kern/IR/KernDialect.h"
#include "midllama/Dialect/LLM/IR/LLMDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace midllama {

#define GEN_PASS_DECL
#include "midllama/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "midllama/Transforms/Passes.h.inc"

/// The lowering of an imported (or compressed) llm module to a planned kern program for
/// the CPU runtime: convert-llm-to-kern, kern-fuse, kern-plan-buffers. Registered as the
/// pipeline `midllama-lower-cpu`, so `midllama-opt` reproduces what midllama-compile runs.
void buildLowerToCPUPipeline(mlir::OpPassManager &pm);
void registerMidllamaPipelines();

} // namespace midllama

#endif // MIDLLAMA_TRANSFORMS_PASSES_H
