//===- Elementwise.cpp - Embedding, norms and activations -----------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The memory-bound kernels: one pass over their rows. e^x (SiLU, softmax) is vectorized
// where the CPU has AVX-512.
//
//===----------------------------------------------------------------------===//

#include "runtime/cpu/KernelsInternal.h"
#include "runtime/cpu/LaneMasks.h"
#include "runtime/params/Half.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

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

/// Lanes 0-7 of v widened to doubles.
__attribute__((target("avx512f"))) inline __m512d lanes0to7AsDouble(__m512 v) {
  return _mm512_cvtps_pd(_mm512_castps512_ps256(v));
}

/// Lanes 8-15 of v widened to doubles.
__attribute__((target("avx512f"))) inline __m512d lanes8to15AsDouble(__m512 v) {
  return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

/// e^d in the lanes of `valid`, 0 elsewhere and where d < -87.3: exp512 clamps there,
/// where std::exp's would be subnormal (a log-softmax's terms: negligible against its 1).
__attribute__((target("avx512f"))) inline __m512 expOrZero(__m512 d, __mmask16 valid) {
  return _mm512_maskz_mov_ps(
      _mm512_mask_cmp_ps_mask(valid, d, _mm512_set1_ps(-87.3f), _CMP_GE_OQ), exp512(d));
}

/// sumExp, 16 at a time (the last lanes masked); `nan` says whether x held one.
__attribute__((target("avx512f"))) double sumExp512(const float *x, int64_t n, float shift,
                                                    bool &nan) {
  __m512d first = _mm512_setzero_pd(), second = _mm512_setzero_pd();
  __mmask16 unordered = 0;
  const __m512 s = _mm512_set1_ps(shift);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = lanesBelow(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    unordered |= _mm512_mask_cmp_ps_mask(m, v, v, _CMP_UNORD_Q);
    const __m512 e = expOrZero(_mm512_sub_ps(v, s), m);
    first = _mm512_add_pd(first, lanes0to7AsDouble(e));
    second = _mm512_add_pd(second, lanes8to15AsDouble(e));
  }
  nan = unordered != 0;
  return _mm512_reduce_add_pd(_mm512_add_pd(first, second));
}

/// e^x - 1 in fp64 on 8 lanes, to about an ulp: x = n·ln2 + r (ln2 in two parts),
/// e^r - 1 by its Taylor polynomial to r^13 (|r| ≤ ln2/2: truncation under 1e-17), then
/// 2^n·(e^r - 1) + (2^n - 1), which cancels nothing for n ≠ 0 (|x| > 0.34).
/// x is clamped to [-746, 700].
__attribute__((target("avx512f"))) inline __m512d expm1Pd(__m512d x) {
  x = _mm512_min_pd(_mm512_max_pd(x, _mm512_set1_pd(-746.0)), _mm512_set1_pd(700.0));
  const __m512d n = _mm512_roundscale_pd(_mm512_mul_pd(x, _mm512_set1_pd(1.4426950408889634)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512d r = _mm512_fnmadd_pd(n, _mm512_set1_pd(6.93147180369123816490e-01), x);
  r = _mm512_fnmadd_pd(n, _mm512_set1_pd(1.90821492927058770002e-10), r);
  double inverseFactorial = 1.0 / 6227020800.0; // 1/13!
  __m512d p = _mm512_set1_pd(inverseFactorial);
  for (int k = 12; k >= 2; --k) {
    inverseFactorial *= k + 1;
    p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(inverseFactorial));
  }
  const __m512d em1 = _mm512_mul_pd(_mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0)), r); // e^r - 1
  const __m512d scale = _mm512_scalef_pd(_mm512_set1_pd(1.0), n);                    // 2^n
  return _mm512_add_pd(_mm512_mul_pd(scale, em1), _mm512_sub_pd(scale, _mm512_set1_pd(1.0)));
}

