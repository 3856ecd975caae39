//===- Passes.h - midllama dialect conversions ------------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_CONVERSION_PASSES_H
#define MIDLLAMA_CONVERSION_PASSES_H

#include "midllama/Dialect/Kern/IR/KernDialect.h"
#include "midllama/Dialect/LLM/IR/LLMDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace midllama {

#define GEN_PASS_DECL
#include "midllama/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "midllama/Conversion/Passes.h.inc"

} // namespace midllama

#endif // MIDLLAMA_CONVERSION_PASSES_H
