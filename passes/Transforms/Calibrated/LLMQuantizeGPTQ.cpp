//===- LLMQuantizeGPTQ.cpp - GPTQ weight quantization ---------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Calibrates layer by layer (lib/Calibrate), quantizes every selected weight with GPTQ
// from its input's Hessian (lib/Quantize/GPTQ) and hands the result to the shared weight
// rewriter, which writes the #llm.affine layout RTN writes.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/SparseEncoding.h"
#include "passes/Transforms/Calibrated/CalibratedPass.h"
#include "passes/Transforms/OptionChecks.h"
#include "passes/Transforms/WeightRewriter.h"
#include "midllama/Params/ParamFiles.h"

#include "midllama/Calibrate/Calibrator.h"
#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Quantize/AWQ.h"
#include "midllama/Quantize/GPTQ.h"
#include "midllama/Transforms/Passes.h"

#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <sstream>

namespace midllama {
#define GEN_PASS_DEF_LLMQUANTIZEGPTQ
#include "midllama/Transforms/Passes.h.inc"
} // namespace midllama

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;

namespace {

constexpr const char *kPass = "llm-quantize-gptq";

struct LLMQuantizeGPTQPass
    : CalibratedPass<LLMQuantizeGPTQPass, midllama::impl::LLMQuantizeGPTQBase> {
  using CalibratedPass::CalibratedPass;

  std::string checkOptions() const {
    OptionChecker c(kPass);
    checkAffine(c)
        .inInterval("damp", damp, 0, /*loOpen=*/true, 1, /*hiOpen=*/false)
        .atLeast("block-size", int64_t(blockSize), 1)
        .oneOf("group-params", groupParams, {"updated", "block-start"});
    checkWeightSelection(checkCalibration(c));
    return c.message();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto selected = selectBeforeCalibrating(/*allowPruned=*/true);
    if (failed(selected))
      return;

    llvm::StringMap<EncodedWeight> encoded;
    auto compress = [&](const std::vector<std::string> &names, const calib::InputStats &stats,
                        std::vector<std::vector<float>> &compressed, std::string &why) {
      std::vector<float> h = stats.hessian();
      // The Hessian's factor once for every weight reading this input (q/k/v, gate/up).
      quant::GPTQHessian prepared;
      if (!quant::prepareGPTQHessian(h.data(), stats.k, damp, actOrder, prepared, why)) {
        why = "weights '" + llvm::join(names, "', '") + "': " + why;
        return false;
      }
      for (const std::string &name : names) {
        auto start = std::chrono::steady_clock::now();
        std::vector<float> w;
        std::vector<uint8_t> keep;
        if (!readWeightF32(module, name, w, why, &keep))
          return false;
        auto param = SymbolTable::lookupNearestSymbolFrom<ParamOp>(
            module, StringAttr::get(module.getContext(), name));
        bool pruned = bool(param.getWeightType().getSparsity());
        int64_t k = stats.k, n = int64_t(w.size()) / k;
        quant::GPTQOptions o;
        o.affine = {int(bits), std::min<int64_t>(groupSize, k), symmetric};
        o.damp = damp;
        o.blockSize = blockSize;
        o.actOrder = actOrder;
        o.groupsFromBlockStart = groupParams == "block-start";
        o.keep = pruned ? keep.data() : nullptr; // mask-aware: pruned weights stay zero
        quant::GPTQResult r;
        if (!quant::quantizeGPTQ(w.data(), n, k, prepared, o, r, why)) {
          why = "weight '" + name + "': " + why;
          return false;
        }
        std::vector<float> rtnValues = quant::roundTrip(w.data(), n, k, o.affine);
        double gptqError = quant::layerOutputError(w.data(), r.dequantized.data(), n, k, h.data());
        double rtnError = quant::layerOutputError(w.data(), rtnValues.data(), n, k, h.data());
        EncodedWeight e;
        if (pruned)
          encodeAffineSparse(param.getWeightType(), r.matrix, o.affine, keep, e);
        else
          encodeAffine(param.getWeightType(), r.matrix, o.affine, e);
        e.description = "int" + std::to_string(o.affine.bits) + " g" +
                        std::to_string(o.affine.groupSize) + (o.affine.symmetric ? " sym" : "") +
                        (actOrder ? " act-order" : "") +
                        (o.groupsFromBlockStart ? " block-start groups" : "") + " gptq" +
                        (pruned ? ", pruned mask kept" : "");
        e.millis = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                             start)
                       .count();
        llvm::errs() << kPass << ": " << name << ": output error " << llvm::format("%.4g", gptqError)
                     << " (RTN " << llvm::format("%.4g", rtnError) << ")"
                     << (r.deadColumns ? ", " + std::to_string(r.deadColumns) + " dead inputs"
                                       : std::string())
                     << "\n";
        encoded[name] = std::move(e);
        compressed.push_back(std::move(r.dequantized));
      }
      return true;
    };
    std::string error;
    if (!calib::calibrateLayerwise(module, calibrationOptions(/*hessian=*/true), *selected,
                                   trueSequential, kPass, compress, error))
      return failPass(error);
    (void)rewriteCalibrated(encoded, /*allowPruned=*/true);
  }
};

} // namespace
