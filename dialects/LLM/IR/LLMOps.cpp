//===- LLMOps.cpp - Ops of the llm dialect --------------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Verifiers accept dynamic activation dimensions (batch, sequence) and compare a dimension
// only when both sides are static. Messages name the dimension and both sizes.
//
//===----------------------------------------------------------------------===//

#include "midllama/Dialect/LLM/IR/LLMOps.h"

#include <cmath>

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace midllama::llm;

#define GET_OP_CLASSES
#include "midllama/Dialect/LLM/IR/LLMOps.cpp.inc"

namespace {
bool dimsAgree(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

/// Prints a dimension for diagnostics ("?" when dynamic).
std::string dimStr(int64_t d) {
  return ShapedType::isDynamic(d) ? "?" : std::to_string(d);
}

RankedTensorType ranked(Value v) { return dyn_cast<RankedTensorType>(v.getType()); }

/// Checks `v` is a ranked tensor of rank `rank`, naming it `what` in the error.
LogicalResult expectRank(Operation *op, Value v, int64_t rank, StringRef what,
                         StringRef layout) {
  auto t = ranked(v);
  if (!t)
    return op->emitOpError() << what << " must be a ranked tensor";
  if (t.getRank() != rank)
    return op->emitOpError() << what << " must have rank " << rank << " (" << layout
                             << "), got rank " << t.getRank();
  return success();
}

/// Checks dimension `idx` of `v` agrees with `expected`.
LogicalResult expectDim(Operation *op, Value v, int64_t idx, int64_t expected,
                        StringRef what, StringRef dimName) {
  int64_t actual = ranked(v).getDimSize(idx);
  if (!dimsAgree(actual, expected))
    return op->emitOpError() << what << " " << dimName << " (dim " << idx << ") is "
                             << dimStr(actual) << ", expected " << dimStr(expected);
  return success();
}

LogicalResult expectSameElementType(Operation *op, Value a, Value b, StringRef what) {
  Type ea = cast<ShapedType>(a.getType()).getElementType();
  Type eb = cast<ShapedType>(b.getType()).getElementType();
  if (ea != eb)
    return op->emitOpError() << what << " element type " << eb << " differs from "
                             << ea;
  return success();
}
} // namespace

//===----------------------------------------------------------------------===//
// ParamOp / WeightOp
//===----------------------------------------------------------------------===//

LogicalResult ParamOp::verify() {
  WeightType type = getWeightType();
  if (!getValue())
    return success();
  if (!type.isDense())
    return emitOpError() << "an inline value is only allowed for dense weights; "
                            "encoded weights live in the parameter file";
  auto valueType = cast<ShapedType>(getValue()->getType());
  if (valueType.getShape() != type.getShape() ||
      valueType.getElementType() != type.getElementType())
    return emitOpError() << "inline value of type " << valueType
                         << " does not match the parameter type " << type;
  return success();
}

LogicalResult WeightOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  auto param = symbolTable.lookupNearestSymbolFrom<ParamOp>(*this, getNameAttr());
  if (!param)
    return emitOpError() << "references unknown parameter " << getNameAttr();
  if (param.getType() != getResult().getType())
    return emitOpError() << "type " << getResult().getType()
                         << " does not match the declaration of " << getNameAttr()
                         << ": " << param.getType();
  return success();
}

static LogicalResult verifyDenseTransform(Operation *op, WeightType in, WeightType out) {
  if (!in.isDense() || in.getSparsity() || !out.isDense() || out.getSparsity())
    return op->emitOpError() << "works on dense weights only";
  if (in.getElementType() != out.getElementType())
    return op->emitOpError() << "result element type " << out.getElementType()
                              << " differs from " << in.getElementType();
  return success();
}

LogicalResult WeightTransposeOp::verify() {
  WeightType in = getInput().getType(), out = getResult().getType();
  if (failed(verifyDenseTransform(*this, in, out)))
    return failure();
  if (in.getRank() != 2 || out.getRank() != 2 || in.getShape()[0] != out.getShape()[1] ||
      in.getShape()[1] != out.getShape()[0])
    return emitOpError() << "result " << out << " is not the transpose of " << in;
  return success();
}

