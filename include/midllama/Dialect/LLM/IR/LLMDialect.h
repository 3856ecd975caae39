//===- LLMDialect.h - The llm dialect, its types and attributes -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_DIALECT_LLM_IR_LLMDIALECT_H
#define MIDLLAMA_DIALECT_LLM_IR_LLMDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"

#include "midllama/Dialect/LLM/IR/LLMDialect.h.inc"

// The weight-format interfaces and the types their methods speak of.
#include "midllama/Dialect/LLM/IR/WeightComponents.h"
#include "runtime/format/WeightFormat.h"
#include "llvm/Support/raw_ostream.h"
namespace midllama::rt {
struct TensorView; // runtime/params/ParamFile.h
} // namespace midllama::rt
#include "midllama/Dialect/LLM/IR/LLMAttrInterfaces.h.inc"

#define GET_ATTRDEF_CLASSES
#include "midllama/Dialect/LLM/IR/LLMAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "midllama/Dialect/LLM/IR/LLMTypes.h.inc"

#endif // MIDLLAMA_DIALECT_LLM_IR_LLMDIALECT_H
