//===- Gemm.cpp - fp32 matrix products on the runtime's CPU kernel --------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Numerics/Gemm.h"

#include "runtime/cpu/Kernels.h"

#include <algorithm>
#include <cstring>
#include <vector>

using namespace midllama;

void numerics::gemm(const float *a, const float *b, float *c, int64_t m, int64_t k,
                    int64_t n) {
  if (m <= 0 || n <= 0)
    return;
  if (k <= 0) {
    std::fill(c, c + m * n, 0.0f);
    return;
  }
  // The kernel computes in · wᵀ with w [n, k] in panels of 16 rows interleaved along k:
  // w(j, i) at [j / 16][i][j % 16]. With w = Bᵀ that is B(i, j) at [j / 16][i][j % 16]:
  // each row of B cut into 16-wide pieces, so packing is a copy (the last panel padded
  // with zeros the kernel never stores).
  int64_t panels = (n + 15) / 16;
  std::vector<float> packed(static_cast<size_t>(panels * k * 16), 0.0f);
  for (int64_t p = 0; p < panels; ++p) {
    int64_t lanes = std::min<int64_t>(16, n - p * 16);
    for (int64_t i = 0; i < k; ++i)
      std::memcpy(packed.data() + (p * k + i) * 16, b + i * n + p * 16,
                  size_t(lanes) * sizeof(float));
  }
  rt::cpu::WeightRef w;
  w.data = packed.data();
  w.dtype = rt::DType::F32;
  w.rows = n;
  w.cols = k;
  w.panels = true;
  rt::cpu::matmul(a, c, m, w);
}
