//===- MatMulInt8VNNI.cpp - LLM.int8() products with AVX-512 VNNI ---------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The int8 part of LLM.int8() (MatMul.cpp: matmulInt8) is Σ_i xq_i · wq_i over int8 codes.
// vpdpbusd multiplies unsigned by signed bytes, four products summed into each of 16 int32
// lanes. Each block of 16 weight rows is repacked once per call into a panel whose 64-byte
// step i holds 4 consecutive codes of each of the 16 rows, so lane c accumulates row c's
// dot product and no horizontal sums are needed; the input, stored offset by 128 (xq + 128,
// 1..255: the unsigned operand), is broadcast 4 bytes at a time, and the offset is taken
// back with each row's code sum: Σ (xq + 128)·w = Σ xq·w + 128·Σ w. Blocks of 2 panels by
// 6 input rows share every load (12 of the 32 vector registers accumulate). Decode (1-3
// rows) reads the weight rows in place instead.
//
//===----------------------------------------------------------------------===//

#include "runtime/cpu/KernelsInternal.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

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

/// R input rows (4-byte groups `steps` long, rows `stride` bytes apart) times `panels`
/// repacked panels: dots[r][c] for the panels' 16 or 32 columns.
template <int R>
MIDLLAMA_VNNI void panelDots(const uint8_t *x, int64_t stride, const int8_t *panel,
                             int64_t steps, int panels, int32_t *dots, int64_t ldDots) {
  __m512i acc[R][2];
  for (int r = 0; r < R; ++r)
    acc[r][0] = acc[r][1] = _mm512_setzero_si512();
  for (int64_t i = 0; i < steps; ++i) {
    __m512i b0 = _mm512_loadu_si512(panel + i * 64);
    __m512i b1 = panels == 2 ? _mm512_loadu_si512(panel + (steps + i) * 64) : b0;
    for (int r = 0; r < R; ++r) {
      int32_t four;
      std::memcpy(&four, x + r * stride + 4 * i, 4);
      __m512i a = _mm512_set1_epi32(four);
      acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], a, b0);
      if (panels == 2)
        acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], a, b1);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < panels; ++c)
      _mm512_storeu_si512(dots + r * ldDots + 16 * c, acc[r][c]);
}

/// Decode (1-3 input rows): each weight row read once, in place, 64 codes per vpdpbusd
/// against each input row; the row's code sum from the same instruction with ones; the
/// lanes summed at the end of the row. Repacking panels would cost as much as the dots.
template <int R>
MIDLLAMA_VNNI void rowDots(const uint8_t *x, int64_t stride, const int8_t *const *w,
                           int weightRows, int64_t k, int32_t *dots) {
  const __m512i ones = _mm512_set1_epi8(1);
  for (int c = 0; c < weightRows; ++c) {
    __m512i acc[R], sum = _mm512_setzero_si512();
    for (int r = 0; r < R; ++r)
      acc[r] = _mm512_setzero_si512();
    for (int64_t i = 0; i < k; i += 64) {
      const __mmask64 m = k - i >= 64 ? ~__mmask64(0) : (__mmask64(1) << (k - i)) - 1;
      // 8 KiB ahead (1 KiB until 2026-12-05): SmolLM2 int8-t6 decode, 1 thread,
      // alternating: 119-129 tok/s at 1 KiB, 132-140 at 4, 134-148 at 8, 140-144 at 16.
      _mm_prefetch(reinterpret_cast<const char *>(w[c] + i) + 8192, _MM_HINT_T0);
      __m512i b = _mm512_maskz_loadu_epi8(m, w[c] + i);
      sum = _mm512_dpbusd_epi32(sum, ones, b);
      for (int r = 0; r < R; ++r)
        acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_maskz_loadu_epi8(m, x + r * stride + i), b);
    }
    const int32_t offset = 128 * _mm512_reduce_add_epi32(sum);
    for (int r = 0; r < R; ++r)
      dots[r * 32 + c] = _mm512_reduce_add_epi32(acc[r]) - offset;
  }
}

} // namespace

