//===- ConvertLLMToKern.cpp - llm ops to runtime kernel calls -------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The llm dialect keeps what compression reasons about (layers, heads, the cache as values);
// kern keeps what the runtime runs. The conversion is a walk in program order with a value
// map, not a pattern set: a layer's reshape → rotary → attention → reshape chain becomes one
// kern.attention, which only a view of the whole chain can decide.
//
//===----------------------------------------------------------------------===//

#include "midllama/Dialect/Kern/IR/KernOps.h"
#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Conversion/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/BitVector.h"

#include <cmath>

namespace midllama {
#define GEN_PASS_DEF_CONVERTLLMTOKERN
#include "midllama/Conversion/Passes.h.inc"
} // namespace midllama

using namespace mlir;
using namespace midllama;

namespace {

/// Inlines every llm.decoder_layer of `func` in place, in order.
void unrollLayers(func::FuncOp func) {
  for (auto layer : llvm::make_early_inc_range(func.getBody().getOps<llm::DecoderLayerOp>())) {
    IRMapping map;
    Block &body = layer.getBody().front();
    map.map(body.getArguments(), layer.getInputs());
    OpBuilder b(layer);
    for (Operation &op : body.without_terminator())
      b.clone(op, map);
    auto yield = cast<llm::YieldOp>(body.getTerminator());
    for (auto [result, yielded] : llvm::zip(layer.getResults(), yield.getValues()))
      result.replaceAllUsesWith(map.lookupOrDefault(yielded));
    layer.erase();
  }
}

RankedTensorType asF32(Type t) {
  auto r = cast<RankedTensorType>(t);
  return RankedTensorType::get(r.getShape(), Float32Type::get(t.getContext()));
}

struct Rotary {
  float theta = 0;
  int64_t dim = 0;
  bool interleaved = false;
  Value positions;
};

/// The conversion of one single-block function: its state is the value map and what the
/// head views, rotary embeddings and caches seen so far are.
class FunctionConverter {
public:
  explicit FunctionConverter(func::FuncOp func) : func(func), b(func.getContext()) {
    // Positions for attention without rotary embeddings: the argument the importer named so.
    for (BlockArgument arg : func.getArguments())
      if (auto name = func.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                                       llm::LLMDialect::kNameAttrName);
          name && (name.getValue() == "position_ids" || name.getValue() == "positions"))
        funcPositions = arg;
  }

  LogicalResult run() {
    Block &block = func.getBody().front();
    SmallVector<Operation *> old;
    for (Operation &op : block.without_terminator()) {
      if (isa<llm::WeightOp>(op))
        continue; // weights stay llm.weight reads
      old.push_back(&op);
      b.setInsertionPoint(&op);
      if (failed(checkOperands(op)) || failed(convertOp(op)))
        return failure();
    }
    SmallVector<Value> results;
    SmallVector<DictionaryAttr> resultAttrs;
    if (failed(rewriteReturn(cast<func::ReturnOp>(block.getTerminator()), results,
                             resultAttrs)))
      return failure();
    for (Operation *op : llvm::reverse(old))
      op->erase();
    // @forward(tokens, positions) -> logits: arguments nothing reads any more go.
    llvm::BitVector dead(func.getNumArguments());
    for (BlockArgument arg : func.getArguments())
      if (arg.use_empty() && arg.getArgNumber() > 0)
        dead.set(arg.getArgNumber());
    if (failed(func.eraseArguments(dead)))
      return failure();
    func.setType(FunctionType::get(func.getContext(), func.getArgumentTypes(),
                                   ValueRange(results).getTypes()));
    func.setAllResultAttrs(resultAttrs);
    return success();
  }

private:
  LogicalResult fail(Operation *op, const Twine &why) {
    op->emitError() << "convert-llm-to-kern: " << why;
    return failure();
  }
  Value flat(Value v4) const { return heads.lookup(v4); }

  /// Every activation operand must already be a kernel's result (or a head view).
  LogicalResult checkOperands(Operation &op) {
    for (Value operand : op.getOperands())
      if (isa<RankedTensorType>(operand.getType()) && !isa<llm::EmbeddingOp>(op) &&
          !isa<llm::RotaryOp, llm::AttentionOp>(op) && !map.contains(operand) &&
          !heads.count(operand) && !(isa<llm::ReshapeOp>(op) && rotatedFlat.count(operand)))
        return fail(&op, "an operand is not computed by any kernel");
    return success();
  }

