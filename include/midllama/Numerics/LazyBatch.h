//===- LazyBatch.h - GPTQ/SparseGPT's block error update ---------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// GPTQ and SparseGPT walk a weight's columns in blocks; inside a block each column's error
// reaches the block's later columns at once, and when the block is done its errors reach
// every later column in one product ("lazy batch" updates, GPTQ §3 step 2):
//   W[:, i2:] -= E · U[i1:i2, i2:]
// with E [n, i2 - i1] the block's scaled errors and U the upper Cholesky factor of H⁻¹.
// One fp32 matrix product, as the reference implementations compute it.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_NUMERICS_LAZYBATCH_H
#define MIDLLAMA_NUMERICS_LAZYBATCH_H

#include <cstddef>
#include <cstdint>
#include <vector>

namespace midllama::numerics {

/// W[r][c] -= Σ_i err[r * errStride + (i - i1)] · U[i][c] for i in [i1, i2), c in [i2, k),
/// r in [0, n); `w` row-major [n, k], `u` row-major [k, k].
void applyBlockErrors(float *w, int64_t n, int64_t k, const float *err, int64_t errStride,
                      const std::vector<double> &u, int64_t i1, int64_t i2);

} // namespace midllama::numerics

#endif // MIDLLAMA_NUMERICS_LAZYBATCH_H
