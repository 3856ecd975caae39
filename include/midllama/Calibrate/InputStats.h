//===- InputStats.h - Statistics of a linear layer's inputs -----*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// What the calibrated methods need to know about the activations X [rows, K] a linear
// layer reads (docs/algorithms.md): GPTQ and SparseGPT the Hessian XᵀX, AWQ and
// Wanda the mean |x| per input channel, Wanda the norm per input channel, LLM.int8() the largest |x| per channel. Layers that
// read the same input (q/k/v, gate/up) share one InputStats.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_CALIBRATE_INPUTSTATS_H
#define MIDLLAMA_CALIBRATE_INPUTSTATS_H

#include <cstdint>
#include <vector>

namespace midllama::calib {

struct InputStats {
  explicit InputStats(int64_t k = 0, bool hessian = true);

  int64_t k = 0;    // input channels
  int64_t rows = 0; // tokens seen
  bool hasHessian = true;
  std::vector<double> xtx;    // Σ x xᵀ, [K, K] row-major, both triangles (hasHessian)
  std::vector<double> sumAbs; // Σ |x_j|
  std::vector<double> sumSq;  // Σ x_j² (Wanda's ‖X_j‖₂²)
  std::vector<float> maxAbs;  // max |x_j|

  /// Adds `count` rows of `x` (row-major [count, K]).
  void add(const float *x, int64_t count);

  /// GPTQ's Hessian, H = (2 / rows) Σ x xᵀ, as fp32 [K, K].
  std::vector<float> hessian() const;
  /// mean |x_j| over the rows seen.
  std::vector<float> meanAbs() const;
};

} // namespace midllama::calib

#endif // MIDLLAMA_CALIBRATE_INPUTSTATS_H
