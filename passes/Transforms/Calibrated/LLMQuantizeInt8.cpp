//===- LLMQuantizeInt8.cpp - LLM.int8() with calibrated outlier columns ----===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Finds each linear layer's outlier input columns on calibration data (lib/Calibrate:
// the largest |x| per channel, layer by layer) and splits its weight into int8 rows and
// fp16 outlier columns (lib/Quantize/Int8Outliers). The runtime then quantizes activations
// per row to int8 as LLM.int8() does, with the outlier columns in fp16.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Calibrated/CalibratedPass.h"
#include "passes/Transforms/OptionChecks.h"
#include "passes/Transforms/SparseEncoding.h"
#include "passes/Transforms/WeightRewriter.h"
#include "midllama/Params/ParamFiles.h"

#include "midllama/Calibrate/Calibrator.h"
#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Quantize/Int8Outliers.h"
#include "midllama/Transforms/Passes.h"

#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstring>
#include <sstream>

namespace midllama {
#define GEN_PASS_DEF_LLMQUANTIZEINT8
#include "midllama/Transforms/Passes.h.inc"
} // namespace midllama

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;

namespace {

constexpr const char *kPass = "llm-quantize-int8";

struct LLMQuantizeInt8Pass
    : CalibratedPass<LLMQuantizeInt8Pass, midllama::impl::LLMQuantizeInt8Base> {
  using CalibratedPass::CalibratedPass;

  std::string checkOptions() const {
    OptionChecker c(kPass);
    c.atLeast("threshold", double(threshold), 0.0);
    checkWeightSelection(checkCalibration(c));
    return c.message();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto selected = selectBeforeCalibrating(/*allowPruned=*/true);
    if (failed(selected))
      return;

    llvm::StringMap<EncodedWeight> encoded;
    EncodedSpill spill; // each layer's encodings on disk until the rewrite
    auto compress = [&](const std::vector<std::string> &names, const calib::InputStats &stats,
                        std::vector<std::vector<float>> &compressed, std::string &why) {
      std::vector<int64_t> columns = quant::outlierColumns(stats.maxAbs, float(threshold));
      float largest = 0;
      for (float v : stats.maxAbs)
        largest = std::max(largest, v);
      llvm::errs() << kPass << ": " << names[0]
                   << (names.size() > 1 ? " (+" + std::to_string(names.size() - 1) + ")" : "")
                   << ": " << columns.size() << " of " << stats.k
                   << " input columns reach |x| >= " << llvm::format("%g", double(threshold)) << " (largest "
                   << llvm::format("%.3g", largest) << ")\n";
      for (const std::string &name : names) {
        auto start = std::chrono::steady_clock::now();
        std::vector<float> w;
        std::vector<uint8_t> keep;
        if (!readWeightF32(module, name, w, why, &keep))
          return false;
        int64_t k = stats.k, n = int64_t(w.size()) / k;
        quant::Int8OutlierMatrix m = quant::quantizeInt8Outliers(w.data(), n, k, columns);
        auto param = SymbolTable::lookupNearestSymbolFrom<ParamOp>(
            module, StringAttr::get(module.getContext(), name));
        EncodedWeight e;
        e.type = param.getWeightType().withFormat(Int8OutliersAttr::get(
            module.getContext(), DenseI64ArrayAttr::get(module.getContext(), columns)));
        std::vector<uint8_t> q(m.q.size()), scales(m.rowScale.size() * 4),
            outliers(m.outliers.size() * 2);
        std::memcpy(q.data(), m.q.data(), q.size());
        std::memcpy(scales.data(), m.rowScale.data(), scales.size());
        std::memcpy(outliers.data(), m.outliers.data(), outliers.size());
        std::vector<uint8_t> denseCodes = q; // pruned weights quantize to 0: a mask is kept
        e.components.push_back({".qweight", rt::DType::I8, {n, k}, std::move(q)});
        e.components.push_back({".row_scale", rt::DType::F32, {n}, std::move(scales)});
        if (!columns.empty())
          e.components.push_back({".outliers", rt::DType::F16,
                                  {n, int64_t(columns.size())}, std::move(outliers)});
        e.description = "int8 + " + std::to_string(columns.size()) + " fp16 columns";
        if (param.getWeightType().getSparsity()) {
          WeightType t = e.type;
          keepOnlyKeptCodes(t, keep, denseCodes, k, 8, rt::DType::I8, e);
          e.type = t;
          e.description += ", pruned mask kept";
        }
        e.millis = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                             start)
                       .count();
        if (!spill.spill(e, why))
          return false;
        encoded[name] = std::move(e);
        compressed.push_back(quant::dequantizeInt8Outliers(m, n, k));
      }
      return true;
    };
    std::string error;
    if (!calib::calibrateLayerwise(module, calibrationOptions(/*hessian=*/false), *selected,
                                   /*trueSequential=*/false, kPass, compress, error))
      return failPass(error);
    (void)rewriteCalibrated(encoded, /*allowPruned=*/true);
  }
};

} // namespace
