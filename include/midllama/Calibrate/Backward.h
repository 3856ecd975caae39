//===- Backward.h - Reverse-mode kernels for the decoder's ops -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Gradients of the causal-LM loss through the ops of a LLaMA decoder, for GBLM's gradient
// norms (docs/algorithms.md): each kernel takes its forward inputs and the
// gradient of its output and returns (or accumulates, +=) the gradients of its inputs and,
// for linear layers, of the weight. fp32, one sequence at a time, straightforward loops
// (the linear layers' products on the runtime's GEMM): calibration-time code, checked
// against finite differences (BackwardTest), kept out of the runtime that ships. Conventions are the forward kernels' (runtime/cpu/Kernels.h): rows of `width` values, weights [N, K] row-major.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_CALIBRATE_BACKWARD_H
#define MIDLLAMA_CALIBRATE_BACKWARD_H

#include "runtime/cpu/Kernels.h"

#include <cstdint>

namespace midllama::calib::backward {

using rt::cpu::AttentionParams;

/// y = x Wᵀ: dx += dy W ([rows, k]); dW += dyᵀ x ([n, k], skipped when null).
void linear(const float *x, const float *w, const float *dy, int64_t rows, int64_t n, int64_t k,
            float *dx, float *dw);

/// y = g ⊙ x / sqrt(mean(x²) + eps) per row: dx += ∂L/∂x.
void rmsNorm(const float *x, const float *g, const float *dy, int64_t rows, int64_t width,
             float eps, float *dx);

/// y = silu(gate) · up: dgate += dy · up · silu'(gate), dup += dy · silu(gate).
void swiglu(const float *gate, const float *up, const float *dy, int64_t count, float *dgate,
            float *dup);

/// Rotary embedding of `rows` tokens at positions 0..rows-1 (as the forward kernel rotates
/// them), applied in place to `x` [rows, heads * headDim]; `inverse` rotates back, which is
/// also the backward of the rotation (it is orthogonal).
void rotary(float *x, int64_t rows, int64_t heads, const AttentionParams &p, bool inverse);

/// Causal attention of `rows` tokens from an empty cache (q [rows, heads·d], k and v [rows,
/// kvHeads·d], already rotated), out = softmax(scale · q kᵀ) v per head, query head h reading
/// KV head h / (heads / kvHeads): dq, dk, dv += the gradients for dout.
void attention(const float *q, const float *k, const float *v, const float *dout, int64_t rows,
               const AttentionParams &p, float *dq, float *dk, float *dv);

/// Mean cross-entropy of `rows` logits rows against `labels` (entries < 0 are not counted):
/// returns the loss, writes dlogits = (softmax − onehot) / counted.
double crossEntropy(const float *logits, const int32_t *labels, int64_t rows, int64_t vocab,
                    float *dlogits);

} // namespace midllama::calib::backward

#endif // MIDLLAMA_CALIBRATE_BACKWARD_H
