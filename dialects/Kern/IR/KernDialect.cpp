//===- KernDialect.cpp - The kern dialect ---------------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Dialect/Kern/IR/KernDialect.h"
#include "midllama/Dialect/Kern/IR/KernOps.h"

using namespace mlir;
using namespace midllama::kern;

#include "midllama/Dialect/Kern/IR/KernDialect.cpp.inc"

void KernDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "midllama/Dialect/Kern/IR/KernOps.cpp.inc"
      >();
}
