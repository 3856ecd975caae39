//===- DecoderBuilder.cpp - Emit the llm IR of a LLaMA decoder ------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Import/DecoderBuilder.h"

#include "midllama/Dialect/LLM/IR/LLMOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;

std::string DecoderConfig::validate() const {
  auto positive = [](int64_t v) { return v > 0; };
  if (!positive(vocabSize) || !positive(hiddenSize) || !positive(intermediateSize) ||
      !positive(numLayers) || !positive(numHeads) || !positive(numKvHeads) ||
      !positive(headDim))
    return "all model dimensions must be positive";
  if (numHeads % numKvHeads != 0)
    return "kv heads (" + std::to_string(numKvHeads) + ") must divide heads (" +
           std::to_string(numHeads) + ")";
  if (rotaryDim < 0 || rotaryDim > headDim || rotaryDim % 2 != 0)
    return "rotary dim " + std::to_string(rotaryDim) + " must be even and <= head dim " +
           std::to_string(headDim);
  if (!(ropeTheta > 0) || !(rmsNormEps > 0))
    return "rope theta and rms norm epsilon must be positive";
  if (!weightType || !activationType)
    return "weight and activation types must be set";
  return "";
}

std::string param_names::embedTokens() { return "model.embed_tokens.weight"; }
std::string param_names::finalNorm() { return "model.norm.weight"; }
std::string param_names::lmHead() { return "lm_head.weight"; }
std::string param_names::layer(int64_t layer, StringRef what) {
  std::string prefix = "model.layers." + std::to_string(layer) + ".";
  if (what == "input_layernorm" || what == "post_attention_layernorm")
    return prefix + what.str() + ".weight";
  if (what.ends_with("_proj") && (what.starts_with("q") || what.starts_with("k") ||
                                  what.starts_with("v") || what.starts_with("o")))
    return prefix + "self_attn." + what.str() + ".weight";
  return prefix + "mlp." + what.str() + ".weight";
}

namespace {

/// Emits ops with one builder and location, declaring parameters as they are first read.
class Emitter {
public:
  Emitter(ModuleOp module, const DecoderConfig &config, Location loc)
      : module(module), config(config), loc(loc), b(module.getContext()) {}

  /// Declares `name` (once, at module level) and reads it at the builder's position.
  Value weight(const std::string &name, ArrayRef<int64_t> shape) {
    auto type = WeightType::get(b.getContext(), shape, config.weightType);
    if (auto it = config.weightTypes.find(name); it != config.weightTypes.end()) {
      type = cast<WeightType>(it->second);
      assert(type.getShape() == shape && "a weight type override of another shape");
    }
    if (!declared.count(name)) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(module.getBody(), std::prev(module.getBody()->end()));
      ParamOp::create(b, loc, name, type, /*value=*/nullptr);
      declared.insert(name);
    }
    return WeightOp::create(b, loc, type, FlatSymbolRefAttr::get(b.getContext(), name));
  }

  RankedTensorType act(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, config.activationType);
  }

  ModuleOp module;
  const DecoderConfig &config;
  Location loc;
  OpBuilder b;
  std::set<std::string> declared;
};

constexpr int64_t kDyn = ShapedType::kDynamic;

/// The body of decoder layer `i`: pre-norm attention and SwiGLU MLP with residuals.
void emitLayer(Emitter &e, int64_t i, Block &body) {
  const DecoderConfig &c = e.config;
  OpBuilder &b = e.b;
  Location loc = e.loc;
  Value x = body.getArgument(0), positions = body.getArgument(1);
  Value pastK = body.getArgument(2), pastV = body.getArgument(3);
  int64_t qDim = c.numHeads * c.headDim, kvDim = c.numKvHeads * c.headDim;
  auto linear = [&](Value in, StringRef what, int64_t out, int64_t in_features) {
    Value w = e.weight(param_names::layer(i, what), {out, in_features});
    return LinearOp::create(b, loc, in, w).getResult();
  };
  auto norm = [&](Value in, StringRef what) {
    Value w = e.weight(param_names::layer(i, what), {c.hiddenSize});
    return RMSNormOp::create(b, loc, in, w, b.getF32FloatAttr(c.rmsNormEps)).getResult();
  };
  auto heads = [&](Value in, int64_t n) {
    return ReshapeOp::create(b, loc, e.act({kDyn, kDyn, n, c.headDim}), in).getResult();
  };
  auto rotary = [&](Value in) {
    return RotaryOp::create(b, loc, in.getType(), in, positions,
                            b.getF32FloatAttr(c.ropeTheta),
                            b.getI64IntegerAttr(c.rotaryDim ? c.rotaryDim : c.headDim),
                            b.getBoolAttr(c.ropeInterleaved))
        .getResult();
  };

  Value xn = norm(x, "input_layernorm");
  Value q = rotary(heads(linear(xn, "q_proj", qDim, c.hiddenSize), c.numHeads));
  Value k = rotary(heads(linear(xn, "k_proj", kvDim, c.hiddenSize), c.numKvHeads));
  Value v = heads(linear(xn, "v_proj", kvDim, c.hiddenSize), c.numKvHeads);
  Type cacheType = pastK.getType();
  auto attention = AttentionOp::create(
      b, loc, q.getType(), TypeRange{cacheType, cacheType}, q, k, v, ValueRange{pastK, pastV},
      b.getI64IntegerAttr(c.numHeads), b.getI64IntegerAttr(c.numKvHeads), FloatAttr());
  Value merged = ReshapeOp::create(b, loc, e.act({kDyn, kDyn, qDim}), attention.getOutput());
  Value h = AddOp::create(b, loc, x, linear(merged, "o_proj", c.hiddenSize, qDim));
  Value hn = norm(h, "post_attention_layernorm");
  Value gate = linear(hn, "gate_proj", c.intermediateSize, c.hiddenSize);
  Value up = linear(hn, "up_proj", c.intermediateSize, c.hiddenSize);
  Value act = SwiGLUOp::create(b, loc, gate, up);
  Value y = AddOp::create(b, loc, h, linear(act, "down_proj", c.hiddenSize, c.intermediateSize));
  YieldOp::create(b, loc, ValueRange{y, attention.getPresent()[0], attention.getPresent()[1]});
}

} // namespace

