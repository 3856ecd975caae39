//===- Pipelines.h - midllama's named pass pipelines ------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Every compile a tool runs is a pipeline built here and registered under a name, so
// `midllama-opt` alone reproduces it (IREE's habit; a pipeline only in a script can't be).
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_PIPELINES_PIPELINES_H
#define MIDLLAMA_PIPELINES_PIPELINES_H

namespace mlir {
class OpPassManager;
} // namespace mlir

namespace midllama {

/// The lowering of an imported (or compressed) llm module to a planned kern program for
/// the CPU runtime: convert-llm-to-kern, kern-fuse, kern-plan-buffers. Registered as the
/// pipeline `midllama-lower-cpu`, so `midllama-opt` reproduces what midllama-compile runs.
void buildLowerToCPUPipeline(mlir::OpPassManager &pm);

/// Registers `midllama-lower-cpu` and one `midllama-recipe-<name>` per built-in recipe.
void registerMidllamaPipelines();

} // namespace midllama

#endif // MIDLLAMA_PIPELINES_PIPELINES_H