  LogicalResult convertOp(Operation &op) {
    if (auto r = dyn_cast<llm::ReshapeOp>(op))
      return convertReshape(r);
    if (auto rot = dyn_cast<llm::RotaryOp>(op)) {
      if (!flat(rot.getInput()))
        return fail(&op, "rotary embeddings must apply to heads split from a projection");
      heads[rot.getResult()] = flat(rot.getInput());
      rotaries[rot.getResult()] = Rotary{rot.getTheta().convertToFloat(),
                                         int64_t(rot.getRotaryDim()), rot.getInterleaved(),
                                         rot.getPositions()};
      return success();
    }
    if (auto at = dyn_cast<llm::AttentionOp>(op))
      return convertAttention(at);
    FailureOr<Value> result = convertOneToOne(op);
    if (failed(result))
      return failure();
    map.map(op.getResult(0), *result);
    return success();
  }

  /// The ops that become one kernel call each (a cast becomes nothing: activations are
  /// fp32 in kern).
  FailureOr<Value> convertOneToOne(Operation &op) {
    Location loc = op.getLoc();
    if (auto e = dyn_cast<llm::EmbeddingOp>(op))
      return kern::EmbedOp::create(b, loc, asF32(e.getType()), e.getIds(), e.getTable())
          .getResult();
    if (auto n = dyn_cast<llm::RMSNormOp>(op))
      return kern::RMSNormOp::create(b, loc, map.lookup(n.getInput()), n.getWeight(),
                                     n.getEpsilonAttr())
          .getResult();
    if (auto l = dyn_cast<llm::LinearOp>(op)) {
      if (l.getBias())
        return fail(&op, "linear layers with a bias have no CPU kernel yet");
      return kern::MatMulOp::create(b, loc, asF32(l.getType()), map.lookup(l.getInput()),
                                    l.getWeight(), /*last_token_only=*/false)
          .getResult();
    }
    if (auto h = dyn_cast<llm::LMHeadOp>(op))
      return kern::MatMulOp::create(b, loc, asF32(h.getType()), map.lookup(h.getInput()),
                                    h.getWeight(), h.getLastTokenOnly())
          .getResult();
    if (auto s = dyn_cast<llm::SwiGLUOp>(op))
      return kern::SwiGLUOp::create(b, loc, map.lookup(s.getGate()), map.lookup(s.getUp()))
          .getResult();
    if (auto a = dyn_cast<llm::AddOp>(op))
      return kern::AddOp::create(b, loc, map.lookup(a->getOperand(0)),
                                 map.lookup(a->getOperand(1)))
          .getResult();
    if (auto m = dyn_cast<llm::MulOp>(op))
      return kern::MulOp::create(b, loc, map.lookup(m->getOperand(0)),
                                 map.lookup(m->getOperand(1)))
          .getResult();
    if (auto s = dyn_cast<llm::SiLUOp>(op))
      return kern::SiLUOp::create(b, loc, map.lookup(s.getInput())).getResult();
    if (auto c = dyn_cast<llm::CastOp>(op))
      return map.lookup(c.getInput());
    return fail(&op, Twine("'") + op.getName().getStringRef() +
                         "' has no kernel in the CPU runtime");
  }

  /// Head split ([B, S, H*D] -> [B, S, H, D]) and merge: views, no kernel.
  LogicalResult convertReshape(llm::ReshapeOp r) {
    auto in = cast<RankedTensorType>(r.getInput().getType());
    auto out = cast<RankedTensorType>(r.getType());
    if (in.getRank() == 3 && out.getRank() == 4 && in.getShape()[2] != ShapedType::kDynamic &&
        out.getShape()[2] * out.getShape()[3] == in.getShape()[2]) {
      if (auto it = rotatedFlat.find(r.getInput()); it != rotatedFlat.end()) {
        heads[r.getResult()] = it->second.first;
        rotaries[r.getResult()] = it->second.second;
      } else {
        heads[r.getResult()] = map.lookup(r.getInput()); // split heads: a view
      }
      return success();
    }
    if (in.getRank() == 4 && out.getRank() == 3 && flat(r.getInput())) {
      if (auto it = rotaries.find(r.getInput()); it != rotaries.end())
        rotatedFlat[r.getResult()] = {flat(r.getInput()), it->second};
      else
        map.map(r.getResult(), flat(r.getInput())); // merge heads: a view
      return success();
    }
    return fail(r, "only head split/merge reshapes around attention are supported");
  }

