//===- KernOps.cpp - Ops of the kern dialect ------------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Dialect/Kern/IR/KernOps.h"

#include "midllama/Dialect/LLM/IR/LLMDialect.h"

#include <cmath>

using namespace mlir;
using namespace midllama;
using namespace midllama::kern;

#define GET_OP_CLASSES
#include "midllama/Dialect/Kern/IR/KernOps.cpp.inc"

static int64_t lastDim(Value v) { return cast<RankedTensorType>(v.getType()).getShape().back(); }

LogicalResult EmbedOp::verify() {
  auto table = cast<llm::WeightType>(getTable().getType());
  if (table.getRank() != 2 || table.getShape()[1] != lastDim(getResult()))
    return emitOpError() << "result width " << lastDim(getResult())
                         << " is not the table's row width";
  return success();
}

LogicalResult MatMulOp::verify() {
  auto w = cast<llm::WeightType>(getWeight().getType());
  if (w.getRank() != 2 || w.getShape()[1] != lastDim(getInput()) ||
      w.getShape()[0] != lastDim(getResult()))
    return emitOpError() << "weight " << w << " does not map width " << lastDim(getInput())
                         << " to " << lastDim(getResult());
  return success();
}

LogicalResult GateUpSwiGLUOp::verify() {
  auto g = cast<llm::WeightType>(getGate().getType());
  auto u = cast<llm::WeightType>(getUp().getType());
  if (g.getRank() != 2 || g.getShape() != u.getShape() || g.getShape()[1] != lastDim(getInput()) ||
      g.getShape()[0] != lastDim(getResult()))
    return emitOpError() << "gate " << g << " and up " << u << " must both map width "
                         << lastDim(getInput()) << " to " << lastDim(getResult());
  return success();
}

LogicalResult AttentionOp::verify() {
  int64_t heads = getNumHeads(), kvHeads = getNumKvHeads(), d = getHeadDim();
  if (heads <= 0 || kvHeads <= 0 || d <= 0 || heads % kvHeads != 0)
    return emitOpError() << "num_heads must be a positive multiple of num_kv_heads";
  if (lastDim(getQ()) != heads * d || lastDim(getK()) != kvHeads * d ||
      lastDim(getV()) != kvHeads * d || lastDim(getResult()) != heads * d)
    return emitOpError() << "q/result must be " << heads * d << " wide and k/v "
                         << kvHeads * d;
  if (getRotaryDim() < 0 || getRotaryDim() > d || getRotaryDim() % 2 != 0)
    return emitOpError() << "rotary_dim must be even and at most head_dim";
  // As llm.rotary's verifier: an infinite theta turns the rotation off, NaN poisons every
  // position; a non-finite or non-positive scale is no softmax scale.
  double theta = getTheta().convertToDouble(), scale = getScale().convertToDouble();
  if (getRotaryDim() > 0 && (!std::isfinite(theta) || !(theta > 0.0)))
    return emitOpError() << "theta must be a finite positive number, got " << theta;
  if (!std::isfinite(scale) || !(scale > 0.0))
    return emitOpError() << "scale must be a finite positive number, got " << scale;
  return success();
}
