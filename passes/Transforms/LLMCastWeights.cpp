//===- LLMCastWeights.cpp - Linear weights stored as fp16 or bf16 ----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The cheapest compression: half the bytes of fp32 at the rounding error of a 16-bit
// float. A candidate of --llm-search-recipe (`fp16`, `bf16`) and the recipe method `cast`,
// so a searched recipe can keep the weights that matter most nearly exact at half their
// fp32 size. Selection, the parameter file and progress in WeightRewriter.
//
//===----------------------------------------------------------------------===//

#include "OptionChecks.h"
#include "WeightRewriter.h"

#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Transforms/Passes.h"
#include "runtime/params/Half.h"

#include <cstring>

namespace midllama {
#define GEN_PASS_DEF_LLMCASTWEIGHTS
#include "midllama/Transforms/Passes.h.inc"
} // namespace midllama

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;

namespace {

struct LLMCastWeightsPass
    : CheckedOptionsPass<LLMCastWeightsPass, midllama::impl::LLMCastWeightsBase> {
  using CheckedOptionsPass::CheckedOptionsPass;

  std::string checkOptions() const {
    OptionChecker c("llm-cast-weights");
    c.oneOf("dtype", dtype, {"f16", "bf16"});
    checkWeightSelection(c);
    return c.message();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    bool half = dtype == "f16";
    Type element = half ? Type(Float16Type::get(module.getContext()))
                        : Type(BFloat16Type::get(module.getContext()));
    auto encode = [&](const std::string &, WeightType type, const std::vector<float> &values,
                      EncodedWeight &out, std::string &) {
      out.type = WeightType::get(module.getContext(), type.getShape(), element);
      std::vector<uint8_t> bytes(values.size() * 2);
      for (size_t i = 0; i < values.size(); ++i) {
        uint16_t v = half ? rt::floatToHalf(values[i]) : rt::floatToBF16(values[i]);
        std::memcpy(&bytes[2 * i], &v, 2);
      }
      out.components.push_back({"", half ? rt::DType::F16 : rt::DType::BF16,
                                std::vector<int64_t>(type.getShape().begin(),
                                                     type.getShape().end()),
                                std::move(bytes)});
      out.description = std::string(dtype);
      return true;
    };
    if (failed(rewriteWeights(module, "llm-cast-weights", include, exclude, output, encode)))
      return signalPassFailure();
  }
};

} // namespace
