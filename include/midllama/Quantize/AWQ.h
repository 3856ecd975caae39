//===- AWQ.h - Activation-aware weight quantization numerics ----*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// AWQ (Lin et al., "AWQ: Activation-aware Weight Quantization for LLM Compression and
// Acceleration", MLSys 2024; docs/algorithms.md). A few input channels carry
// much larger activations than the rest; scaling their weight columns up by s before
// quantization (and the activations down by s, folded into the op before) gives them finer
// steps. s = (mean|x|)^α, normalized, with α picked on a grid by the block's output error.
// Then each output row's groups may be clipped to a smaller range when that lowers the
// group's output error. These are the numerics; the pass (LLMQuantizeAWQ.cpp) runs the
// search over the model's blocks and folds the scales.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_QUANTIZE_AWQ_H
#define MIDLLAMA_QUANTIZE_AWQ_H

#include "midllama/Quantize/Affine.h"

#include <functional>
#include <vector>

namespace midllama::quant {

/// s_j = max(meanAbs_j^α, 1e-4), divided by sqrt(max(s) · min(s)).
std::vector<float> awqScales(const std::vector<float> &meanAbs, double alpha);

/// The grid α = i / grid, i = 0 .. grid - 1.
std::vector<double> awqAlphaGrid(int grid);

/// Q(W · diag(s)) · diag(s)⁻¹ for the row-major [n, k] `w`, Q round-to-nearest with `p`:
/// what the layer computes once the scales are folded and the weight quantized.
std::vector<float> quantizeScaled(const float *w, int64_t n, int64_t k,
                                  const std::vector<float> &s, const AffineParams &p);

/// The dequantized values of an RTN-quantized `w` (the AffineMatrix it would store).
std::vector<float> roundTrip(const float *w, int64_t n, int64_t k, const AffineParams &p);

/// Clip search: for every output row and group of the row-major [n, k] `w`, tries the
/// ranges max|w|·(1 − i/grid), i = 0 .. steps − 1, clamps w to ±range, and keeps the one
/// whose quantized group gives the smallest mean squared partial output Σ_{j∈group} x_j w_j
/// over the `rows` sample inputs `x` ([rows, k]). Clamps `w` in place; returns how many
/// (row, group) pairs were clipped.
int64_t clipSearch(float *w, int64_t n, int64_t k, const float *x, int64_t rows,
                   const AffineParams &p, int grid = 20, int steps = 10);

} // namespace midllama::quant

#endif // MIDLLAMA_QUANTIZE_AWQ_H
