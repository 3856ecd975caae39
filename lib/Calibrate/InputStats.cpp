//===- InputStats.cpp - Statistics of a linear layer's inputs -------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Calibrate/InputStats.h"

#include "midllama/Numerics/Gemm.h"

#include <algorithm>
#include <cmath>

using namespace midllama::calib;

InputStats::InputStats(int64_t k, bool hessian)
    : k(k), hasHessian(hessian), sumAbs(size_t(k), 0.0), sumSq(size_t(k), 0.0),
      maxAbs(size_t(k), 0.0f) {
  if (hessian)
    xtx.assign(size_t(k * k), 0.0);
}

void InputStats::add(const float *x, int64_t count) {
  for (int64_t r = 0; r < count; ++r)
    for (int64_t j = 0; j < k; ++j) {
      float a = std::fabs(x[r * k + j]);
      sumAbs[j] += a;
      sumSq[j] += double(a) * a;
      maxAbs[j] = std::max(maxAbs[j], a);
    }
  rows += count;
  if (!hasHessian)
    return;
  // Σ x xᵀ as fp32 products XᵀX over blocks of rows (the runtime's matrix kernel), each
  // block's sum then added to the fp64 total so that hundreds of thousands of tokens lose
  // nothing: within a block an entry is one fp32 sum of kBlock products (the reference
  // GPTQ keeps the whole sum in fp32).
  constexpr int64_t kBlock = 256;
  std::vector<float> xt(size_t(k * std::min(count, kBlock))), partial(size_t(k * k));
  for (int64_t r0 = 0; r0 < count; r0 += kBlock) {
    int64_t r1 = std::min(count, r0 + kBlock), n = r1 - r0;
    for (int64_t r = 0; r < n; ++r) // Xᵀ of the block: [k, n]
      for (int64_t i = 0; i < k; ++i)
        xt[size_t(i * n + r)] = x[(r0 + r) * k + i];
    numerics::gemm(xt.data(), x + r0 * k, partial.data(), k, n, k);
    for (size_t i = 0; i < partial.size(); ++i)
      xtx[i] += partial[i];
  }
}

std::vector<float> InputStats::hessian() const {
  std::vector<float> h(xtx.size());
  double scale = rows > 0 ? 2.0 / double(rows) : 0.0;
  for (size_t i = 0; i < h.size(); ++i)
    h[i] = float(xtx[i] * scale);
  return h;
}

std::vector<float> InputStats::meanAbs() const {
  std::vector<float> m(sumAbs.size());
  for (size_t i = 0; i < m.size(); ++i)
    m[i] = rows > 0 ? float(sumAbs[i] / double(rows)) : 0.0f;
  return m;
}
