//===- LLMOps.h - Ops of the llm dialect ------------------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_DIALECT_LLM_IR_LLMOPS_H
#define MIDLLAMA_DIALECT_LLM_IR_LLMOPS_H

#include "midllama/Dialect/LLM/IR/LLMDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "midllama/Dialect/LLM/IR/LLMOps.h.inc"

#endif // MIDLLAMA_DIALECT_LLM_IR_LLMOPS_H
