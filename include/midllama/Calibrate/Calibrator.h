//===- Calibrator.h - Layer-by-layer calibration of an llm module -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The driver every calibrated compression pass shares (GPTQ, AWQ, LLM.int8(), Wanda,
// SparseGPT, GBLM). It compiles a copy of the module for the CPU runtime, samples the
// calibration data, and goes through the decoder layers in order (LayerRunner.h): for each
// group of selected linear layers that read one input it gathers that input's statistics
// (InputStats.h), hands them to the method, and runs the rest of the model on what the
// method returns (the compressed weights as fp32), so each layer is calibrated on the
// outputs of the already-compressed layers before it. With `trueSequential`, groups inside
// a layer are handled the same way, one after the other (q/k/v, then o, then gate/up, then
// down), as GPTQ's `true-sequential` option does.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_CALIBRATE_CALIBRATOR_H
#define MIDLLAMA_CALIBRATE_CALIBRATOR_H

#include "midllama/Calibrate/InputStats.h"
#include "midllama/Calibrate/LayerRunner.h"
#include "runtime/Model.h"

#include "mlir/IR/BuiltinOps.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace midllama::calib {

struct CalibrationOptions {
  CalibrationOptions() = default;
  /// From the calibration options every calibrated pass declares.
  CalibrationOptions(std::string data, int64_t samples, int64_t length, uint64_t seed,
                     int64_t batch, std::string tokenizer, bool hessian)
      : data(std::move(data)), samples(samples), length(length), seed(seed), batch(batch),
        tokenizer(std::move(tokenizer)), hessian(hessian) {}

  std::string data;      // text file, or a `.tokens` file of ids
  int64_t samples = 128; // windows drawn from it
  int64_t length = 256;  // tokens per window (at most the model's context)
  uint64_t seed = 0;
  int64_t batch = 8;     // windows run together
  std::string tokenizer; // default: found beside the module's files (midllama-compile's rule)
  bool hessian = true;   // gather XᵀX (GPTQ, SparseGPT)
};

/// Compresses the weights `names` (selected linear layers reading one input, as fp32
/// [N, K] each) given that input's statistics: fills `compressed` with each weight as the
/// runtime will compute with it. False with `error` to stop.
using GroupCompressor =
    std::function<bool(const std::vector<std::string> &names, const InputStats &stats,
                       std::vector<std::vector<float>> &compressed, std::string &error)>;

/// Compiles a copy of `module` for the CPU runtime (a temporary artifact, removed once
/// mapped) and loads it; `layerOfWeight[i]` gets the decoder layer reading program weight i
/// (-1: none). Null with `error` set when it cannot.
std::unique_ptr<rt::Model> compileForCalibration(mlir::ModuleOp module,
                                                 const std::string &tokenizer,
                                                 std::vector<int64_t> &layerOfWeight,
                                                 std::string &error);

/// A compiled copy of the module and a runner over the sampled calibration data, for
/// methods that drive the layers themselves (AWQ searches its scales by re-running blocks).
struct CalibrationContext {
  std::unique_ptr<rt::Model> model;
  std::unique_ptr<LayerRunner> runner;
};

/// Checks the options, compiles the module, samples the data and runs the prologue. False
/// with a one-line `error` (prefixed with `passName`) when it cannot.
bool openCalibration(mlir::ModuleOp module, const CalibrationOptions &options,
                     const std::string &passName, CalibrationContext &context,
                     std::string &error);

/// Runs `compress` over every selected weight (`selected`: parameter names, each read only
/// as a linear layer's weight), layer by layer. Prints progress (time per layer) to stderr,
/// prefixed with `passName`. False with a one-line `error` when the data, the tokenizer or
/// the model cannot be calibrated, or the method fails.
bool calibrateLayerwise(mlir::ModuleOp module, const CalibrationOptions &options,
                        const std::vector<std::string> &selected, bool trueSequential,
                        const std::string &passName, const GroupCompressor &compress,
                        std::string &error);

} // namespace midllama::calib

#endif // MIDLLAMA_CALIBRATE_CALIBRATOR_H
