//===- GPTQ.cpp - GPTQ weight quantization numerics -----------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Quantize/GPTQ.h"

#include "midllama/Numerics/Cholesky.h"
#include "midllama/Numerics/Gemm.h"
#include "midllama/Numerics/LazyBatch.h"

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace midllama::quant;

namespace {

/// The codes (original column order) packed, with their groups' scales and zero points.
AffineMatrix packAffine(const std::vector<int> &codes, const std::vector<float> &scales,
                        const std::vector<int> &zeros, int64_t n, int64_t k, int64_t groups,
                        const AffineParams &p) {
  AffineMatrix m;
  m.rowBytes = (k * p.bits + 7) / 8;
  m.groups = groups;
  m.codes.assign(size_t(n * m.rowBytes), 0);
  m.scales = scales;
  if (!p.symmetric)
    for (int z : zeros)
      m.zeros.push_back(uint8_t(z));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c)
      packCode(m.codes.data() + r * m.rowBytes, c, p.bits, codes[size_t(r * k + c)]);
  return m;
}

/// Columns [i1, i2) of the row-major [n, k] `w` into `out` ([n, i2 - i1]).
void copyColumns(const std::vector<float> &w, int64_t n, int64_t k, int64_t i1, int64_t i2,
                 std::vector<float> &out) {
  out.resize(size_t(n * (i2 - i1)));
  for (int64_t r = 0; r < n; ++r)
    std::copy(w.begin() + r * k + i1, w.begin() + r * k + i2, out.begin() + r * (i2 - i1));
}

/// Row r's columns [i, i + count) as the reference reads them for a group's grid: those
/// inside the block [i1, i2) from `blockStart` (the block as it started, [n, i2 - i1]),
/// the later ones from `Wp` (not yet updated inside the block either way).
const float *valuesAtBlockStart(const std::vector<float> &blockStart,
                                const std::vector<float> &Wp, int64_t r, int64_t k, int64_t i,
                                int64_t count, int64_t i1, int64_t i2,
                                std::vector<float> &buffer) {
  for (int64_t j = i; j < i + count; ++j)
    buffer[size_t(j - i)] =
        j < i2 ? blockStart[size_t(r * (i2 - i1) + (j - i1))] : Wp[size_t(r * k + j)];
  return buffer.data();
}

} // namespace

bool midllama::quant::prepareGPTQHessian(const float *h, int64_t k, double damp,
                                         bool actOrder, GPTQHessian &prepared,
                                         std::string &error) {
  prepared.k = k;
  prepared.damp = damp;
  prepared.actOrder = actOrder;
  // Inputs that never fire carry no information: GPTQ zeroes their weights.
  std::vector<double> H = numerics::dampedHessian(h, k, damp, prepared.dead);
  // Processing order: columns by decreasing H_jj with act-order (stable, so ties keep
  // their order), else left to right.
  std::vector<int64_t> &perm = prepared.perm;
  perm.resize(size_t(k));
  std::iota(perm.begin(), perm.end(), 0);
  if (actOrder)
    std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) {
      return H[size_t(a * k + a)] > H[size_t(b * k + b)]; // damped H_jj
    });
  // Hp = P H Pᵀ, then the upper Cholesky factor of its inverse.
  std::vector<double> Hp(size_t(k * k));
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j)
      Hp[size_t(i * k + j)] = H[size_t(perm[size_t(i)] * k + perm[size_t(j)])];
  H.clear();
  H.shrink_to_fit();
  if (!numerics::upperCholeskyOfInverse(std::move(Hp), k, prepared.u)) {
    error = "the Hessian is not positive definite with damp " + std::to_string(damp) +
            " (raise damp)";
    return false;
  }
  return true;
}

bool midllama::quant::quantizeGPTQ(const float *w, int64_t n, int64_t k, const float *hIn,
                                   const GPTQOptions &o, GPTQResult &result,
                                   std::string &error) {
  GPTQHessian prepared;
  return prepareGPTQHessian(hIn, k, o.damp, o.actOrder, prepared, error) &&
         quantizeGPTQ(w, n, k, prepared, o, result, error);
}

