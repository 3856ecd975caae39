//===- LazyBatch.cpp - GPTQ/SparseGPT's block error update ----------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Numerics/LazyBatch.h"

#include "midllama/Numerics/Gemm.h"

#include <cstddef>

using namespace midllama;

void numerics::applyBlockErrors(float *w, int64_t n, int64_t k, const float *err,
                                int64_t errStride, const std::vector<double> &u, int64_t i1,
                                int64_t i2) {
  const int64_t width = i2 - i1, rest = k - i2;
  if (rest <= 0 || width <= 0 || n <= 0)
    return;
  std::vector<float> e(static_cast<size_t>(n * width)), ub(static_cast<size_t>(width * rest)),
      delta(static_cast<size_t>(n * rest));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < width; ++i)
      e[size_t(r * width + i)] = err[r * errStride + i];
  for (int64_t i = 0; i < width; ++i)
    for (int64_t c = 0; c < rest; ++c)
      ub[size_t(i * rest + c)] = float(u[size_t((i1 + i) * k + i2 + c)]);
  gemm(e.data(), ub.data(), delta.data(), n, width, rest);
  for (int64_t r = 0; r < n; ++r) {
    float *row = w + r * k + i2;
    const float *d = delta.data() + r * rest;
    for (int64_t c = 0; c < rest; ++c)
      row[c] -= d[c];
  }
}