OpFoldResult WeightTransposeOp::fold(FoldAdaptor) {
  if (getName())
    return {};
  if (auto inner = getInput().getDefiningOp<WeightTransposeOp>())
    return inner.getInput();
  return {};
}

LogicalResult WeightSliceOp::verify() {
  WeightType in = getInput().getType(), out = getResult().getType();
  int64_t axis = getAxisAttr().getInt(), offset = getOffsetAttr().getInt();
  // Rows of an encoded weight whose format stores rows apart (affine: codes, scales and
  // zero points per row) can be sliced too: that is how a packed QKV projection is split.
  WeightFormatAttrInterface format = in.getFormat();
  bool quantizedRows = format && format.hasIndependentRows() && axis == 0 &&
                       in.getFormat() == out.getFormat() && !in.getSparsity() &&
                       !out.getSparsity() && in.getElementType() == out.getElementType();
  if (!quantizedRows && failed(verifyDenseTransform(*this, in, out)))
    return failure();
  if (in.getRank() != 2 || out.getRank() != 2)
    return emitOpError() << "slices rank-2 weights";
  if (axis != 0 && axis != 1)
    return emitOpError() << "axis must be 0 (rows) or 1 (columns), got " << axis;
  int64_t size = out.getShape()[axis];
  if (out.getShape()[1 - axis] != in.getShape()[1 - axis])
    return emitOpError() << "result " << out << " must keep dimension " << 1 - axis
                         << " of " << in;
  if (offset < 0 || offset + size > in.getShape()[axis])
    return emitOpError() << "range [" << offset << ", " << offset + size
                         << ") is outside dimension " << axis << " (size "
                         << in.getShape()[axis] << ")";
  return success();
}

//===----------------------------------------------------------------------===//
// DecoderLayerOp
//===----------------------------------------------------------------------===//

LogicalResult DecoderLayerOp::verify() {
  if (getIndexAttr().getInt() < 0)
    return emitOpError() << "layer index must be >= 0, got " << getIndexAttr().getInt();
  Block &body = getBody().front();
  if (body.getNumArguments() != getInputs().size())
    return emitOpError() << "body has " << body.getNumArguments()
                         << " arguments but the layer has " << getInputs().size()
                         << " inputs";
  for (auto [i, arg, input] : llvm::enumerate(body.getArguments(), getInputs()))
    if (arg.getType() != input.getType())
      return emitOpError() << "body argument #" << i << " has type " << arg.getType()
                           << " but input #" << i << " has type " << input.getType();
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield)
    return emitOpError() << "body must end with llm.yield";
  if (yield.getValues().getTypes() != getResultTypes())
    return emitOpError() << "llm.yield types do not match the layer's result types";
  return success();
}

//===----------------------------------------------------------------------===//
// Building blocks
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::verify() {
  WeightType table = getTable().getType();
  if (table.getRank() != 2)
    return emitOpError() << "embedding table must be a [vocab, dim] weight, got rank "
                         << table.getRank();
  auto ids = cast<RankedTensorType>(getIds().getType());
  auto result = cast<RankedTensorType>(getResult().getType());
  if (result.getRank() != ids.getRank() + 1)
    return emitOpError() << "result rank must be the ids rank + 1 (" << ids.getRank() + 1
                         << "), got " << result.getRank();
  for (int64_t i = 0; i < ids.getRank(); ++i)
    if (failed(expectDim(*this, getResult(), i, ids.getDimSize(i), "result", "dimension")))
      return failure();
  return expectDim(*this, getResult(), ids.getRank(), table.getShape()[1], "result",
                   "embedding dim");
}

LogicalResult RMSNormOp::verify() {
  WeightType weight = getWeight().getType();
  if (weight.getRank() != 1)
    return emitOpError() << "norm weight must be rank 1, got rank " << weight.getRank();
  auto input = cast<RankedTensorType>(getInput().getType());
  if (input.getRank() < 1)
    return emitOpError() << "input must have rank >= 1";
  if (failed(expectDim(*this, getInput(), input.getRank() - 1, weight.getShape()[0],
                       "input", "feature size")))
    return failure();
  if (!(getEpsilon().convertToFloat() > 0.0f))
    return emitOpError() << "epsilon must be positive";
  return success();
}

