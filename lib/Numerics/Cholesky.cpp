//===- Cholesky.cpp - Inverse-Hessian factors for OBS-style methods -------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Numerics/Cholesky.h"

#include <cmath>

using namespace midllama;

bool numerics::choleskyLower(std::vector<double> &a, int64_t k) {
  for (int64_t j = 0; j < k; ++j) {
    double d = a[size_t(j * k + j)];
    for (int64_t p = 0; p < j; ++p)
      d -= a[size_t(j * k + p)] * a[size_t(j * k + p)];
    if (!(d > 0))
      return false;
    d = std::sqrt(d);
    a[size_t(j * k + j)] = d;
    for (int64_t i = j + 1; i < k; ++i) {
      double s = a[size_t(i * k + j)];
      const double *ri = a.data() + i * k, *rj = a.data() + j * k;
      for (int64_t p = 0; p < j; ++p)
        s -= ri[p] * rj[p];
      a[size_t(i * k + j)] = s / d;
    }
  }
  return true;
}

bool numerics::upperCholeskyOfInverse(std::vector<double> h, int64_t k,
                                      std::vector<double> &u) {
  if (!choleskyLower(h, k))
    return false;
  // L⁻¹ by forward substitution (lower triangular), kept transposed (row j of `lit` is
  // column j of L⁻¹) so that the products below read contiguous memory.
  std::vector<double> lit(static_cast<size_t>(k * k), 0.0);
  for (int64_t j = 0; j < k; ++j) {
    double *col = lit.data() + j * k; // col[i] = L⁻¹[i][j]
    col[j] = 1.0 / h[size_t(j * k + j)];
    for (int64_t i = j + 1; i < k; ++i) {
      double s = 0;
      const double *li = h.data() + i * k;
      for (int64_t p = j; p < i; ++p)
        s += li[p] * col[p];
      col[i] = -s / h[size_t(i * k + i)];
    }
  }
  // H⁻¹ = L⁻ᵀ L⁻¹: (H⁻¹)_ij = Σ_p L⁻¹_pi L⁻¹_pj over p ≥ max(i, j).
  std::vector<double> inv(static_cast<size_t>(k * k), 0.0);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j <= i; ++j) {
      double s = 0;
      const double *ci = lit.data() + i * k, *cj = lit.data() + j * k;
      for (int64_t p = i; p < k; ++p)
        s += ci[p] * cj[p];
      inv[size_t(i * k + j)] = inv[size_t(j * k + i)] = s;
    }
  if (!choleskyLower(inv, k))
    return false;
  u.assign(static_cast<size_t>(k * k), 0.0);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = i; j < k; ++j)
      u[size_t(i * k + j)] = inv[size_t(j * k + i)]; // U = Lᵀ
  return true;
}

std::vector<double> numerics::dampedHessian(const float *h, int64_t k, double damp,
                                            std::vector<int64_t> &dead) {
  std::vector<double> H(h, h + k * k);
  dead.clear();
  for (int64_t j = 0; j < k; ++j)
    if (H[size_t(j * k + j)] == 0.0) {
      H[size_t(j * k + j)] = 1.0;
      dead.push_back(j);
    }
  double mean = 0;
  for (int64_t j = 0; j < k; ++j)
    mean += H[size_t(j * k + j)];
  mean /= double(k);
  for (int64_t j = 0; j < k; ++j)
    H[size_t(j * k + j)] += damp * mean;
  return H;
}
