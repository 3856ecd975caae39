//===- Cholesky.h - Inverse-Hessian factors for OBS-style methods -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// GPTQ and SparseGPT both walk the columns of a weight, moving each column's error onto
// the later ones through the upper Cholesky factor U of H⁻¹ (H⁻¹ = Uᵀ U): row i of U holds,
// scaled, the inverse Hessian with the columns before i already eliminated. One
// implementation for both, in fp64.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_NUMERICS_CHOLESKY_H
#define MIDLLAMA_NUMERICS_CHOLESKY_H

#include <cstdint>
#include <vector>

namespace midllama::numerics {

/// In-place lower Cholesky factor of the symmetric [k, k] `a` (its strict upper triangle is
/// left as it was). False if `a` is not positive definite.
bool choleskyLower(std::vector<double> &a, int64_t k);

/// The upper Cholesky factor U of H⁻¹ for the positive definite [k, k] `h`. False if `h`
/// (or, numerically, its inverse) is not positive definite.
bool upperCholeskyOfInverse(std::vector<double> h, int64_t k, std::vector<double> &u);

/// The Hessian prepared as GPTQ and SparseGPT prepare it: inputs that never fire (H_jj = 0)
/// get H_jj = 1 and their indices listed in `dead` (the methods zero those weights), then
/// H += damp · mean(diag H) · I.
std::vector<double> dampedHessian(const float *h, int64_t k, double damp,
                                  std::vector<int64_t> &dead);

} // namespace midllama::numerics

#endif // MIDLLAMA_NUMERICS_CHOLESKY_H
