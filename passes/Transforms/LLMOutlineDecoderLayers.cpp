//===- LLMOutlineDecoderLayers.cpp - Recover decoder layers by structure --===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The unit of layer-by-layer calibration is llm.decoder_layer; importers emit flat code.
// A LLaMA layer is recognised by the dataflow around its attention, never by op or weight
// names, so any exporter's naming works.
//
//===----------------------------------------------------------------------===//

#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Transforms/Passes.h"

#include "mlir/Analysis/SliceAnalysis.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"

namespace midllama {
#define GEN_PASS_DEF_LLMOUTLINEDECODERLAYERS
#include "midllama/Transforms/Passes.h.inc"
} // namespace midllama

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;

namespace {

/// The residual-stream value a layer starts from: the input of the RMSNorm that (through
/// linear, reshape and rotary) produces the attention's queries.
Value residualInput(AttentionOp attention) {
  Value v = attention.getQ();
  while (Operation *def = v.getDefiningOp()) {
    if (auto norm = dyn_cast<RMSNormOp>(def))
      return norm.getInput();
    if (!isa<RotaryOp, ReshapeOp, LinearOp, CastOp, TransposeOp>(def))
      return {};
    v = def->getOperand(0);
  }
  return {};
}

LogicalResult outlineFunction(func::FuncOp func) {
  Block &body = func.getBody().front();
  if (!func.getBody().hasOneBlock() || !body.getOps<DecoderLayerOp>().empty())
    return success();
  SmallVector<AttentionOp> attentions(body.getOps<AttentionOp>());
  if (attentions.empty())
    return success();

  // Layer boundaries on the residual stream.
  SmallVector<Value> starts;
  for (auto [i, attention] : llvm::enumerate(attentions)) {
    Value start = residualInput(attention);
    if (!start)
      return attention.emitError() << "llm-outline-decoder-layers: cannot find the residual "
                                      "input of attention #"
                                   << i << " (no RMSNorm feeding its queries)";
    starts.push_back(start);
  }
  // After the last layer: the input of the final RMSNorm, the last one in the function.
  RMSNormOp finalNorm;
  for (RMSNormOp norm : body.getOps<RMSNormOp>())
    finalNorm = norm;
  if (!finalNorm || finalNorm->isBeforeInBlock(attentions.back()))
    // At the function's location, without the op: the note would print its whole body.
    return mlir::emitError(func.getLoc())
           << "llm-outline-decoder-layers: no final RMSNorm after the last attention (the "
              "outputs do not read the last decoder layer's result: an export that computes "
              "the logits from an earlier layer)";
  starts.push_back(finalNorm.getInput());

  OpBuilder builder(func.getContext());
  for (size_t i = 0; i < attentions.size(); ++i) {
    // Everything computed before the layer input stays outside.
    SetVector<Operation *> before;
    BackwardSliceOptions beforeOptions;
    beforeOptions.inclusive = true;
    if (Operation *def = starts[i].getDefiningOp())
      (void)getBackwardSlice(def, &before, beforeOptions);

    SetVector<Operation *> ops;
    BackwardSliceOptions options;
    options.inclusive = true;
    options.filter = [&](Operation *op) {
      return op->getBlock() == &body && !before.contains(op) && !isa<WeightOp>(op);
    };
    SmallVector<Value> roots{starts[i + 1]};
    llvm::append_range(roots, attentions[i].getPresent());
    for (Value root : roots)
      if (Operation *def = root.getDefiningOp(); def && options.filter(def))
        (void)getBackwardSlice(def, &ops, options);
    if (!ops.contains(attentions[i]))
      return attentions[i].emitError() << "llm-outline-decoder-layers: attention #" << i
                                       << " does not lead to the next layer's input";

    // Ops in block order; inputs are values from outside; results are values used outside.
    SmallVector<Operation *> sorted(ops.begin(), ops.end());
    llvm::sort(sorted, [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
    llvm::SetVector<Value> inputs, results;
    inputs.insert(starts[i]);
    for (Operation *op : sorted)
      for (Value operand : op->getOperands())
        if ((!operand.getDefiningOp() || !ops.contains(operand.getDefiningOp())) &&
            !isa_and_nonnull<WeightOp>(operand.getDefiningOp()))
          inputs.insert(operand);
    results.insert(starts[i + 1]);
    for (Operation *op : sorted)
      for (Value result : op->getResults())
        if (llvm::any_of(result.getUsers(), [&](Operation *u) { return !ops.contains(u); }))
          results.insert(result);

    builder.setInsertionPointAfter(sorted.back());
    auto layer = DecoderLayerOp::create(builder, attentions[i].getLoc(),
                                        TypeRange(results.getArrayRef()),
                                        builder.getI64IntegerAttr(i),
                                        inputs.getArrayRef());
    Block *layerBody = builder.createBlock(&layer.getBody());
    IRMapping mapping;
    for (Value input : inputs)
      mapping.map(input, layerBody->addArgument(input.getType(), input.getLoc()));
    builder.setInsertionPointToEnd(layerBody);
    for (Operation *op : sorted) {
      for (Value operand : op->getOperands())
        if (auto read = operand.getDefiningOp<WeightOp>(); read && !mapping.contains(operand))
          mapping.map(operand, builder.clone(*read)->getResult(0));
      builder.clone(*op, mapping);
    }
    SmallVector<Value> yielded;
    for (Value result : results)
      yielded.push_back(mapping.lookup(result));
    YieldOp::create(builder, layer.getLoc(), yielded);

    for (auto [outer, replacement] : llvm::zip(results, layer.getResults())) {
      Value result = outer;
      result.replaceUsesWithIf(replacement, [&](OpOperand &use) {
        return use.getOwner() != layer && !ops.contains(use.getOwner());
      });
    }
    if (i + 1 < starts.size())
      for (size_t j = i + 1; j < starts.size(); ++j)
        for (auto [result, replacement] : llvm::zip(results, layer.getResults()))
          if (starts[j] == result)
            starts[j] = replacement;
    for (Operation *op : llvm::reverse(sorted))
      op->erase();
    // The attention list points into erased ops for this layer only; later ones are intact.
  }
  // Weight reads now used only inside layers are dead outside.
  for (WeightOp read : llvm::make_early_inc_range(body.getOps<WeightOp>()))
    if (read->use_empty())
      read->erase();
  return success();
}

struct LLMOutlineDecoderLayersPass
    : public midllama::impl::LLMOutlineDecoderLayersBase<LLMOutlineDecoderLayersPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>())
      if (failed(outlineFunction(func)))
        return signalPassFailure();
  }
};

} // namespace
