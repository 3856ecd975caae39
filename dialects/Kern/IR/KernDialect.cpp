//===- KernDialect.cpp - The kern dialect ---------------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Dialect/Kern/IR/KernDialect.h"
#include "midllama/Dialect/Kern/IR/KernOps.h"

#include "mlir/IR/BuiltinTypes.h"

using namespace mlir;
using namespace midllama::kern;

#include "midllama/Dialect/Kern/IR/KernDialect.cpp.inc"

void KernDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "midllama/Dialect/Kern/IR/KernOps.cpp.inc"
      >();
}

// The buffer plan as --kern-plan-buffers records it and the artifact writer reads it: the
// function's slot widths, positive; each kern op's slots, one per result, each naming a
// slot of its function's plan whose width is the result's last dimension.
LogicalResult KernDialect::verifyOperationAttribute(Operation *op, NamedAttribute attr) {
  if (attr.getName() == kSlotWidthsAttrName) {
    auto widths = dyn_cast<DenseI64ArrayAttr>(attr.getValue());
    if (!widths || op->getNumRegions() != 1)
      return op->emitError() << "'" << kSlotWidthsAttrName
                             << "' must be an array<i64> on a function";
    for (auto [i, w] : llvm::enumerate(widths.asArrayRef()))
      if (w <= 0)
        return op->emitError() << "'" << kSlotWidthsAttrName << "': slot " << i
                               << " has width " << w << " (must be positive)";
    return success();
  }
  if (attr.getName() == kSlotsAttrName) {
    auto slots = dyn_cast<DenseI64ArrayAttr>(attr.getValue());
    if (!slots || !isa<KernDialect>(op->getDialect()))
      return op->emitError() << "'" << kSlotsAttrName << "' must be an array<i64> on a kern op";
    if (slots.size() != int64_t(op->getNumResults()))
      return op->emitError() << "'" << kSlotsAttrName << "' has " << slots.size()
                             << " slots for " << op->getNumResults() << " results";
    Operation *parent = op->getParentOp();
    auto widths = parent ? parent->getAttrOfType<DenseI64ArrayAttr>(kSlotWidthsAttrName)
                         : DenseI64ArrayAttr();
    for (auto [result, slot] : llvm::zip(op->getResults(), slots.asArrayRef())) {
      if (slot < 0 || (widths && slot >= widths.size()))
        return op->emitError() << "'" << kSlotsAttrName << "': slot " << slot
                               << " is not in the function's plan of "
                               << (widths ? widths.size() : 0) << " slots";
      auto type = dyn_cast<RankedTensorType>(result.getType());
      if (widths && type && type.getRank() > 0 && !type.isDynamicDim(type.getRank() - 1) &&
          type.getShape().back() != widths[slot])
        return op->emitError() << "'" << kSlotsAttrName << "': result #"
                               << result.getResultNumber() << " is " << type.getShape().back()
                               << " wide, but slot " << slot << " holds " << widths[slot];
    }
    return success();
  }
  return op->emitError() << "unknown kern dialect attribute '" << attr.getName().getValue()
                         << "'";
}
