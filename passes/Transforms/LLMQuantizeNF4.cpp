//===- LLMQuantizeNF4.cpp - NormalFloat4 weight quantization --------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// QLoRA's 4-bit NormalFloat data type, data-free like RTN; numerics in lib/Quantize/NF4.cpp
// (bit-exact with bitsandbytes), selection and the parameter file in WeightRewriter.
// A pruned weight keeps its mask: when its layout stores only the kept values, the NF4
// blocks run over that stream (so a block's absmax is that of kept weights, and no code is
// spent on a zero); when it is stored dense, its zeros take NF4's exact-zero code.
//
//===----------------------------------------------------------------------===//

#include "OptionChecks.h"
#include "SparseEncoding.h"
#include "WeightRewriter.h"

#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Quantize/NF4.h"
#include "midllama/Transforms/Passes.h"

#include <cstring>

namespace midllama {
#define GEN_PASS_DEF_LLMQUANTIZENF4
#include "midllama/Transforms/Passes.h.inc"
} // namespace midllama

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;

namespace {

std::vector<uint8_t> floatBytes(const std::vector<float> &v) {
  std::vector<uint8_t> out(v.size() * 4);
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

struct LLMQuantizeNF4Pass
    : CheckedOptionsPass<LLMQuantizeNF4Pass, midllama::impl::LLMQuantizeNF4Base> {
  using CheckedOptionsPass::CheckedOptionsPass;

  std::string checkOptions() const {
    OptionChecker c("llm-quantize-nf4");
    int64_t b = blockSize;
    c.require(b >= 32 && b <= 4096 && !(b & (b - 1)),
              "block-size must be a power of two from 32 to 4096 (got " + std::to_string(b) +
                  ")");
    checkWeightSelection(c);
    return c.message();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto encode = [&](const std::string &name, WeightType type, const std::vector<float> &values,
                      EncodedWeight &out, std::string &why) {
      // The value stream: every value, or a pruned weight's kept values in row order.
      std::vector<float> kept;
      const std::vector<float> *stream = &values;
      std::vector<EncodedWeight::Component> index;
      out.description = "nf4 b" + std::to_string(int64_t(blockSize)) + (doubleQuant ? " dq" : "");
      if (type.getSparsity()) {
        std::vector<float> ignored;
        std::vector<uint8_t> keep;
        if (!readWeightF32(module, name, ignored, why, &keep))
          return false;
        if (storesOnlyKept(type, keep, index)) {
          for (size_t i = 0; i < values.size(); ++i)
            if (keep[i])
              kept.push_back(values[i]);
          stream = &kept;
        }
        out.description += ", pruned mask kept";
      }
      int64_t total = int64_t(stream->size());
      quant::NF4Tensor t = quant::quantizeNF4(stream->data(), total, blockSize, doubleQuant);
      out.type = type.withFormat(NF4Attr::get(&getContext(), blockSize, doubleQuant, 256));
      int64_t blocks = (total + blockSize - 1) / blockSize;
      out.components.push_back(
          {".qweight", rt::DType::U8, {int64_t(t.codes.size())}, std::move(t.codes)});
      if (doubleQuant) {
        out.components.push_back({".absmax", rt::DType::U8, {blocks}, std::move(t.qabsmax)});
        out.components.push_back({".absmax_scale", rt::DType::F32,
                                  {int64_t(t.absmaxScale.size())}, floatBytes(t.absmaxScale)});
        out.components.push_back(
            {".absmax_offset", rt::DType::F32, {1}, floatBytes({t.absmaxOffset})});
      } else {
        out.components.push_back({".absmax", rt::DType::F32, {blocks}, floatBytes(t.absmax)});
      }
      for (EncodedWeight::Component &c : index)
        out.components.push_back(std::move(c));
      return true;
    };
    if (failed(rewriteWeights(module, "llm-quantize-nf4", include, exclude, output, encode,
                              /*dense=*/nullptr, /*allowPruned=*/true)))
      return signalPassFailure();
  }
};

} // namespace