OwningOpRef<ModuleOp> midllama::buildDecoderModule(MLIRContext *context,
                                                   const DecoderConfig &c,
                                                   StringRef paramFile, Location loc) {
  context->loadDialect<LLMDialect, func::FuncDialect>();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  (*module)->setAttr(LLMDialect::kParamFileAttrName, StringAttr::get(context, paramFile));
  if (c.maxPositions > 0)
    (*module)->setAttr(LLMDialect::kMaxContextAttrName,
                       IntegerAttr::get(IntegerType::get(context, 64), c.maxPositions));
  if (c.int8Activations)
    (*module)->setAttr(LLMDialect::kActivationsAttrName, StringAttr::get(context, "int8"));
  Emitter e(*module, c, loc);
  OpBuilder &b = e.b;

  auto tokensType = RankedTensorType::get({kDyn, kDyn}, b.getI32Type());
  auto positionsType = RankedTensorType::get({kDyn, kDyn}, b.getI64Type());
  auto cacheType = e.act({kDyn, c.numKvHeads, kDyn, c.headDim});
  auto hiddenType = e.act({kDyn, kDyn, c.hiddenSize});
  auto logitsType = e.act({kDyn, kDyn, c.vocabSize});
  SmallVector<Type> inputs{tokensType, positionsType}, results{logitsType};
  for (int64_t i = 0; i < c.numLayers; ++i) {
    inputs.append({cacheType, cacheType});
    results.append({cacheType, cacheType});
  }
  b.setInsertionPointToEnd(module->getBody());
  auto func = func::FuncOp::create(b, loc, "forward", b.getFunctionType(inputs, results));
  // Name the inputs and outputs after what they carry; the runtime binds them by name.
  SmallVector<std::string> argNames{"tokens", "positions"}, resultNames{"logits"};
  for (int64_t i = 0; i < c.numLayers; ++i) {
    argNames.push_back("past_key." + std::to_string(i));
    argNames.push_back("past_value." + std::to_string(i));
    resultNames.push_back("present_key." + std::to_string(i));
    resultNames.push_back("present_value." + std::to_string(i));
  }
  for (auto [idx, name] : llvm::enumerate(argNames))
    func.setArgAttr(idx, "llm.name", b.getStringAttr(name));
  for (auto [idx, name] : llvm::enumerate(resultNames))
    func.setResultAttr(idx, "llm.name", b.getStringAttr(name));

  Block *entry = func.addEntryBlock();
  b.setInsertionPointToEnd(entry);
  Value embed = e.weight(param_names::embedTokens(), {c.vocabSize, c.hiddenSize});
  Value h = EmbeddingOp::create(b, loc, hiddenType, entry->getArgument(0), embed);
  SmallVector<Value> presents;
  for (int64_t i = 0; i < c.numLayers; ++i) {
    Value layerInputs[] = {h, entry->getArgument(1), entry->getArgument(2 + 2 * i),
                           entry->getArgument(3 + 2 * i)};
    auto layer = DecoderLayerOp::create(b, loc, TypeRange{hiddenType, cacheType, cacheType},
                                        b.getI64IntegerAttr(i), layerInputs);
    Block *body = b.createBlock(&layer.getBody());
    for (Value v : layerInputs)
      body->addArgument(v.getType(), loc);
    emitLayer(e, i, *body);
    b.setInsertionPointAfter(layer);
    h = layer.getResult(0);
    presents.append({layer.getResult(1), layer.getResult(2)});
  }
  Value finalNorm = e.weight(param_names::finalNorm(), {c.hiddenSize});
  h = RMSNormOp::create(b, loc, h, finalNorm, b.getF32FloatAttr(c.rmsNormEps));
  Value head = c.tiedEmbeddings ? embed
                                : e.weight(param_names::lmHead(), {c.vocabSize, c.hiddenSize});
  Value logits = LMHeadOp::create(b, loc, h, head);
  SmallVector<Value> outs{logits};
  outs.append(presents);
  func::ReturnOp::create(b, loc, outs);
  return module;
}