RankedTensorType LinearOp::inferResultType(Type input, Type weight) {
  auto in = dyn_cast<RankedTensorType>(input);
  auto w = dyn_cast<WeightType>(weight);
  if (!in || !w || w.getRank() != 2 || in.getRank() < 1)
    return {};
  SmallVector<int64_t> shape(in.getShape());
  shape.back() = w.getShape()[0];
  return RankedTensorType::get(shape, in.getElementType());
}

LogicalResult LinearOp::verify() {
  WeightType weight = getWeight().getType();
  if (weight.getRank() != 2)
    return emitOpError() << "weight must be [out, in] (rank 2), got rank "
                         << weight.getRank();
  int64_t n = weight.getShape()[0], k = weight.getShape()[1];
  auto input = cast<RankedTensorType>(getInput().getType());
  auto result = cast<RankedTensorType>(getResult().getType());
  if (input.getRank() < 1)
    return emitOpError() << "input must have rank >= 1";
  if (!dimsAgree(input.getShape().back(), k))
    return emitOpError() << "input features (" << dimStr(input.getShape().back())
                         << ") do not match the weight's input dimension K = " << k;
  if (result.getRank() != input.getRank())
    return emitOpError() << "result rank " << result.getRank()
                         << " differs from input rank " << input.getRank();
  RankedTensorType expected = inferResultType(input, weight);
  for (int64_t i = 0; i + 1 < input.getRank(); ++i)
    if (failed(expectDim(*this, getResult(), i, expected.getDimSize(i), "result", "dimension")))
      return failure();
  if (failed(expectDim(*this, getResult(), result.getRank() - 1, n, "result",
                       "output features")))
    return failure();
  if (failed(expectSameElementType(*this, getInput(), getResult(), "result")))
    return failure();
  if (Value bias = getBias()) {
    auto biasType = cast<WeightType>(bias.getType());
    if (biasType.getRank() != 1 || !biasType.isDense() || biasType.getSparsity())
      return emitOpError() << "bias must be a dense rank-1 weight, got " << biasType;
    if (biasType.getShape()[0] != n)
      return emitOpError() << "bias has " << biasType.getShape()[0]
                           << " elements, expected N = " << n;
  }
  return success();
}

LogicalResult RotaryOp::verify() {
  if (failed(expectRank(*this, getInput(), 4, "input", "[batch, seq, heads, head_dim]")) ||
      failed(expectRank(*this, getPositions(), 2, "positions", "[batch, seq]")))
    return failure();
  auto input = cast<RankedTensorType>(getInput().getType());
  if (failed(expectDim(*this, getPositions(), 0, input.getDimSize(0), "positions", "batch")) ||
      failed(expectDim(*this, getPositions(), 1, input.getDimSize(1), "positions", "seq")))
    return failure();
  int64_t rotaryDim = getRotaryDimAttr().getInt();
  int64_t headDim = input.getDimSize(3);
  if (rotaryDim <= 0 || rotaryDim % 2 != 0)
    return emitOpError() << "rotary_dim must be positive and even, got " << rotaryDim;
  if (!ShapedType::isDynamic(headDim) && rotaryDim > headDim)
    return emitOpError() << "rotary_dim " << rotaryDim << " exceeds head_dim " << headDim;
  // Finite too: theta = inf makes every frequency 1 / inf = 0 (no rotation at all) and NaN
  // makes every position NaN, and both would otherwise verify.
  double theta = getTheta().convertToDouble();
  if (!std::isfinite(theta) || !(theta > 0.0))
    return emitOpError() << "theta must be a finite positive number, got " << theta;
  return success();
}

