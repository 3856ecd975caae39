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

#include "WeightRewriter.h"

#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Quantize/Affine.h"
#include "midllama/Transforms/Passes.h"

#include <cstring>

namespace midllama {
#define GEN_PASS_DEF_LLMQUANTIZERTN
#include "midllama/Transforms/Passes.h.inc"
} // namespace midllama

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;

namespace {

struct LLMQuantizeRTNPass : midllama::impl::LLMQuantizeRTNBase<LLMQuantizeRTNPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto fail = [&](const Twine &message) {
      module.emitError() << message;
      signalPassFailure();
    };
    if (bits < 2 || bits > 8)
      return fail("llm-quantize-rtn: bits must be 2 to 8 (got " + Twine(int(bits)) + ")");
    if (groupSize < 1)
      return fail("llm-quantize-rtn: group-size must be at least 1 (got " +
                  Twine(int64_t(groupSize)) + ")");
    auto encode = [&](const std::string &, WeightType type, const std::vector<float> &values,
                      EncodedWeight &out, std::string &) {
      int64_t n = type.getShape()[0], k = type.getShape()[1];
      quant::AffineParams p{int(bits), std::min<int64_t>(groupSize, k), symmetric};
      quant::AffineMatrix m = quant::quantizeRTN(values.data(), n, k, p);
      out.type = type.withFormat(AffineQuantAttr::get(&getContext(), unsigned(p.bits),
                                                      p.groupSize, p.symmetric,
                                                      /*act_order=*/false));
      out.description = "int" + std::to_string(p.bits) + " g" + std::to_string(p.groupSize) +
                        (p.symmetric ? " sym" : "");
      std::vector<int64_t> perGroup = {n, m.groups};
      out.components.push_back({".qweight", rt::DType::U8, {n, m.rowBytes}, std::move(m.codes)});
      std::vector<uint8_t> scales;
      if (type.getElementType().isF16()) {
        scales.resize(m.scales.size() * 2);
        for (size_t i = 0; i < m.scales.size(); ++i) {
          uint16_t h = floatToHalf(m.scales[i]);
          std::memcpy(&scales[2 * i], &h, 2);
        }
        out.components.push_back({".scales", rt::DType::F16, perGroup, std::move(scales)});
      } else {
        scales.resize(m.scales.size() * 4);
        std::memcpy(scales.data(), m.scales.data(), scales.size());
        out.components.push_back({".scales", rt::DType::F32, perGroup, std::move(scales)});
      }
      if (!p.symmetric)
        out.components.push_back({".zeros", rt::DType::U8, perGroup, std::move(m.zeros)});
      return true;
    };
    std::string error;
    if (!rewriteWeights(module, "llm-quantize-rtn", include, exclude, output, encode, error))
      return fail(error);
  }
};

} // namespace
