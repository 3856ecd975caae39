//===- GPTQ.h - GPTQ weight quantization numerics ---------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// GPTQ (Frantar et al., "GPTQ: Accurate Post-Training Quantization for Generative
// Pre-trained Transformers", ICLR 2023; docs/algorithms.md): quantizes the
// columns of W one at a time and moves each column's rounding error onto the columns not
// yet quantized, weighted by the inverse Hessian of the layer's squared output error
// H = 2/n Σ x xᵀ, so the layer's output WX changes as little as it can. The inverse is
// taken once as the upper Cholesky factor of H⁻¹; columns go in blocks whose errors reach
// the later columns in one product ("lazy batch" updates).
//
// Act-order quantizes columns by decreasing H_jj. Its groups are static: their scales come
// from the weights before any update, in the original column order, so the stored layout
// is the plain `#llm.affine` one (no g_idx) and every kernel reads it unchanged.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_QUANTIZE_GPTQ_H
#define MIDLLAMA_QUANTIZE_GPTQ_H

#include "midllama/Quantize/Affine.h"

#include <string>
#include <vector>

namespace midllama::quant {

struct GPTQOptions {
  AffineParams affine;
  double damp = 0.01;     // λ: H += λ · mean(diag H) · I
  int64_t blockSize = 128; // columns per lazy-batch block
  bool actOrder = false;
  /// Without act-order: a group's scale and zero point from the weights as its lazy-batch
  /// block started (the reference gptq.py, which reads W, not the block's updated copy),
  /// rather than from the error-updated weights when the group starts (our default).
  /// Differs only for groups starting inside a block (group size < block size).
  bool groupsFromBlockStart = false;
  /// Mask-aware GPTQ for a pruned weight ([n, k], 1 = kept; null: dense): pruned weights
  /// stay exactly 0, their error is moved onto the later kept weights like rounding
  /// errors, and group ranges come from kept weights only.
  const uint8_t *keep = nullptr;
};

struct GPTQResult {
  AffineMatrix matrix;           // codes, scales, zero points in the #llm.affine layout
  std::vector<float> dequantized; // [n, k], what the runtime computes with
  int64_t deadColumns = 0;       // inputs never active (H_jj = 0), their weights zeroed
};

/// What GPTQ derives from a Hessian alone, computed once for all the weights that read the
/// same input (q/k/v, gate/up): the processing order, the inputs that never fire, and the
/// upper Cholesky factor of the damped H⁻¹ in that order.
struct GPTQHessian {
  int64_t k = 0;
  double damp = 0;
  bool actOrder = false;
  std::vector<int64_t> perm; // processing position -> input column
  std::vector<int64_t> dead; // columns with H_jj = 0
  std::vector<double> u;     // [k, k], processing order
};

/// Prepares `h` ([k, k], symmetric) with `damp` (and act-order's column order). False with
/// `error` set when H + damping is not positive definite (raise `damp`).
bool prepareGPTQHessian(const float *h, int64_t k, double damp, bool actOrder,
                        GPTQHessian &prepared, std::string &error);

/// Quantizes the row-major [n, k] `w` with a prepared Hessian (its damping and act-order;
/// `options.damp` and `options.actOrder` must be those it was prepared with).
bool quantizeGPTQ(const float *w, int64_t n, int64_t k, const GPTQHessian &hessian,
                  const GPTQOptions &options, GPTQResult &result, std::string &error);

/// Quantizes the row-major [n, k] `w` with the Hessian `h` ([k, k], symmetric). False with
/// `error` set when H + damping is not positive definite (raise `damp`).
bool quantizeGPTQ(const float *w, int64_t n, int64_t k, const float *h,
                  const GPTQOptions &options, GPTQResult &result, std::string &error);

/// ‖(W − Q) X‖² / rows for the Hessian's X: the layer's output error, from H alone
/// (tr(D H Dᵀ) / 2 with D = W − Q and H = 2/n XᵀX).
double layerOutputError(const float *w, const float *q, int64_t n, int64_t k, const float *h);

/// layerOutputError row by row: entry i is ½ (w_i − q_i) H (w_i − q_i)ᵀ, the mean squared
/// error of output channel i (their sum is layerOutputError).
std::vector<double> layerOutputErrorPerRow(const float *w, const float *q, int64_t n, int64_t k,
                                           const float *h);

} // namespace midllama::quant

#endif // MIDLLAMA_QUANTIZE_GPTQ_H
