//===- KernPlanBuffers.cpp - Buffer slots for kern activations ------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Dialect/Kern/IR/KernOps.h"
#include "midllama/Dialect/Kern/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include <map>

namespace midllama {
#define GEN_PASS_DEF_KERNPLANBUFFERS
#include "midllama/Dialect/Kern/Transforms/Passes.h.inc"
} // namespace midllama

using namespace mlir;
using namespace midllama;
using namespace midllama::kern;

namespace {

struct KernPlanBuffersPass : midllama::impl::KernPlanBuffersBase<KernPlanBuffersPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>())
      if (failed(plan(func)))
        return signalPassFailure();
  }

  LogicalResult plan(func::FuncOp func) {
    Block &block = func.getBody().front();
    // The last op (by index) reading each value; the return counts, so outputs stay live.
    DenseMap<Operation *, int64_t> index;
    for (auto [i, op] : llvm::enumerate(block))
      index[&op] = int64_t(i);
    DenseMap<Value, int64_t> lastUse;
    for (Operation &op : block)
      for (Value operand : op.getOperands())
        lastUse[operand] = std::max(lastUse.lookup(operand), index[&op]);

    SmallVector<int64_t> widths;
    std::multimap<int64_t, int64_t> freeByWidth; // width -> free slot
    DenseMap<Value, int64_t> slotOf;
    std::multimap<int64_t, Value> expiring; // last use -> value
    Builder b(func.getContext());
    for (Operation &op : block) {
      if (!isa<KernDialect>(op.getDialect()))
        continue;
      SmallVector<int64_t> slots;
      for (Value result : op.getResults()) {
        auto t = cast<RankedTensorType>(result.getType());
        int64_t width = t.getShape().back();
        if (ShapedType::isDynamic(width))
          return op.emitError("kern-plan-buffers: activation width must be static");
        int64_t slot;
        if (auto it = freeByWidth.find(width); it != freeByWidth.end()) {
          slot = it->second;
          freeByWidth.erase(it);
        } else {
          slot = int64_t(widths.size());
          widths.push_back(width);
        }
        slots.push_back(slot);
        slotOf[result] = slot;
        // A result nothing reads is free right after its op.
        expiring.emplace(result.use_empty() ? index[&op] : lastUse[result], result);
      }
      op.setAttr(KernDialect::kSlotsAttrName, b.getDenseI64ArrayAttr(slots));
      // Values whose last reader is this op are free for the ops after it.
      for (auto it = expiring.begin(); it != expiring.end() && it->first <= index[&op];) {
        freeByWidth.emplace(widths[slotOf[it->second]], slotOf[it->second]);
        it = expiring.erase(it);
      }
    }
    func->setAttr(KernDialect::kSlotWidthsAttrName, b.getDenseI64ArrayAttr(widths));
    return success();
  }
};

} // namespace
