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

/// The diagonal Fisher information of every decoder projection's output, for the recipe
/// search's loss estimate: `fisher[name][i]` = the mean over the calibration tokens of
/// (∂ℓ/∂y_i)², ℓ a sample's summed causal-LM cross-entropy and y_i output channel i of
/// weight `name`. With the Fisher in place of the Hessian and its off-diagonal terms
/// dropped, ½ Σ_i F_i E[Δy_i²] estimates the increase of the mean token loss (nats) from
/// an output error Δy (the weighting of BRECQ, Li et al. 2021, §3.2). Same inputs and
/// errors as computeGradientNorms; one backward pass per sample, no weight gradients.
bool computeOutputFisher(mlir::ModuleOp module, const CalibrationOptions &options,
                         std::map<std::string, std::vector<double>> &fisher,
                         double &meanLoss, std::string &error);

} // namespace midllama::calib

#endif // MIDLLAMA_CALIBRATE_GRADIENTNORMS_H
