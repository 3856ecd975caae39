//===- MatMulInt8VNNI.cpp - LLM.int8() dot products with AVX-512 VNNI -----===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The int8 part of LLM.int8() (MatMul.cpp: matmulInt8) is Σ_i xq_i · wq_i over int8 codes.
// vpdpbusd multiplies unsigned by signed bytes, 64 at a time, four products summed into
// each int32 lane: the input is stored offset by 128 (xq + 128, 1..255) and the offset
// taken back with the weight row's sum, Σ (xq + 128)·w = Σ xq·w + 128·Σ w; the row sum
// comes from the same instruction with a vector of ones. Blocks of 4 weight rows by up to
// 4 input rows share every load; a row's tail is a masked load (zeros contribute nothing).
//
//===----------------------------------------------------------------------===//

#include "runtime/cpu/KernelsInternal.h"

#include <cstdlib>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace midllama::rt::cpu {

#if defined(__x86_64__) && defined(__GNUC__)
bool haveAVX512VNNI() {
  static const bool yes = __builtin_cpu_supports("avx512f") &&
                          __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vnni") &&
                          !std::getenv("MIDLLAMA_NO_AVX512");
  return yes;
}

namespace {

#define MIDLLAMA_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

/// dots[r * 4 + c] = Σ_i x[r][i] · w[c][i] - 128 Σ_i w[c][i] for R input rows (stored +128,
/// `stride` bytes apart) and W weight rows of `k` int8 codes.
template <int R, int W>
MIDLLAMA_VNNI void dotBlock(const uint8_t *x, int64_t stride, const int8_t *const *w, int64_t k,
                            int32_t *dots) {
  __m512i acc[R][W], sum[W];
  for (int c = 0; c < W; ++c) {
    sum[c] = _mm512_setzero_si512();
    for (int r = 0; r < R; ++r)
      acc[r][c] = _mm512_setzero_si512();
  }
  const __m512i ones = _mm512_set1_epi8(1);
  for (int64_t i = 0; i < k; i += 64) {
    const __mmask64 m = k - i >= 64 ? ~__mmask64(0) : (__mmask64(1) << (k - i)) - 1;
    __m512i b[W], a[R];
    for (int c = 0; c < W; ++c) {
      b[c] = _mm512_maskz_loadu_epi8(m, w[c] + i);
      sum[c] = _mm512_dpbusd_epi32(sum[c], ones, b[c]);
    }
    for (int r = 0; r < R; ++r)
      a[r] = _mm512_maskz_loadu_epi8(m, x + r * stride + i);
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < W; ++c)
        acc[r][c] = _mm512_dpbusd_epi32(acc[r][c], a[r], b[c]);
  }
  for (int c = 0; c < W; ++c) {
    int32_t offset = 128 * _mm512_reduce_add_epi32(sum[c]);
    for (int r = 0; r < R; ++r)
      dots[r * 4 + c] = _mm512_reduce_add_epi32(acc[r][c]) - offset;
  }
}

template <int W>
MIDLLAMA_VNNI void dotRows(const uint8_t *x, int64_t stride, int64_t rows,
                           const int8_t *const *w, int64_t k, int32_t *dots) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4)
    dotBlock<4, W>(x + r * stride, stride, w, k, dots + r * 4);
  switch (rows - r) {
  case 3:
    return dotBlock<3, W>(x + r * stride, stride, w, k, dots + r * 4);
  case 2:
    return dotBlock<2, W>(x + r * stride, stride, w, k, dots + r * 4);
  case 1:
    return dotBlock<1, W>(x + r * stride, stride, w, k, dots + r * 4);
  default:
    return;
  }
}

} // namespace

void int8DotsVNNI(const uint8_t *x, int64_t stride, int64_t rows, const int8_t *const *w,
                  int weightRows, int64_t k, int32_t *dots) {
  switch (weightRows) {
  case 4:
    return dotRows<4>(x, stride, rows, w, k, dots);
  case 3:
    return dotRows<3>(x, stride, rows, w, k, dots);
  case 2:
    return dotRows<2>(x, stride, rows, w, k, dots);
  default:
    return dotRows<1>(x, stride, rows, w, k, dots);
  }
}
#else
bool haveAVX512VNNI() { return false; }
void int8DotsVNNI(const uint8_t *, int64_t, int64_t, const int8_t *const *, int, int64_t,
                  int32_t *) {}
#endif

} // namespace midllama::rt::cpu