LogicalResult AttentionOp::verify() {
  StringRef qLayout = "[batch, seq, heads, head_dim]";
  if (failed(expectRank(*this, getQ(), 4, "q", qLayout)) ||
      failed(expectRank(*this, getK(), 4, "k", qLayout)) ||
      failed(expectRank(*this, getV(), 4, "v", qLayout)) ||
      failed(expectRank(*this, getOutput(), 4, "output", qLayout)))
    return failure();
  int64_t heads = getNumHeadsAttr().getInt(), kvHeads = getNumKvHeadsAttr().getInt();
  if (heads <= 0 || kvHeads <= 0)
    return emitOpError() << "num_heads and num_kv_heads must be positive, got " << heads
                         << " and " << kvHeads;
  if (heads % kvHeads != 0)
    return emitOpError() << "num_kv_heads (" << kvHeads << ") must divide num_heads ("
                         << heads << ")";
  auto q = cast<RankedTensorType>(getQ().getType());
  int64_t batch = q.getDimSize(0), seq = q.getDimSize(1), headDim = q.getDimSize(3);
  if (ShapedType::isDynamic(headDim))
    return emitOpError() << "head_dim must be static";
  if (failed(expectDim(*this, getQ(), 2, heads, "q", "heads")))
    return failure();
  for (auto [value, name] : {std::pair<Value, StringRef>{getK(), "k"}, {getV(), "v"}}) {
    if (failed(expectDim(*this, value, 0, batch, name, "batch")) ||
        failed(expectDim(*this, value, 1, seq, name, "seq")) ||
        failed(expectDim(*this, value, 2, kvHeads, name, "kv heads")) ||
        failed(expectDim(*this, value, 3, headDim, name, "head_dim")) ||
        failed(expectSameElementType(*this, getQ(), value, name)))
      return failure();
  }
  if (getOutput().getType() != getQ().getType())
    return emitOpError() << "output type " << getOutput().getType()
                         << " must equal the q type " << getQ().getType();

  // KV cache: [batch, kv_heads, length, head_dim], given and returned as (key, value) pairs.
  StringRef kvLayout = "[batch, kv_heads, len, head_dim]";
  auto checkCache = [&](ValueRange pair, StringRef what) -> LogicalResult {
    if (pair.empty())
      return success();
    if (pair.size() != 2)
      return emitOpError() << what << " must be a (key, value) pair, got " << pair.size()
                           << " values";
    for (Value v : pair) {
      if (failed(expectRank(*this, v, 4, what, kvLayout)) ||
          failed(expectDim(*this, v, 0, batch, what, "batch")) ||
          failed(expectDim(*this, v, 1, kvHeads, what, "kv heads")) ||
          failed(expectDim(*this, v, 3, headDim, what, "head_dim")) ||
          failed(expectSameElementType(*this, getQ(), v, what)))
        return failure();
    }
    if (!dimsAgree(ranked(pair[0]).getDimSize(2), ranked(pair[1]).getDimSize(2)))
      return emitOpError() << what << " key and value lengths differ";
    return success();
  };
  if (failed(checkCache(getPast(), "past")) || failed(checkCache(getPresent(), "present")))
    return failure();
  if (!getPresent().empty()) {
    int64_t pastLen = getPast().empty() ? 0 : ranked(getPast()[0]).getDimSize(2);
    int64_t expected = ShapedType::isDynamic(pastLen) || ShapedType::isDynamic(seq)
                           ? ShapedType::kDynamic
                           : pastLen + seq;
    if (failed(expectDim(*this, getPresent()[0], 2, expected, "present", "length")))
      return failure();
  }
  if (FloatAttr scale = getScaleAttr(); scale && !(scale.getValueAsDouble() > 0.0))
    return emitOpError() << "scale must be positive";
  return success();
}

RankedTensorType LMHeadOp::inferResultType(Type input, Type weight, bool lastTokenOnly) {
  auto in = dyn_cast<RankedTensorType>(input);
  auto w = dyn_cast<WeightType>(weight);
  if (!in || !w || w.getRank() != 2 || in.getRank() < 2)
    return {};
  SmallVector<int64_t> shape(in.getShape());
  if (lastTokenOnly)
    shape[shape.size() - 2] = 1;
  shape.back() = w.getShape()[0];
  return RankedTensorType::get(shape, in.getElementType());
}

