//===- Int8Outliers.h - LLM.int8() weight numerics --------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// LLM.int8() (Dettmers et al., "LLM.int8(): 8-bit Matrix Multiplication for Transformers
// at Scale", NeurIPS 2022; docs/algorithms.md): the few input features whose
// activations reach the outlier threshold are multiplied in fp16; everything else in int8,
// activations per row (absmax) and weights per output row (absmax), accumulated in int32.
// bitsandbytes finds the outlier columns in every batch at run time; here calibration
// finds them once (any |x| ≥ threshold over the calibration tokens), so the stored weight
// is one dense int8 matrix (outlier columns zero) plus a small fp16 block, and the kernel
// needs no per-batch decomposition. Layout: `#llm.int8_outliers` in docs/weights.md.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_QUANTIZE_INT8OUTLIERS_H
#define MIDLLAMA_QUANTIZE_INT8OUTLIERS_H

#include <cstdint>
#include <vector>

namespace midllama::quant {

struct Int8OutlierMatrix {
  std::vector<int64_t> columns;  // outlier input columns, sorted
  std::vector<int8_t> q;         // [n, k], outlier columns 0
  std::vector<float> rowScale;   // [n]: absmax of the row's other columns / 127
  std::vector<uint16_t> outliers; // [n, columns.size()] fp16
};

/// The input columns j with maxAbs[j] ≥ threshold, sorted.
std::vector<int64_t> outlierColumns(const std::vector<float> &maxAbs, float threshold);

/// Splits the row-major [n, k] `w`.
Int8OutlierMatrix quantizeInt8Outliers(const float *w, int64_t n, int64_t k,
                                       const std::vector<int64_t> &columns);

/// The weight as the int8 and fp16 parts stand for it: q · rowScale, outliers from fp16.
std::vector<float> dequantizeInt8Outliers(const Int8OutlierMatrix &m, int64_t n, int64_t k);

/// y = x Wᵀ as LLM.int8() computes it, for [rows, k] x: each row's non-outlier columns
/// quantized to int8 by its absmax, int32 dot products with q, rescaled by the two scales;
/// plus the outlier columns of x rounded to fp16 times the fp16 weights, in fp32.
void int8OutlierMatmulReference(const float *x, int64_t rows, const Int8OutlierMatrix &m,
                                int64_t n, int64_t k, float *y);

} // namespace midllama::quant

#endif // MIDLLAMA_QUANTIZE_INT8OUTLIERS_H
