//===- KernFuse.cpp - Fuse kern ops into fewer kernel calls ---------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Dialect/Kern/IR/KernOps.h"
#include "midllama/Dialect/Kern/Transforms/Passes.h"

#include "mlir/IR/Builders.h"

namespace midllama {
#define GEN_PASS_DEF_KERNFUSE
#include "midllama/Dialect/Kern/Transforms/Passes.h.inc"
} // namespace midllama

using namespace mlir;
using namespace midllama;
using namespace midllama::kern;

namespace {

struct KernFusePass : midllama::impl::KernFuseBase<KernFusePass> {
  void runOnOperation() override {
    // add + rms_norm(sum): the sum is still the residual for later, so both are results.
    getOperation().walk([](RMSNormOp norm) {
      auto add = norm.getInput().getDefiningOp<AddOp>();
      if (!add)
        return;
      // The fused op goes where the norm is (its weight is read just before it); every other
      // reader of the sum must come after that.
      for (Operation *user : add->getUsers())
        if (user != norm && (user->getBlock() != norm->getBlock() ||
                             user->isBeforeInBlock(norm)))
          return;
      OpBuilder b(norm);
      auto fused = AddRMSNormOp::create(b, norm.getLoc(), add.getType(), add.getType(),
                                        add.getLhs(), add.getRhs(), norm.getWeight(),
                                        norm.getEpsilonAttr());
      norm.getResult().replaceAllUsesWith(fused.getResult());
      norm.erase();
      add.getResult().replaceAllUsesWith(fused.getSum());
      add.erase();
    });
    // swiglu(matmul(x, Wg), matmul(x, Wu)) where nothing else reads the projections.
    getOperation().walk([](SwiGLUOp swiglu) {
      auto gate = swiglu.getGate().getDefiningOp<MatMulOp>();
      auto up = swiglu.getUp().getDefiningOp<MatMulOp>();
      if (!gate || !up || gate == up || gate.getInput() != up.getInput() ||
          !gate->hasOneUse() || !up->hasOneUse() || gate.getLastTokenOnly() ||
          up.getLastTokenOnly() || gate.getWeight().getType() != up.getWeight().getType())
        return;
      OpBuilder b(swiglu);
      Value fused = GateUpSwiGLUOp::create(b, swiglu.getLoc(), swiglu.getType(),
                                           gate.getInput(), gate.getWeight(), up.getWeight());
      swiglu.getResult().replaceAllUsesWith(fused);
      swiglu.erase();
      gate.erase();
      up.erase();
    });
  }
};

} // namespace
