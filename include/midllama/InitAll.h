//===- InitAll.h - Register every dialect and pass midllama uses -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Every midllama tool registers through these two functions, so that `midllama-opt` accepts
// whatever any other tool produces and can rerun any of their pipelines.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_INITALL_H
#define MIDLLAMA_INITALL_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace midllama {

/// Adds the llm dialect and the upstream dialects midllama's IR uses (func, arith, tensor).
void registerAllDialects(mlir::DialectRegistry &registry);

/// Registers midllama's passes and pipelines and the upstream passes they build on.
void registerAllPasses();

} // namespace midllama

#endif // MIDLLAMA_INITALL_H
