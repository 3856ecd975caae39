//===- LLMQuantizeRTN.cpp - Round-to-nearest weight quantization ----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The simplest weight quantizer and the baseline GPTQ and AWQ must beat: every group of
// input columns gets its scale (and zero point) from its own range, and every weight is
// rounded to the nearest code. No calibration data. The numerics live in
// lib/Quantize/Affine.cpp, shared with the calibrated methods; selection, the parameter
// file and progress in WeightRewriter.
//
//===----------------------------------------------------------------------===//

#include "OptionChecks.h"
#include "SparseEncoding.h"
#include "WeightRewriter.h"

#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Quantize/Affine.h"
#include "midllama/Transforms/Passes.h"

namespace midllama {
#define GEN_PASS_DEF_LLMQUANTIZERTN
#include "midllama/Transforms/Passes.h.inc"
} // namespace midllama

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;

namespace {

struct LLMQuantizeRTNPass
    : CheckedOptionsPass<LLMQuantizeRTNPass, midllama::impl::LLMQuantizeRTNBase> {
  using CheckedOptionsPass::CheckedOptionsPass;

  std::string checkOptions() const {
    OptionChecker c("llm-quantize-rtn");
    checkAffine(c);
    checkWeightSelection(c);
    return c.message();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto encode = [&](const std::string &name, WeightType type, const std::vector<float> &values,
                      EncodedWeight &out, std::string &why) {
      int64_t n = type.getShape()[0], k = type.getShape()[1];
      quant::AffineParams p{int(bits), std::min<int64_t>(groupSize, k), symmetric};
      // A pruned weight's zeros round to the zero point (every range holds 0), so they stay
      // zeros; only the kept values' codes are stored.
      quant::AffineMatrix m = quant::quantizeRTN(values.data(), n, k, p);
      out.description = "int" + std::to_string(p.bits) + " g" + std::to_string(p.groupSize) +
                        (p.symmetric ? " sym" : "");
      if (!type.getSparsity()) {
        encodeAffine(type, m, p, out);
        return true;
      }
      std::vector<float> ignored;
      std::vector<uint8_t> keep;
      if (!readWeightF32(module, name, ignored, why, &keep))
        return false;
      encodeAffineSparse(type, m, p, keep, out);
      out.description += ", pruned mask kept";
      return true;
    };
    if (failed(rewriteWeights(module, "llm-quantize-rtn", include, exclude, output, encode,
                              /*dense=*/nullptr, /*allowPruned=*/true)))
      return signalPassFailure();
  }
};

} // namespace
