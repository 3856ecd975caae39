//===- GradientNorms.h - GBLM's gradient norms by a backward pass -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// G_ij = sqrt(Σ_n (α · ∂L_n/∂W_ij)²) (or, L1, Σ_n |α · ∂L_n/∂W_ij|, the reference code's
// other output) for every linear weight of a LLaMA decoder, L_n the
// mean causal-LM cross-entropy of calibration sample n (labels = the inputs shifted), as
// GBLM-Pruner's reference code computes it on the dense model (docs/algorithms.md). One
// sample at a time: a forward pass keeping each layer's activations,
// then the backward kernels of Backward.h; per-sample gradients are squared
// into the sums and dropped. Weights are found by their Hugging Face names.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_CALIBRATE_GRADIENTNORMS_H
#define MIDLLAMA_CALIBRATE_GRADIENTNORMS_H

#include "midllama/Calibrate/Calibrator.h"

#include <map>
#include <string>
#include <vector>

namespace midllama::calib {

/// How per-sample gradients are accumulated.
enum class GradientNorm { L1, L2 };

/// Fills `norms` (weight name → [N, K] values) for the decoder layers' projections, and
/// `meanLoss` with the samples' mean loss. False with a one-line `error` when the module's
/// weights are not named as Hugging Face names them or the data cannot be read.
bool computeGradientNorms(mlir::ModuleOp module, const CalibrationOptions &options,
                          double alpha, GradientNorm norm,
                          std::map<std::string, std::vector<float>> &norms,
                          double &meanLoss, std::string &error);

} // namespace midllama::calib

#endif // MIDLLAMA_CALIBRATE_GRADIENTNORMS_H