/// softmaxKL, 16 at a time: Σ e_i, Σ e_i·δ_i and Σ e_i·(e^δ_i - 1) with e_i = e^(a_i -
/// maxA) (as sumExp512's) and δ_i = b_i - a_i in fp64.
__attribute__((target("avx512f"))) void tiltSums512(const float *a, const float *b, int64_t n,
                                                    float maxA, double &sum, double &mean,
                                                    double &tilt, bool &nan) {
  __m512d s = _mm512_setzero_pd(), m = _mm512_setzero_pd(), t = _mm512_setzero_pd();
  __mmask16 unordered = 0;
  const __m512 shift = _mm512_set1_ps(maxA);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = lanesBelow(n - i);
    const __m512 va = _mm512_maskz_loadu_ps(k, a + i), vb = _mm512_maskz_loadu_ps(k, b + i);
    unordered |= _mm512_cmp_ps_mask(va, va, _CMP_UNORD_Q);
    unordered |= _mm512_cmp_ps_mask(vb, vb, _CMP_UNORD_Q);
    const __m512 e = expOrZero(_mm512_sub_ps(va, shift), k);
    // Lanes 0-7, then 8-15, in fp64: e_i and δ_i = b_i - a_i (exact).
    const __m512d e0 = lanes0to7AsDouble(e), e8 = lanes8to15AsDouble(e);
    const __m512d d0 = _mm512_sub_pd(lanes0to7AsDouble(vb), lanes0to7AsDouble(va));
    const __m512d d8 = _mm512_sub_pd(lanes8to15AsDouble(vb), lanes8to15AsDouble(va));
    s = _mm512_add_pd(s, _mm512_add_pd(e0, e8));
    m = _mm512_fmadd_pd(e0, d0, _mm512_fmadd_pd(e8, d8, m));
    t = _mm512_fmadd_pd(e0, expm1Pd(d0), _mm512_fmadd_pd(e8, expm1Pd(d8), t));
  }
  sum = _mm512_reduce_add_pd(s);
  mean = _mm512_reduce_add_pd(m);
  tilt = _mm512_reduce_add_pd(t);
  nan = unordered != 0;
}

/// argmax, 16 at a time: the largest value, then its first position; `nan` says whether x
/// held one (the caller then asks std::max_element).
__attribute__((target("avx512f"))) int64_t argmax512(const float *x, int64_t n, bool &nan) {
  __m512 best = _mm512_set1_ps(-INFINITY);
  __mmask16 unordered = 0;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = lanesBelow(n - i);
    const __m512 v = _mm512_mask_loadu_ps(best, m, x + i);
    unordered |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    best = _mm512_max_ps(best, v);
  }
  nan = unordered != 0;
  const __m512 top = _mm512_set1_ps(_mm512_reduce_max_ps(best));
  for (int64_t i = 0; i < n; i += 16) { // the first position holding it
    const __mmask16 m = lanesBelow(n - i);
    if (__mmask16 hit = _mm512_mask_cmp_ps_mask(m, _mm512_maskz_loadu_ps(m, x + i), top,
                                                _CMP_EQ_OQ))
      return i + __builtin_ctz(hit);
  }
  return 0; // all -inf
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

double sumExp(const float *x, int64_t n, float shift) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (haveAVX512()) {
    bool nan = false;
    const double total = sumExp512(x, n, shift, nan);
    return nan ? double(NAN) : total; // exp512 clamps NaN away; a NaN logit must show
  }
#endif
  double total = 0;
  for (int64_t i = 0; i < n; ++i)
    total += double(std::exp(x[i] - shift));
  return total;
}

double softmaxKL(const float *a, const float *b, int64_t n, float maxA) {
  // KL(p || q) = Σ p (log p - log q) = -E_p[δ] + log E_p[e^δ] with δ = b - a (q is p tilted
  // by e^δ): no log-normalizer is subtracted from another, so the error of p's fp32
  // exponentials stays relative to the KL even where the two are nearly equal.
  double sum = 0, mean = 0, tilt = 0;
#if defined(__x86_64__) && defined(__GNUC__)
  if (haveAVX512()) {
    bool nan = false;
    tiltSums512(a, b, n, maxA, sum, mean, tilt, nan);
    if (nan)
      return double(NAN);
    return -mean / sum + std::log1p(tilt / sum);
  }
#endif
  for (int64_t i = 0; i < n; ++i) {
    const double e = double(std::exp(a[i] - maxA)), delta = double(b[i]) - double(a[i]);
    sum += e;
    mean += e * delta;
    tilt += e * std::expm1(delta);
  }
  return -mean / sum + std::log1p(tilt / sum);
}

int64_t argmax(const float *x, int64_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (haveAVX512() && n > 0) {
    bool nan = false;
    const int64_t at = argmax512(x, n, nan);
    if (!nan)
      return at;
  }
#endif
  return std::max_element(x, x + n) - x; // with NaNs: exactly std::max_element's choice
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
  // scale fp32 read in place, other dtypes (an fp16 model's norms) converted once per call
  // (per element, the conversion's dtype switch was 2% of SmolLM2 fp16's evaluation).
  std::vector<float> converted;
  const float *scale = static_cast<const float *>(w.data);
  if (w.dtype != DType::F32) {
    converted.resize(size_t(width));
    for (int64_t c = 0; c < width; ++c)
      converted[size_t(c)] = at(w, c);
    scale = converted.data();
  }
  parallelFor(rows, 3 * width, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float *x = in + r * width;
      float inv = 1.0f / std::sqrt(dot(x, x, width) / float(width) + eps);
      float *o = out + r * width;
      for (int64_t c = 0; c < width; ++c)
        o[c] = scale[c] * (x[c] * inv);
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
