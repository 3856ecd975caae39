//===- LLMSetKVCache.cpp - The runtime's default KV cache -----------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Whether the CPU keeps keys and values in fp32 (the reference numerics) or fp16 (as
// llama.cpp does: half the memory, faster decode at long contexts, +0.001-0.007%
// perplexity on SmolLM2) is a deployment choice; this pass records it in the IR so the
// compiled artifact carries it and midllama-opt alone reproduces a compile.
//
//===----------------------------------------------------------------------===//

#include "OptionChecks.h"

#include "midllama/Dialect/LLM/IR/LLMDialect.h"
#include "midllama/Transforms/Passes.h"

namespace midllama {
#define GEN_PASS_DEF_LLMSETKVCACHE
#include "midllama/Transforms/Passes.h.inc"
} // namespace midllama

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;

namespace {

struct LLMSetKVCachePass
    : CheckedOptionsPass<LLMSetKVCachePass, midllama::impl::LLMSetKVCacheBase> {
  using CheckedOptionsPass::CheckedOptionsPass;

  std::string checkOptions() const {
    OptionChecker c("llm-set-kv-cache");
    c.oneOf("kv-cache", kvCache, {"f32", "f16"});
    return c.message();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    module->setAttr(LLMDialect::kKVCacheAttrName,
                    StringAttr::get(module.getContext(), kvCache));
  }
};

} // namespace
