//===- Cholesky.cpp - Inverse-Hessian factors for OBS-style methods -------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Numerics/Cholesky.h"

#include <cmath>
#include <cstring>

using namespace midllama;

namespace {

/// Σ a[p] b[p] in fp64 over eight independent partial sums (vectors of 8 lanes where the
/// CPU has them: the clone is picked at load time), so the loop runs at the memory's pace
/// rather than one add's latency per element. The order of the sum differs from a plain
/// loop by rounding only (fp64: ~1e-16 relative).
typedef double F64x8 __attribute__((vector_size(64)));

__attribute__((target_clones("avx512f", "avx2", "default"))) double
dotF64(const double *a, const double *b, int64_t n) {
  F64x8 acc0 = {}, acc1 = {};
  int64_t p = 0;
  for (; p + 16 <= n; p += 16) {
    F64x8 a0, a1, b0, b1;
    std::memcpy(&a0, a + p, sizeof a0);
    std::memcpy(&a1, a + p + 8, sizeof a1);
    std::memcpy(&b0, b + p, sizeof b0);
    std::memcpy(&b1, b + p + 8, sizeof b1);
    acc0 += a0 * b0;
    acc1 += a1 * b1;
  }
  acc0 += acc1;
  double s = 0;
  for (int l = 0; l < 8; ++l)
    s += acc0[l];
  for (; p < n; ++p)
    s += a[p] * b[p];
  return s;
}

} // namespace

bool numerics::choleskyLower(std::vector<double> &a, int64_t k) {
  // Left-looking by rows: every inner product is over two contiguous row prefixes.
  for (int64_t j = 0; j < k; ++j) {
    const double *rj = a.data() + j * k;
    double d = a[size_t(j * k + j)] - dotF64(rj, rj, j);
    if (!(d > 0))
      return false;
    d = std::sqrt(d);
    a[size_t(j * k + j)] = d;
    for (int64_t i = j + 1; i < k; ++i) {
      const double *ri = a.data() + i * k;
      a[size_t(i * k + j)] = (a[size_t(i * k + j)] - dotF64(ri, rj, j)) / d;
    }
  }
  return true;
}

bool numerics::upperCholeskyOfInverse(std::vector<double> h, int64_t k,
                                      std::vector<double> &u) {
  // With J the order-reversing permutation, factor J H J = L Lᵀ. Then H = R Rᵀ with
  // R = J L J upper triangular, so H⁻¹ = R⁻ᵀ R⁻¹ and U = R⁻¹ = J L⁻¹ J is the upper factor
  // (positive diagonal, hence the unique one): one Cholesky and one triangular inverse,
  // half the work of inverting H and factoring the inverse, and no explicit inverse.
  std::vector<double> rev(static_cast<size_t>(k * k));
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j)
      rev[size_t(i * k + j)] = h[size_t((k - 1 - i) * k + (k - 1 - j))];
  h.clear();
  h.shrink_to_fit();
  if (!choleskyLower(rev, k))
    return false;
  // L⁻¹ by forward substitution, kept transposed (row j of `lit` is column j of L⁻¹) so
  // that each inner product reads two contiguous ranges.
  std::vector<double> lit(static_cast<size_t>(k * k), 0.0);
  for (int64_t j = 0; j < k; ++j) {
    double *col = lit.data() + j * k; // col[i] = L⁻¹[i][j]
    col[j] = 1.0 / rev[size_t(j * k + j)];
    for (int64_t i = j + 1; i < k; ++i) {
      const double *li = rev.data() + i * k;
      col[i] = -dotF64(li + j, col + j, i - j) / rev[size_t(i * k + i)];
    }
  }
  // U[i][j] = L⁻¹[k-1-i][k-1-j] = lit[k-1-j][k-1-i], zero below the diagonal.
  u.assign(static_cast<size_t>(k * k), 0.0);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = i; j < k; ++j)
      u[size_t(i * k + j)] = lit[size_t((k - 1 - j) * k + (k - 1 - i))];
  for (int64_t i = 0; i < k; ++i) // the positive diagonal of a factor of a PD inverse
    if (!(u[size_t(i * k + i)] > 0) || !std::isfinite(u[size_t(i * k + i)]))
      return false;
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
