//===- MatMulAVX2.cpp - Matrix products with AVX2 and FMA -----------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// A register-blocked kernel: R x 3 outputs at once, weight rows kept in L1 while blocks
// of input rows stream past; and the same for panel-packed weights.
//
//===----------------------------------------------------------------------===//

#include "runtime/cpu/KernelsInternal.h"
#include "runtime/params/Half.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace midllama::rt::cpu {

#if defined(__x86_64__) && defined(__GNUC__)
namespace {

__attribute__((target("avx2,fma,f16c"))) inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/// Output columns per register block: R x kCols accumulators + kCols weight vectors + one
/// input vector must fit the 16 ymm registers (4 x 3 + 3 + 1).
constexpr int kCols = 3;

/// out[r, j..j+kCols-1] for R rows starting at `x` (row stride k), weight rows `wr`.
template <int R>
__attribute__((target("avx2,fma,f16c"))) void micro(const float *x, int64_t k,
                                                    const float *const *wr, float *out,
                                                    int64_t n, int64_t cols) {
  __m256 acc[R][kCols];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < kCols; ++c)
      acc[r][c] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) {
    __m256 wv[kCols];
    for (int c = 0; c < kCols; ++c)
      wv[c] = _mm256_loadu_ps(wr[c] + i);
    for (int r = 0; r < R; ++r) {
      __m256 xv = _mm256_loadu_ps(x + r * k + i);
      for (int c = 0; c < kCols; ++c)
        acc[r][c] = _mm256_fmadd_ps(xv, wv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < cols; ++c) {
      float s = hsum(acc[r][c]);
      for (int64_t t = i; t < k; ++t)
        s += x[r * k + t] * wr[c][t];
      out[r * n + c] = s;
    }
}

/// 8 bfloat16 values as fp32: their bits are the upper halves of fp32's.
__attribute__((target("avx2,fma,f16c"))) inline __m256 bf16x8(const uint16_t *src) {
  __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(src)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

__attribute__((target("avx2,fma,f16c"))) void convertRow(const WeightRef &w, int64_t row,
                                                          float *dst) {
  if (decodesRows(w)) {
    dequantizeRow(w, row, dst);
    return;
  }
  int64_t k = w.cols, i = 0;
  if (w.dtype == DType::F16) {
    const uint16_t *src = static_cast<const uint16_t *>(w.data) + row * k;
    for (; i + 8 <= k; i += 8)
      _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(
                                    reinterpret_cast<const __m128i *>(src + i))));
  } else if (w.dtype == DType::BF16) {
    const uint16_t *src = static_cast<const uint16_t *>(w.data) + row * k;
    for (; i + 8 <= k; i += 8)
      _mm256_storeu_ps(dst + i, bf16x8(src + i));
  }
  for (; i < k; ++i)
    dst[i] = at(w, row * k + i);
}

/// One output per weight row, read once, front to back (decode: one token, memory-bound).
__attribute__((target("avx2,fma,f16c"))) float dotAVX2(const float *a, const float *b,
                                                       int64_t k) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 32 <= k; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= k; i += 8)
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < k; ++i)
    s += a[i] * b[i];
  return s;
}

} // namespace

