//===- LLMSetActivations.cpp - The runtime's default activation precision -===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Which activations the CPU multiplies a compressed model's weights with is a trade of
// accuracy for speed that belongs to the recipe: fp32 keeps the reference numerics and
// holds a quantized model's prefill at the fp32 model's speed; int8 and bf16 go past it
// (docs/compile-and-run.md, "Activation precision"). This pass records the choice in the
// IR so the compiled artifact carries it and midllama-opt alone reproduces a compile.
//
//===----------------------------------------------------------------------===//

#include "OptionChecks.h"

#include "midllama/Dialect/LLM/IR/LLMDialect.h"
#include "midllama/Transforms/Passes.h"

namespace midllama {
#define GEN_PASS_DEF_LLMSETACTIVATIONS
#include "midllama/Transforms/Passes.h.inc"
} // namespace midllama

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;

namespace {

struct LLMSetActivationsPass
    : CheckedOptionsPass<LLMSetActivationsPass, midllama::impl::LLMSetActivationsBase> {
  using CheckedOptionsPass::CheckedOptionsPass;

  std::string checkOptions() const {
    OptionChecker c("llm-set-activations");
    c.oneOf("activations", activations, {"fp32", "int8", "bf16", "int8+bf16"});
    return c.message();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::string value = activations;
    // An importer's int8 scaled per weight group is the source's convention for the int8
    // scales (ONNX Runtime's at accuracy_level 4): int8 keeps it.
    auto before = module->getAttrOfType<StringAttr>(LLMDialect::kActivationsAttrName);
    if (before && before.getValue().starts_with("int8-weight-groups") &&
        StringRef(value).starts_with("int8"))
      value = "int8-weight-groups" + value.substr(4);
    MLIRContext *context = module.getContext();
    module->setAttr(LLMDialect::kActivationsAttrName, StringAttr::get(context, value));
    module->setAttr(LLMDialect::kActivationsSetByAttrName,
                    StringAttr::get(context, "--llm-set-activations=" + activations));
  }
};

} // namespace
