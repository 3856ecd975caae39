//===- Passes.h - midllama transformation and analysis passes ---*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_TRANSFORMS_PASSES_H
#define MIDLLAMA_TRANSFORMS_PASSES_H

#include "midllama/Dialect/LLM/IR/LLMDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace midllama {

#define GEN_PASS_DECL
#include "midllama/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "midllama/Transforms/Passes.h.inc"

} // namespace midllama

#endif // MIDLLAMA_TRANSFORMS_PASSES_H
