//===- LLMDialect.cpp - The llm dialect -----------------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Dialect/LLM/IR/LLMDialect.h"
#include "midllama/Dialect/LLM/IR/LLMOps.h"

#include "mlir/IR/BuiltinOps.h"

#include <optional>

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

/// The module-level attributes (LLMDialect.td): failure() with an error for a bad one,
/// std::nullopt for a name that is not one of them.
static std::optional<LogicalResult> verifyModuleAttribute(Operation *op, NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  auto text = dyn_cast<StringAttr>(attr.getValue());
  bool onModule = isa<ModuleOp>(op);
  if (name == LLMDialect::kParamFileAttrName) {
    if (!onModule)
      return op->emitError() << "'" << name << "' is only valid on a builtin.module";
    if (!text || text.getValue().empty())
      return op->emitError() << "'" << name
                             << "' must be a non-empty string (the parameter file path)";
    return success();
  }
  if (name == LLMDialect::kSourceAttrName) {
    if (!onModule || !text || text.getValue().empty())
      return op->emitError() << "'" << name << "' must be a non-empty string on a builtin.module";
    return success();
  }
  if (name == LLMDialect::kMaxContextAttrName) {
    auto n = dyn_cast<IntegerAttr>(attr.getValue());
    if (!onModule || !n || n.getInt() <= 0)
      return op->emitError() << "'" << name << "' must be a positive integer on a builtin.module";
    return success();
  }
  if (name == LLMDialect::kActivationsAttrName) {
    if (!onModule || !text ||
        !llvm::is_contained({"fp32", "int8", "int8-weight-groups", "bf16", "int8+bf16",
                             "int8-weight-groups+bf16"},
                            text.getValue()))
      return op->emitError() << "'" << name
                             << "' must be \"fp32\", \"int8\", \"int8-weight-groups\", "
                                "\"bf16\", \"int8+bf16\" or \"int8-weight-groups+bf16\" on a "
                                "builtin.module";
    return success();
  }
  if (name == LLMDialect::kKVCacheAttrName) {
    if (!onModule || !text || !llvm::is_contained({"f32", "f16"}, text.getValue()))
      return op->emitError() << "'" << name << "' must be \"f32\" or \"f16\" on a builtin.module";
    return success();
  }
  if (name == LLMDialect::kActivationsSetByAttrName) {
    if (!onModule || !text || text.getValue().empty())
      return op->emitError() << "'" << name << "' must be a non-empty string on a builtin.module";
    return success();
  }
  return std::nullopt;
}

LogicalResult LLMDialect::verifyOperationAttribute(Operation *op,
                                                   NamedAttribute attr) {
  if (std::optional<LogicalResult> result = verifyModuleAttribute(op, attr))
    return *result;
  // Attributes of an llm.param: non-empty notes.
  if (attr.getName() == kStoredAsAttrName || attr.getName() == kRescaledAttrName) {
    auto note = dyn_cast<StringAttr>(attr.getValue());
    if (!isa<ParamOp>(op) || !note || note.getValue().empty())
      return op->emitError() << "'" << attr.getName().getValue()
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