__attribute__((target("avx2,fma,f16c"))) void matmulColumnsAVX2(const float *in, float *out,
                                                                 int64_t ld, int64_t rows,
                                                                 const WeightRef &w,
                                                                 int64_t begin, int64_t end) {
  int64_t k = w.cols;
  bool direct = w.dtype == DType::F32 && !decodesRows(w); // rows usable in place
  std::vector<float> buffer(direct ? 0 : kCols * k);
  if (rows < 4) { // too few rows to reuse a weight block: stream each row once
    for (int64_t j = begin; j < end; ++j) {
      const float *row = static_cast<const float *>(w.data) + j * k;
      if (!direct) {
        convertRow(w, j, buffer.data());
        row = buffer.data();
      }
      for (int64_t r = 0; r < rows; ++r)
        out[r * ld + (j - begin)] = dotAVX2(in + r * k, row, k);
    }
    return;
  }
  const float *wr[kCols];
  constexpr int64_t kRowBlock = 32;
  for (int64_t j = begin; j < end; j += kCols) {
    int64_t cols = std::min<int64_t>(kCols, end - j);
    for (int c = 0; c < kCols; ++c) {
      int64_t row = j + std::min<int64_t>(c, cols - 1); // tail columns repeat the last row
      if (direct) {
        wr[c] = static_cast<const float *>(w.data) + row * k;
      } else {
        convertRow(w, row, buffer.data() + c * k);
        wr[c] = buffer.data() + c * k;
      }
    }
    for (int64_t r0 = 0; r0 < rows; r0 += kRowBlock) {
      int64_t r1 = std::min(rows, r0 + kRowBlock), r = r0;
      for (; r + 4 <= r1; r += 4)
        micro<4>(in + r * k, k, wr, out + r * ld + (j - begin), ld, int(cols));
      for (; r < r1; ++r)
        micro<1>(in + r * k, k, wr, out + r * ld + (j - begin), ld, int(cols));
    }
  }
}

bool haveAVX2() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                          __builtin_cpu_supports("f16c") && !std::getenv("MIDLLAMA_NO_AVX2");
  return yes;
}

namespace {

template <int R>
__attribute__((target("avx2,fma,f16c"))) void panelMicroAVX2(const float *x, int64_t k,
                                                             const WeightRef &w, int64_t p,
                                                             float *out, int64_t ld,
                                                             int64_t col0, int64_t end) {
  __m256 acc[R][2];
  for (int r = 0; r < R; ++r)
    acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  const bool f16 = w.dtype == DType::F16, bf16 = w.dtype == DType::BF16;
  for (int64_t i = 0; i < k; ++i) {
    int64_t base = (p * k + i) * 16;
    __m256 b0, b1;
    if (f16) {
      const uint16_t *h = static_cast<const uint16_t *>(w.data) + base;
      b0 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(h)));
      b1 = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(h + 8)));
    } else if (bf16) {
      const uint16_t *h = static_cast<const uint16_t *>(w.data) + base;
      b0 = bf16x8(h);
      b1 = bf16x8(h + 8);
    } else {
      const float *f = static_cast<const float *>(w.data) + base;
      b0 = _mm256_loadu_ps(f);
      b1 = _mm256_loadu_ps(f + 8);
    }
    for (int r = 0; r < R; ++r) {
      __m256 a = _mm256_set1_ps(x[r * k + i]);
      acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
    }
  }
  int64_t first = p * 16, lanes = std::min<int64_t>(16, end - first);
  for (int r = 0; r < R; ++r) {
    float tmp[16];
    _mm256_storeu_ps(tmp, acc[r][0]);
    _mm256_storeu_ps(tmp + 8, acc[r][1]);
    std::memcpy(out + r * ld + (first - col0), tmp, size_t(lanes) * sizeof(float));
  }
}

} // namespace

__attribute__((target("avx2,fma,f16c"))) void panelColumnsAVX2(const float *in, float *out,
                                                                int64_t ld, int64_t rows,
                                                                const WeightRef &w,
                                                                int64_t begin, int64_t end) {
  int64_t k = w.cols;
  for (int64_t p = begin / 16; p * 16 < end; ++p) {
    int64_t r = 0;
    for (; r + 4 <= rows; r += 4)
      panelMicroAVX2<4>(in + r * k, k, w, p, out + r * ld, ld, begin, end);
    for (; r < rows; ++r)
      panelMicroAVX2<1>(in + r * k, k, w, p, out + r * ld, ld, begin, end);
  }
}
#else
bool haveAVX2() { return false; }
void matmulColumnsAVX2(const float *, float *, int64_t, int64_t, const WeightRef &, int64_t,
                       int64_t) {}
void panelColumnsAVX2(const float *, float *, int64_t, int64_t, const WeightRef &, int64_t,
                      int64_t) {}
#endif

} // namespace midllama::rt::cpu
