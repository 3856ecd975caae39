//===- LLMDialect.cpp - The llm dialect -----------------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Dialect/LLM/IR/LLMDialect.h"
#include "midllama/Dialect/LLM/IR/LLMOps.h"

#include "mlir/IR/BuiltinOps.h"

using namespace mlir;
using namespace midllama::llm;

#include "midllama/Dialect/LLM/IR/LLMDialect.cpp.inc"

void LLMDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "midllama/Dialect/LLM/IR/LLMOps.cpp.inc"
      >();
  registerTypes();
  registerAttributes();
}

LogicalResult LLMDialect::verifyOperationAttribute(Operation *op,
                                                   NamedAttribute attr) {
  if (attr.getName() == kParamFileAttrName) {
    if (!isa<ModuleOp>(op))
      return op->emitError() << "'" << kParamFileAttrName
                             << "' is only valid on a builtin.module";
    auto path = dyn_cast<StringAttr>(attr.getValue());
    if (!path || path.getValue().empty())
      return op->emitError() << "'" << kParamFileAttrName
                             << "' must be a non-empty string (the parameter file path)";
    return success();
  }
  if (attr.getName() == kSourceAttrName) {
    auto path = dyn_cast<StringAttr>(attr.getValue());
    if (!isa<ModuleOp>(op) || !path || path.getValue().empty())
      return op->emitError() << "'" << kSourceAttrName
                             << "' must be a non-empty string on a builtin.module";
    return success();
  }
  if (attr.getName() == kMaxContextAttrName) {
    auto n = dyn_cast<IntegerAttr>(attr.getValue());
    if (!isa<ModuleOp>(op) || !n || n.getInt() <= 0)
      return op->emitError() << "'" << kMaxContextAttrName
                             << "' must be a positive integer on a builtin.module";
    return success();
  }
  if (attr.getName() == kActivationsAttrName) {
    auto kind = dyn_cast<StringAttr>(attr.getValue());
    if (!isa<ModuleOp>(op) || !kind || (kind.getValue() != "int8" && kind.getValue() != "fp32"))
      return op->emitError() << "'" << kActivationsAttrName
                             << "' must be \"int8\" or \"fp32\" on a builtin.module";
    return success();
  }
  if (attr.getName() == kStoredAsAttrName) {
    auto name = dyn_cast<StringAttr>(attr.getValue());
    if (!isa<ParamOp>(op) || !name || name.getValue().empty())
      return op->emitError() << "'" << kStoredAsAttrName
                             << "' must be a non-empty string on an llm.param";
    return success();
  }
  if (attr.getName() == kRescaledAttrName) {
    auto note = dyn_cast<StringAttr>(attr.getValue());
    if (!isa<ParamOp>(op) || !note || note.getValue().empty())
      return op->emitError() << "'" << kRescaledAttrName
                             << "' must be a non-empty string on an llm.param";
    return success();
  }
  return op->emitError() << "unknown llm dialect attribute '"
                         << attr.getName().getValue() << "'";
}

static LogicalResult verifyValueName(Operation *op, NamedAttribute attr) {
  if (attr.getName() != LLMDialect::kNameAttrName)
    return op->emitError() << "unknown llm dialect argument/result attribute '"
                           << attr.getName().getValue() << "'";
  auto name = dyn_cast<StringAttr>(attr.getValue());
  if (!name || name.getValue().empty())
    return op->emitError() << "'" << LLMDialect::kNameAttrName
                           << "' must be a non-empty string";
  return success();
}

LogicalResult LLMDialect::verifyRegionArgAttribute(Operation *op, unsigned, unsigned,
                                                   NamedAttribute attr) {
  return verifyValueName(op, attr);
}

LogicalResult LLMDialect::verifyRegionResultAttribute(Operation *op, unsigned, unsigned,
                                                      NamedAttribute attr) {
  return verifyValueName(op, attr);
}