bool midllama::quant::quantizeGPTQ(const float *w, int64_t n, int64_t k,
                                   const GPTQHessian &hessian, const GPTQOptions &o,
                                   GPTQResult &result, std::string &error) {
  if (hessian.k != k || hessian.damp != o.damp || hessian.actOrder != o.actOrder) {
    error = "the prepared Hessian does not match the options (inputs, damp, act-order)";
    return false;
  }
  const AffineParams &p = o.affine;
  const int64_t gs = std::min<int64_t>(p.groupSize, k);
  const int64_t groups = (k + gs - 1) / gs;
  std::vector<float> W(w, w + n * k);
  result.deadColumns = int64_t(hessian.dead.size());
  for (int64_t j : hessian.dead)
    for (int64_t r = 0; r < n; ++r)
      W[size_t(r * k + j)] = 0.0f;
  const std::vector<int64_t> &perm = hessian.perm;
  const std::vector<double> &U = hessian.u;

  // Group parameters: [row, group] in the original column order.
  std::vector<float> scales(size_t(n * groups));
  std::vector<int> zeros(size_t(n * groups));
  // A group's scale and zero from its kept weights (all of them for a dense weight): a
  // pruned weight is 0 whatever its code, so it must not widen the range.
  std::vector<float> kept(static_cast<size_t>(gs));
  auto groupParams = [&](const float *values, int64_t r, int64_t c0, int64_t count,
                         int64_t g) {
    const float *src = values;
    int64_t used = count;
    if (o.keep) {
      used = 0;
      for (int64_t j = 0; j < count; ++j)
        if (o.keep[r * k + c0 + j])
          kept[size_t(used++)] = values[j];
      src = kept.data();
    }
    groupScale(src, used, p, scales[size_t(r * groups + g)], zeros[size_t(r * groups + g)]);
  };
  auto findParams = [&](int64_t g) {
    int64_t c0 = g * gs, c1 = std::min(k, c0 + gs);
    for (int64_t r = 0; r < n; ++r)
      groupParams(W.data() + r * k + c0, r, c0, c1 - c0, g);
  };
  if (o.actOrder)
    for (int64_t g = 0; g < groups; ++g) // static groups, from the weights as given
      findParams(g);

  // Work in processing order: Wp[r][i] = W[r][perm[i]].
  std::vector<float> Wp(size_t(n * k));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < k; ++i)
      Wp[size_t(r * k + i)] = W[size_t(r * k + perm[i])];
  std::vector<int> codes(size_t(n * k)); // original column order
  result.dequantized.assign(size_t(n * k), 0.0f);
  const int64_t B = std::max<int64_t>(1, o.blockSize);
  std::vector<float> err(size_t(n * B));
  // groupsFromBlockStart: the block's columns as it started, and one group's values.
  std::vector<float> blockStart, groupValues(static_cast<size_t>(gs));
  for (int64_t i1 = 0; i1 < k; i1 += B) {
    int64_t i2 = std::min(k, i1 + B);
    if (o.groupsFromBlockStart)
      copyColumns(Wp, n, k, i1, i2, blockStart);
    for (int64_t i = i1; i < i2; ++i) {
      int64_t col = perm[size_t(i)], g = col / gs;
      if (!o.actOrder && col % gs == 0) {
        // A new group: its parameters from the current, error-updated weights, or (the
        // reference) from the weights as the block started; columns past the block have
        // not been updated inside it either way.
        int64_t c1 = std::min(k, col + gs);
        for (int64_t r = 0; r < n; ++r) {
          const float *values =
              o.groupsFromBlockStart
                  ? valuesAtBlockStart(blockStart, Wp, r, k, i, c1 - col, i1, i2, groupValues)
                  : Wp.data() + r * k + i;
          groupParams(values, r, col, c1 - col, g);
        }
      }
      double d = U[size_t(i * k + i)];
      for (int64_t r = 0; r < n; ++r) {
        float x = Wp[size_t(r * k + i)];
        float scale = scales[size_t(r * groups + g)];
        int zero = zeros[size_t(r * groups + g)];
        // A pruned weight stays 0 (its code the zero point); its value, carried this far by
        // the updates, is error like any other and moves onto the later columns.
        bool pruned = o.keep && !o.keep[r * k + col];
        int q = pruned ? zero : quantizeValue(x, scale, zero, p.bits);
        float deq = pruned ? 0.0f : dequantizeValue(q, scale, zero);
        codes[size_t(r * k + col)] = q;
        result.dequantized[size_t(r * k + col)] = deq;
        float e = float((double(x) - double(deq)) / d);
        err[size_t(r * B + (i - i1))] = e;
        float *row = Wp.data() + r * k;
        const double *u = U.data() + i * k;
        for (int64_t c = i + 1; c < i2; ++c)
          row[c] -= float(e * u[c]);
      }
    }
    numerics::applyBlockErrors(Wp.data(), n, k, err.data(), B, U, i1, i2);
  }
  result.matrix = packAffine(codes, scales, zeros, n, k, groups, p);
  return true;
}

std::vector<double> midllama::quant::layerOutputErrorPerRow(const float *w, const float *q,
                                                            int64_t n, int64_t k,
                                                            const float *h) {
  // (D H)_r · d_r per row r: D H as one fp32 product, the final sums in fp64.
  std::vector<float> d(size_t(n * k)), dh(size_t(n * k));
  for (size_t i = 0; i < d.size(); ++i)
    d[i] = float(double(w[i]) - double(q[i]));
  numerics::gemm(d.data(), h, dh.data(), n, k, k); // H is symmetric: H = Hᵀ
  std::vector<double> rows(size_t(n), 0.0);
  for (int64_t r = 0; r < n; ++r) {
    double total = 0;
    for (int64_t c = 0; c < k; ++c)
      total += double(d[size_t(r * k + c)]) * double(dh[size_t(r * k + c)]);
    rows[size_t(r)] = total / 2.0;
  }
  return rows;
}

double midllama::quant::layerOutputError(const float *w, const float *q, int64_t n, int64_t k,
                                         const float *h) {
  // tr(D H Dᵀ) / 2, summed from the rows' terms.
  double total = 0;
  for (double e : layerOutputErrorPerRow(w, q, n, k, h))
    total += e;
  return total;
}
