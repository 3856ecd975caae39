//===- LLMPruneMagnitude.cpp - Magnitude pruning --------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The pruning pass that needs no calibration, so it lives with the other weight rewriters
// (the calibrated ones are in Calibrated/); what all pruning passes share is in Pruning.h.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/OptionChecks.h"
#include "passes/Transforms/Pruning.h"
#include "passes/Transforms/WeightRewriter.h"

#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Transforms/Passes.h"

namespace midllama {
#define GEN_PASS_DEF_LLMPRUNEMAGNITUDE
#include "midllama/Transforms/Passes.h.inc"
} // namespace midllama

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;

namespace {

struct LLMPruneMagnitudePass
    : CheckedOptionsPass<LLMPruneMagnitudePass, midllama::impl::LLMPruneMagnitudeBase> {
  using CheckedOptionsPass::CheckedOptionsPass;

  std::string checkOptions() const {
    const std::string name = "llm-prune-magnitude";
    if (std::string bad = checkPruningOptions(name, sparsity, given(sparsity), pattern, tail, comparison);
        !bad.empty())
      return bad;
    OptionChecker c(name);
    checkWeightSelection(c);
    return c.message();
  }

  void runOnOperation() override {
    std::string error;
    sparse::Pattern p;
    if (comparison != "row" && comparison != "layer")
      error = "llm-prune-magnitude: comparison must be row or layer (got '" + comparison + "')";
    if (error.empty() && parsePattern("llm-prune-magnitude", sparsity, pattern, tail, p, error)) {
      auto cmp = comparisonOf(comparison);
      auto encode = [&](const std::string &, WeightType type, const std::vector<float> &values,
                        EncodedWeight &out, std::string &why) {
        int64_t n = type.getShape()[0], k = type.getShape()[1];
        if (!sparse::checkPattern(p, k, why))
          return false;
        std::vector<uint8_t> mask =
            sparse::selectMask(sparse::magnitudeScores(values.data(), n, k), n, k, p, cmp);
        return encodePruned(type, sparse::applyMask(values.data(), mask), mask, p, out, why);
      };
      if (failed(rewriteWeights(getOperation(), "llm-prune-magnitude", include, exclude, output,
                                encode)))
        signalPassFailure();
      return;
    }
    failPass(error);
  }
};

} // namespace
