//===- CalibratedPass.h - What every calibrated pass does around its method -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// GPTQ, AWQ, LLM.int8(), Wanda, SparseGPT and GBLM declare the same CalibrationOptions and
// WeightSelectionOptions (Passes.td) and start and end alike: refuse an output they may not
// write before minutes of calibration, select the weights, calibrate with lib/Calibrate,
// then hand what the method encoded to the weight rewriter. This base says it once; the
// pass's own runOnOperation keeps only its method.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_PASSES_TRANSFORMS_CALIBRATED_CALIBRATEDPASS_H
#define MIDLLAMA_PASSES_TRANSFORMS_CALIBRATED_CALIBRATEDPASS_H

#include "passes/Transforms/OptionChecks.h"
#include "passes/Transforms/WeightRewriter.h"

#include "midllama/Calibrate/Calibrator.h"
#include "midllama/Params/ParamFiles.h"

#include "llvm/ADT/StringMap.h"

#include <map>
#include <string>
#include <vector>

namespace midllama {

template <typename Derived, template <typename> class GeneratedBase>
struct CalibratedPass : CheckedOptionsPass<Derived, GeneratedBase> {
  using Checked = CheckedOptionsPass<Derived, GeneratedBase>;
  using Checked::Checked;

  /// The pass's flag, which prefixes its messages ("llm-quantize-gptq: ...").
  std::string passName() const { return this->getArgument().str(); }

  /// The calibration settings from the pass's CalibrationOptions; `hessian`: gather XᵀX.
  calib::CalibrationOptions calibrationOptions(bool hessian) const {
    return calib::CalibrationOptions(this->calib, this->samples, this->seqLen, this->seed,
                                     this->calibBatch, this->tokenizer, hessian);
  }

  /// Before calibrating: the output may be written (a refusal after minutes of work helps
  /// nobody) and `include`/`exclude` select at least one weight. Fails the pass with the
  /// reason otherwise.
  mlir::FailureOr<std::vector<std::string>> selectBeforeCalibrating(bool allowPruned) {
    mlir::ModuleOp module = this->getOperation();
    std::string error;
    if (!checkPassOutput(module, this->output, error)) {
      this->failPass(passName() + ": " + error);
      return mlir::failure();
    }
    std::vector<std::string> selected;
    mlir::Operation *culprit = nullptr; // the llm.param an error is about, if one
    if (!selectWeights(module, passName(), this->include, this->exclude, selected, error,
                       allowPruned, &culprit)) {
      mlir::emitError(culprit ? culprit->getLoc() : module.getLoc()) << error;
      this->signalPassFailure();
      return mlir::failure();
    }
    return selected;
  }

  /// After calibrating: rewrites the selected weights with what the method `encoded`
  /// (and `dense`, new fp32 values of weights kept unquantized). Fails the pass otherwise.
  mlir::LogicalResult
  rewriteCalibrated(llvm::StringMap<EncodedWeight> &encoded, bool allowPruned,
                    const std::map<std::string, std::vector<float>> *dense = nullptr) {
    if (mlir::succeeded(rewriteWeights(this->getOperation(), passName(), this->include,
                                       this->exclude, this->output,
                                       precomputedEncoder(encoded), dense, allowPruned)))
      return mlir::success();
    this->signalPassFailure(); // rewriteWeights said why
    return mlir::failure();
  }
};

} // namespace midllama

#endif // MIDLLAMA_PASSES_TRANSFORMS_CALIBRATED_CALIBRATEDPASS_H