LogicalResult LMHeadOp::verify() {
  WeightType weight = getWeight().getType();
  if (weight.getRank() != 2)
    return emitOpError() << "weight must be [vocab, dim] (rank 2), got rank "
                         << weight.getRank();
  auto input = cast<RankedTensorType>(getInput().getType());
  auto result = cast<RankedTensorType>(getResult().getType());
  int64_t rank = input.getRank();
  if (rank < 2 || result.getRank() != rank)
    return emitOpError() << "input and result must have the same rank >= 2 ([..., seq, "
                            "features]), got "
                         << rank << " and " << result.getRank();
  if (!dimsAgree(input.getShape().back(), weight.getShape()[1]))
    return emitOpError() << "input features (" << dimStr(input.getShape().back())
                         << ") do not match the weight's dim " << weight.getShape()[1];
  RankedTensorType expected = inferResultType(input, weight, getLastTokenOnly());
  for (int64_t i = 0; i + 2 < rank; ++i)
    if (failed(expectDim(*this, getResult(), i, expected.getDimSize(i), "result", "dimension")))
      return failure();
  if (failed(expectDim(*this, getResult(), rank - 2, expected.getDimSize(rank - 2), "result",
                       "seq")) ||
      failed(expectDim(*this, getResult(), rank - 1, expected.getDimSize(rank - 1), "result",
                       "vocab")))
    return failure();
  return expectSameElementType(*this, getInput(), getResult(), "result");
}

void MulOp::getCanonicalizationPatterns(RewritePatternSet &results, MLIRContext *) {
  results.add(+[](MulOp op, PatternRewriter &rewriter) -> LogicalResult {
    for (int i = 0; i < 2; ++i) {
      auto silu = op->getOperand(i).getDefiningOp<SiLUOp>();
      if (!silu || !silu->hasOneUse())
        continue;
      rewriter.replaceOpWithNewOp<SwiGLUOp>(op, op.getType(), silu.getInput(),
                                            op->getOperand(1 - i));
      rewriter.eraseOp(silu);
      return success();
    }
    return failure();
  });
}

//===----------------------------------------------------------------------===//
// Shape ops
//===----------------------------------------------------------------------===//

LogicalResult ReshapeOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  auto result = cast<RankedTensorType>(getResult().getType());
  if (failed(expectSameElementType(*this, getInput(), getResult(), "result")))
    return failure();
  // Dynamic dimensions (batch, sequence) and every dimension before them are kept as they
  // are; the static dimensions after the last dynamic one must hold the same element count.
  auto prefixEnd = [](RankedTensorType t) {
    int64_t end = 0;
    for (int64_t i = 0; i < t.getRank(); ++i)
      if (t.isDynamicDim(i))
        end = i + 1;
    return end;
  };
  int64_t prefix = prefixEnd(input);
  if (prefixEnd(result) != prefix ||
      input.getShape().take_front(prefix) != result.getShape().take_front(prefix))
    return emitOpError() << "dynamic dimensions, and the dimensions before them, must be "
                            "the same in input and result";
  auto staticCount = [&](RankedTensorType t) {
    int64_t n = 1;
    for (int64_t d : t.getShape().drop_front(prefix))
      n *= d;
    return n;
  };
  if (staticCount(input) != staticCount(result))
    return emitOpError() << "cannot reshape " << staticCount(input) << " elements into "
                         << staticCount(result)
                         << (prefix ? " (per leading dynamic index)" : "");
  return success();
}

LogicalResult TransposeOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  auto result = cast<RankedTensorType>(getResult().getType());
  ArrayRef<int64_t> perm = getPermutation();
  if (static_cast<int64_t>(perm.size()) != input.getRank() ||
      result.getRank() != input.getRank())
    return emitOpError() << "permutation, input and result must have the same rank";
  llvm::SmallVector<bool> seen(perm.size(), false);
  for (int64_t p : perm) {
    if (p < 0 || p >= input.getRank() || seen[p])
      return emitOpError() << "permutation must contain each of 0.." << input.getRank() - 1
                           << " once";
    seen[p] = true;
  }
  for (auto [i, p] : llvm::enumerate(perm))
    if (failed(expectDim(*this, getResult(), i, input.getDimSize(p), "result", "dimension")))
      return failure();
  return expectSameElementType(*this, getInput(), getResult(), "result");
}
