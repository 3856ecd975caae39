//===- Elementwise.cpp - Embedding, norms and activations -----------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The memory-bound kernels: one pass over their rows. e^x (SiLU, softmax) is vectorized
// where the CPU has AVX-512.
//
//===----------------------------------------------------------------------===//

#include "runtime/cpu/KernelsInternal.h"
#include "runtime/params/Half.h"

#include <cmath>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace midllama::rt::cpu {

namespace {

#if defined(__x86_64__) && defined(__GNUC__)
/// e^x on 16 lanes: x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two so n·ln2 is exact),
/// e^r by its Taylor polynomial to r⁶ (truncation ≤ r⁷/7! ≈ 1.2e-7, about 1 ulp), times 2^n.
/// Inputs are clamped to [-87.3, 88.7], where e^x is a normal float.
__attribute__((target("avx512f"))) inline __m512 exp512(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.7f));
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 720.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

/// out = silu(g) ⊙ u (u null: silu(g)), 16 at a time.
__attribute__((target("avx512f"))) void siluTimes512(const float *g, const float *u, float *out,
                                                     int64_t n) {
  int64_t i = 0;
  const __m512 one = _mm512_set1_ps(1.0f);
  for (; i + 16 <= n; i += 16) {
    __m512 x = _mm512_loadu_ps(g + i);
    __m512 s = _mm512_div_ps(x, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), x))));
    _mm512_storeu_ps(out + i, u ? _mm512_mul_ps(s, _mm512_loadu_ps(u + i)) : s);
  }
  for (; i < n; ++i)
    out[i] = u ? siluOf(g[i]) * u[i] : siluOf(g[i]);
}

/// x[i] = e^(x[i]) in place, 16 at a time.
__attribute__((target("avx512f"))) void expInPlace512(float *x, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(x + i, exp512(_mm512_loadu_ps(x + i)));
  for (; i < n; ++i)
    x[i] = std::exp(x[i]);
}
#endif

} // namespace

/// out = silu(g) ⊙ u, or silu(g) when u is null: the MLP's activation, vectorized where
/// the CPU has AVX-512 (its e^x within about 1 ulp of std::exp's).
void siluTimes(const float *g, const float *u, float *out, int64_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (haveAVX512())
    return siluTimes512(g, u, out, n);
#endif
  for (int64_t i = 0; i < n; ++i)
    out[i] = u ? siluOf(g[i]) * u[i] : siluOf(g[i]);
}

/// x[i] = e^(x[i]) (attention's softmax), vectorized likewise.
void expInPlace(float *x, int64_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (haveAVX512())
    return expInPlace512(x, n);
#endif
  for (int64_t i = 0; i < n; ++i)
    x[i] = std::exp(x[i]);
}

void embed(const int64_t *tokens, int64_t rows, const WeightRef &table, float *out) {
  int64_t k = table.cols;
  if (decodesRows(table)) {
    for (int64_t r = 0; r < rows; ++r)
      dequantizeRow(table, tokens[r], out + r * k);
    return;
  }
  for (int64_t r = 0; r < rows; ++r) {
    int64_t t = tokens[r];
    for (int64_t c = 0; c < k; ++c)
      out[r * k + c] = table.panels ? at(table, ((t / 16) * k + c) * 16 + t % 16)
                                    : at(table, t * k + c);
  }
}

void rmsNorm(const float *in, float *out, int64_t rows, int64_t width, const WeightRef &w,
             float eps) {
  // Rows are independent: a prefill's rows split over the threads (each row computed as
  // on one thread, so the result does not depend on the split).
  // The sum of squares in 8 partial sums (dot: vectorized, not one serial chain), the
  // scale fp32 read in place (other dtypes converted per element).
  const float *scale = w.dtype == DType::F32 ? static_cast<const float *>(w.data) : nullptr;
  parallelFor(rows, 3 * width, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float *x = in + r * width;
      float inv = 1.0f / std::sqrt(dot(x, x, width) / float(width) + eps);
      float *o = out + r * width;
      if (scale)
        for (int64_t c = 0; c < width; ++c)
          o[c] = scale[c] * (x[c] * inv);
      else
        for (int64_t c = 0; c < width; ++c)
          o[c] = at(w, c) * (x[c] * inv);
    }
  });
}

void addRMSNorm(const float *in, const float *residual, float *sum, float *out, int64_t rows,
                int64_t width, const WeightRef &w, float eps) {
  for (int64_t i = 0; i < rows * width; ++i)
    sum[i] = in[i] + residual[i];
  rmsNorm(sum, out, rows, width, w, eps);
}

void swiglu(const float *gate, const float *up, float *out, int64_t count) {
  siluTimes(gate, up, out, count);
}

void add(const float *a, const float *b, float *out, int64_t count) {
  for (int64_t i = 0; i < count; ++i)
    out[i] = a[i] + b[i];
}

void mul(const float *a, const float *b, float *out, int64_t count) {
  for (int64_t i = 0; i < count; ++i)
    out[i] = a[i] * b[i];
}

void silu(const float *in, float *out, int64_t count) {
  siluTimes(in, nullptr, out, count);
}

} // namespace midllama::rt::cpu
