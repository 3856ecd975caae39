//===- Passes.h - Passes on the kern dialect --------------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_DIALECT_KERN_TRANSFORMS_PASSES_H
#define MIDLLAMA_DIALECT_KERN_TRANSFORMS_PASSES_H

#include "midllama/Dialect/Kern/IR/KernDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace midllama {

#define GEN_PASS_DECL
#include "midllama/Dialect/Kern/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "midllama/Dialect/Kern/Transforms/Passes.h.inc"

} // namespace midllama

#endif // MIDLLAMA_DIALECT_KERN_TRANSFORMS_PASSES_H