MIDLLAMA_VNNI void int8PanelDotsVNNI(const uint8_t *x, int64_t stride, int64_t rows,
                                     const int8_t *const *w, int weightRows, int64_t k,
                                     int32_t *dots) {
  switch (rows) { // decode: the rows in place
  case 1:
    return rowDots<1>(x, stride, w, weightRows, k, dots);
  case 2:
    return rowDots<2>(x, stride, w, weightRows, k, dots);
  case 3:
    return rowDots<3>(x, stride, w, weightRows, k, dots);
  default:
    break;
  }
  // The panels: step i of panel p holds codes 4i..4i+3 of rows 16p..16p+15, zero padded.
  const int64_t steps = (k + 3) / 4;
  const int panels = weightRows > 16 ? 2 : 1;
  thread_local std::vector<int8_t> panel;
  int32_t sums[32] = {};
  if (k % 4 == 0) {
    // 16 x 16 blocks of 4-code groups transposed by shuffles (the byte-by-byte copy took
    // as long as the dots at 256 input rows), missing rows read from a zero row.
    thread_local std::vector<int8_t> zeros; // only ever zeros: grown, never rewritten
    if (zeros.size() < size_t(k))
      zeros.resize(size_t(k), 0);
    panel.resize(size_t(2 * steps * 64));
    const __m512i ones = _mm512_set1_epi8(1);
    for (int p = 0; p < panels; ++p) {
      const float *rows[16];
      for (int l = 0; l < 16; ++l)
        rows[l] = reinterpret_cast<const float *>(16 * p + l < weightRows ? w[16 * p + l]
                                                                          : zeros.data());
      int8_t *dst = panel.data() + p * steps * 64;
      int64_t i = 0;
      for (; i + 16 <= steps; i += 16)
        transpose16x16AVX512(rows, i, reinterpret_cast<float *>(dst + i * 64));
      for (; i < steps; ++i)
        for (int l = 0; l < 16; ++l)
          std::memcpy(dst + i * 64 + 4 * l, rows[l] + i, 4);
      __m512i sum = _mm512_setzero_si512(); // lane l: Σ of row 16p + l's codes
      for (i = 0; i < steps; ++i)
        sum = _mm512_dpbusd_epi32(sum, ones, _mm512_loadu_si512(dst + i * 64));
      _mm512_storeu_si512(sums + 16 * p, sum);
    }
  } else {
    panel.assign(size_t(2 * steps * 64), 0);
    for (int c = 0; c < weightRows; ++c) {
      int8_t *dst = panel.data() + (c / 16) * steps * 64 + (c % 16) * 4;
      for (int64_t i = 0; i < k; ++i) {
        dst[(i / 4) * 64 + i % 4] = w[c][i];
        sums[c] += w[c][i];
      }
    }
  }
  int64_t r = 0;
  for (; r + 6 <= rows; r += 6)
    panelDots<6>(x + r * stride, stride, panel.data(), steps, panels, dots + r * 32, 32);
  for (; r + 2 <= rows; r += 2)
    panelDots<2>(x + r * stride, stride, panel.data(), steps, panels, dots + r * 32, 32);
  for (; r < rows; ++r)
    panelDots<1>(x + r * stride, stride, panel.data(), steps, panels, dots + r * 32, 32);
  for (int64_t q = 0; q < rows; ++q)
    for (int c = 0; c < weightRows; ++c)
      dots[q * 32 + c] -= 128 * sums[c];
}
#else
bool haveAVX512VNNI() { return false; }
void int8PanelDotsVNNI(const uint8_t *, int64_t, int64_t, const int8_t *const *, int, int64_t,
                       int32_t *) {}
#endif

} // namespace midllama::rt::cpu
