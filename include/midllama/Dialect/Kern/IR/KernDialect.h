//===- KernDialect.h - The kern dialect -------------------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_DIALECT_KERN_IR_KERNDIALECT_H
#define MIDLLAMA_DIALECT_KERN_IR_KERNDIALECT_H

#include "midllama/Dialect/LLM/IR/LLMDialect.h"
#include "mlir/IR/Dialect.h"

#include "midllama/Dialect/Kern/IR/KernDialect.h.inc"

#endif // MIDLLAMA_DIALECT_KERN_IR_KERNDIALECT_H