  /// One kern.attention, with the rotary embedding of its queries and keys folded in.
  LogicalResult convertAttention(llm::AttentionOp at) {
    Value q = flat(at.getQ()), k = flat(at.getK()), v = flat(at.getV());
    if (!q || !k || !v)
      return fail(at, "attention operands must be heads of projections");
    Rotary rq = rotaries.lookup(at.getQ()), rk = rotaries.lookup(at.getK());
    if (rq.dim != rk.dim || rq.theta != rk.theta || rq.interleaved != rk.interleaved ||
        rq.positions != rk.positions)
      return fail(at, "queries and keys must have the same rotary embedding");
    if (rotaries.count(at.getV()))
      return fail(at, "rotary embeddings of values are not supported");
    Value positions = rq.positions ? rq.positions : funcPositions;
    if (!positions)
      return fail(at, "no token positions for the KV cache (no rotary and no positions "
                      "argument)");
    auto qt = cast<RankedTensorType>(at.getQ().getType());
    int64_t d = qt.getShape()[3];
    float scale =
        at.getScale() ? at.getScale()->convertToFloat() : float(1.0 / std::sqrt(double(d)));
    auto resultType = asF32(RankedTensorType::get(
        {qt.getShape()[0], qt.getShape()[1], qt.getShape()[2] * d}, qt.getElementType()));
    Value o = kern::AttentionOp::create(
        b, at.getLoc(), resultType, q, k, v, positions, b.getI64IntegerAttr(layer++),
        at.getNumHeadsAttr(), at.getNumKvHeadsAttr(), b.getI64IntegerAttr(d),
        b.getF32FloatAttr(scale), b.getF32FloatAttr(rq.theta), b.getI64IntegerAttr(rq.dim),
        b.getBoolAttr(rq.interleaved));
    heads[at.getOutput()] = o;
    for (Value p : at.getPresent())
      caches.insert(p);
    return success();
  }

  /// The return of the kernels' results: the caches are runtime state now.
  LogicalResult rewriteReturn(func::ReturnOp ret, SmallVector<Value> &results,
                              SmallVector<DictionaryAttr> &resultAttrs) {
    for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
      if (caches.contains(v))
        continue;
      Value mapped = map.lookupOrNull(v);
      if (!mapped)
        return fail(ret, "result #" + Twine(i) + " is not an activation the kernels compute");
      results.push_back(mapped);
      resultAttrs.push_back(func.getResultAttrDict(i));
    }
    b.setInsertionPoint(ret);
    func::ReturnOp::create(b, ret.getLoc(), results);
    ret.erase();
    return success();
  }

  func::FuncOp func;
  OpBuilder b;
  IRMapping map;                    // llm activation -> kern activation (3-D f32)
  DenseMap<Value, Value> heads;     // 4-D head view -> the flat 3-D kern value it views
  DenseMap<Value, Rotary> rotaries; // 4-D rotated head view -> its rotary
  // A rotated view merged back to [B, S, width] (RotaryEmbedding on 3-D tensors): only an
  // attention, after a new head split, may read it, since the rotation happens inside
  // kern.attention.
  DenseMap<Value, std::pair<Value, Rotary>> rotatedFlat;
  llvm::DenseSet<Value> caches; // present KV cache results (runtime state now)
  Value funcPositions;
  int64_t layer = 0;
};

struct ConvertLLMToKernPass : midllama::impl::ConvertLLMToKernBase<ConvertLLMToKernPass> {
  void runOnOperation() override {
    for (auto func : llvm::to_vector(getOperation().getOps<func::FuncOp>()))
      if (failed(convert(func)))
        return signalPassFailure();
  }

  LogicalResult convert(func::FuncOp func) {
    if (!func.getBody().hasOneBlock())
      // At the function's location, without the op: the note would print its whole body.
      return mlir::emitError(func.getLoc(), "convert-llm-to-kern: expects a single-block function");
    unrollLayers(func);
    return FunctionConverter(func).run();
  }
};

} // namespace
