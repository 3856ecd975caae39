//===- LLMNameWeights.cpp - Name weights after their roles ----------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Roles come from structure: what a weight's op feeds (attention's q/k/v, SwiGLU's
// gate/up) or reads (attention's output, SwiGLU's product). The names are those of
// Hugging Face LLaMA checkpoints, so a recipe written for one export applies to all.
//
//===----------------------------------------------------------------------===//

#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringSet.h"

namespace midllama {
#define GEN_PASS_DEF_LLMNAMEWEIGHTS
#include "midllama/Transforms/Passes.h.inc"
} // namespace midllama

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;

namespace {

/// The op computing `v`, seen back through the shape-only and elementwise-unary ops that
/// sit between a projection and the op that reads it.
Operation *producerThroughViews(Value v) {
  Operation *def = v.getDefiningOp();
  while (def && isa<ReshapeOp, RotaryOp, CastOp, TransposeOp>(def))
    def = def->getOperand(0).getDefiningOp();
  return def;
}

/// The single op reading `v` (through views), or null.
Operation *consumerThroughViews(Value v) {
  for (int depth = 0; depth < 8; ++depth) {
    if (!v.hasOneUse())
      return nullptr;
    Operation *user = *v.getUsers().begin();
    if (!isa<ReshapeOp, CastOp, TransposeOp>(user))
      return user;
    v = user->getResult(0);
  }
  return nullptr;
}

struct LLMNameWeightsPass : midllama::impl::LLMNameWeightsBase<LLMNameWeightsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SymbolTable symbols(module);
    for (auto func : module.getOps<func::FuncOp>()) {
      // Roles are only clear in outlined decoders (run --llm-outline-decoder-layers first).
      auto layers = llvm::to_vector(func.getBody().getOps<DecoderLayerOp>());
      if (layers.empty())
        continue;
      func.walk([&](EmbeddingOp e) { name(e.getTable(), "model.embed_tokens.weight", symbols); });
      for (auto layer : layers)
        nameLayer(layer, symbols);
      // After the last layer: the final norm and the output projection.
      for (Operation &op : llvm::make_range(std::next(layers.back()->getIterator()),
                                            layers.back()->getBlock()->end())) {
        if (auto norm = dyn_cast<RMSNormOp>(op))
          name(norm.getWeight(), "model.norm.weight", symbols);
        if (auto linear = dyn_cast<LinearOp>(op))
          name(linear.getWeight(), "lm_head.weight", symbols);
        if (auto head = dyn_cast<LMHeadOp>(op))
          name(head.getWeight(), "lm_head.weight", symbols);
      }
    }
  }

  void nameLayer(DecoderLayerOp layer, SymbolTable &symbols) {
    std::string prefix = "model.layers." + std::to_string(layer.getIndex()) + ".";
    auto linearFeeding = [](Value v) { return dyn_cast_or_null<LinearOp>(producerThroughViews(v)); };
    auto normFeeding = [&](LinearOp linear, const std::string &role) {
      if (auto norm = dyn_cast_or_null<RMSNormOp>(producerThroughViews(linear.getInput())))
        name(norm.getWeight(), prefix + role + ".weight", symbols);
    };
    layer.getBody().walk([&](Operation *op) {
      if (auto attention = dyn_cast<AttentionOp>(op)) {
        const char *roles[] = {"q_proj", "k_proj", "v_proj"};
        Value qkv[] = {attention.getQ(), attention.getK(), attention.getV()};
        for (int i = 0; i < 3; ++i)
          if (LinearOp linear = linearFeeding(qkv[i])) {
            name(linear.getWeight(), prefix + "self_attn." + roles[i] + ".weight", symbols);
            if (i == 0)
              normFeeding(linear, "input_layernorm");
          }
        if (auto out = dyn_cast_or_null<LinearOp>(consumerThroughViews(attention.getOutput())))
          name(out.getWeight(), prefix + "self_attn.o_proj.weight", symbols);
      } else if (auto swiglu = dyn_cast<SwiGLUOp>(op)) {
        if (LinearOp gate = linearFeeding(swiglu->getOperand(0))) {
          name(gate.getWeight(), prefix + "mlp.gate_proj.weight", symbols);
          normFeeding(gate, "post_attention_layernorm");
        }
        if (LinearOp up = linearFeeding(swiglu->getOperand(1)))
          name(up.getWeight(), prefix + "mlp.up_proj.weight", symbols);
        if (auto down = dyn_cast_or_null<LinearOp>(consumerThroughViews(swiglu->getResult(0))))
          name(down.getWeight(), prefix + "mlp.down_proj.weight", symbols);
      }
    });
  }

  /// Gives the weight `w` the name `role`: on its last transform, or by renaming the
  /// parameter it reads. Each weight and each name is given once.
  void name(Value w, const std::string &role, SymbolTable &symbols) {
    Operation *def = w.getDefiningOp();
    if (!def || named.contains(def))
      return;
    // Already so named (a second run, the llama2.c import): it keeps the role, so no other
    // role (a tied head) renames it.
    if (auto read = dyn_cast<WeightOp>(def); read && read.getName() == role)
      if (auto param = symbols.lookup<ParamOp>(read.getName()))
        named.insert(param);
    if (taken(role, symbols))
      return;
    if (isa<WeightTransposeOp, WeightSliceOp>(def)) {
      if (def->getAttr("name"))
        return;
      def->setAttr("name", StringAttr::get(def->getContext(), role));
    } else if (auto read = dyn_cast<WeightOp>(def)) {
      auto param = symbols.lookup<ParamOp>(read.getName());
      if (!param || named.contains(param))
        return;
      // Every read of the parameter (one per layer that uses it) is the same weight.
      if (!param->getAttr(LLMDialect::kStoredAsAttrName))
        param->setAttr(LLMDialect::kStoredAsAttrName, param.getSymNameAttr());
      if (failed(symbols.rename(param, StringAttr::get(param.getContext(), role)))) {
        param->emitError() << "llm-name-weights: cannot rename @" << param.getSymName()
                           << " to @" << role;
        return signalPassFailure();
      }
      named.insert(param);
    } else {
      return;
    }
    named.insert(def);
    givenNames.insert(role);
  }

  bool taken(const std::string &role, SymbolTable &symbols) {
    return givenNames.contains(role) || symbols.lookup(role);
  }

  llvm::DenseSet<Operation *> named;
  llvm::StringSet<> givenNames;
};

} // namespace
