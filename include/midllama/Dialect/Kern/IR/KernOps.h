//===- KernOps.h - Ops of the kern dialect ----------------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_DIALECT_KERN_IR_KERNOPS_H
#define MIDLLAMA_DIALECT_KERN_IR_KERNOPS_H

#include "midllama/Dialect/Kern/IR/KernDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "midllama/Dialect/Kern/IR/KernOps.h.inc"

#endif // MIDLLAMA_DIALECT_KERN_IR_KERNOPS_H
