//===- Int8Inputs.cpp - LLM.int8()'s input rows, quantized ----------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Before an LLM.int8() product each input row is split (Dettmers et al. 2022, §3.2): its
// non-outlier columns quantized to int8 by the row's absmax, its outlier columns rounded to
// fp16. Done element by element this took a third of SmolLM2 int8-t6's evaluation time
// (one division and one lround per input value, on one thread); here AVX-512 does 16
// columns per step, rows split among the threads, with exactly the scalar results:
// the same division, and lround's halves away from zero rebuilt from a truncation.
//
//===----------------------------------------------------------------------===//

#include "runtime/cpu/Kernels.h"
#include "runtime/cpu/KernelsInternal.h"
#include "runtime/params/Half.h"

#include <algorithm>
#include <cmath>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace midllama::rt::cpu {

namespace {

/// Row r as the scalar reference does it (and the portable path).
void quantizeRow(const float *x, int64_t k, const WeightRef &w, const uint8_t *outlier,
                 bool biased, LLMInt8Inputs &out, int64_t r) {
  float absmax = 0;
  for (int64_t j = 0; j < k; ++j)
    if (!outlier[j])
      absmax = std::max(absmax, std::fabs(x[j]));
  const float s = absmax / 127.0f;
  out.scale[size_t(r)] = s;
  for (int64_t j = 0; j < k; ++j) {
    int8_t q =
        outlier[j] || s == 0 ? 0 : int8_t(std::lround(std::clamp(x[j] / s, -127.0f, 127.0f)));
    if (biased)
      out.biased[size_t(r * out.stride + j)] = uint8_t(int32_t(q) + 128);
    else
      out.codes[size_t(r * k + j)] = q;
  }
  const int64_t c = w.numOutliers;
  for (int64_t o = 0; o < c; ++o)
    out.outliers[size_t(r * c + o)] = halfToFloat(floatToHalf(x[w.outlierColumns[o]]));
}

#if defined(__x86_64__) && defined(__GNUC__)
/// The same for one row, 16 columns per step; `keep[i]`: which of columns 16i.. are not
/// outliers (and exist).
__attribute__((target("avx512f"))) void quantizeRow512(const float *x, int64_t k,
                                                       const WeightRef &w,
                                                       const __mmask16 *keep, bool biased,
                                                       LLMInt8Inputs &out, int64_t r) {
  __m512 amax = _mm512_setzero_ps();
  for (int64_t j = 0, i = 0; j < k; j += 16, ++i) {
    __m512 a = _mm512_abs_ps(_mm512_maskz_loadu_ps(keep[i], x + j));
    amax = _mm512_max_ps(a, amax); // a NaN input is skipped, as std::max(absmax, NaN) does
  }
  const float s = _mm512_reduce_max_ps(amax) / 127.0f;
  out.scale[size_t(r)] = s;
  const __m512 vs = _mm512_set1_ps(s), lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
  const __m512 half = _mm512_set1_ps(0.5f);
  const __m512i signBit = _mm512_set1_epi32(int32_t(0x80000000u)),
                one = _mm512_castps_si512(_mm512_set1_ps(1.0f));
  const __m512i bias = _mm512_set1_epi32(biased ? 128 : 0);
  for (int64_t j = 0, i = 0; j < k; j += 16, ++i) {
    const __mmask16 valid = k - j >= 16 ? __mmask16(0xffff) : __mmask16((1u << (k - j)) - 1);
    __m512 v = _mm512_div_ps(_mm512_maskz_loadu_ps(valid, x + j), vs);
    v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
    // lround: the truncation, one step away from zero when the fraction is at least 1/2
    // (v - trunc(v) is exact below 2^23).
    __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __mmask16 away = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(v, t)), half, _CMP_GE_OQ);
    __m512 step = _mm512_castsi512_ps( // ±1 with v's sign
        _mm512_or_si512(_mm512_and_si512(_mm512_castps_si512(v), signBit), one));
    t = _mm512_mask_add_ps(t, away, t, step);
    __m512i q = _mm512_maskz_cvttps_epi32(s == 0 ? __mmask16(0) : keep[i], t);
    q = _mm512_add_epi32(q, bias);
    if (biased)
      _mm512_mask_cvtepi32_storeu_epi8(&out.biased[size_t(r * out.stride + j)], valid, q);
    else
      _mm512_mask_cvtepi32_storeu_epi8(&out.codes[size_t(r * k + j)], valid, q);
  }
  const int64_t c = w.numOutliers;
  for (int64_t o = 0; o < c; o += 16) {
    const __mmask16 valid = c - o >= 16 ? __mmask16(0xffff) : __mmask16((1u << (c - o)) - 1);
    __m512i cols = _mm512_maskz_loadu_epi32(valid, w.outlierColumns + o);
    __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), valid, cols, x, 4);
    v = _mm512_cvtph_ps(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    _mm512_mask_storeu_ps(&out.outliers[size_t(r * c + o)], valid, v);
  }
}
#endif

} // namespace

void quantizeLLMInt8Inputs(const float *in, int64_t rows, const WeightRef &w, bool biased,
                           LLMInt8Inputs &out) {
  const int64_t k = w.cols, c = w.numOutliers;
  std::vector<uint8_t> outlier(static_cast<size_t>(k), 0);
  for (int64_t o = 0; o < c; ++o)
    outlier[size_t(w.outlierColumns[o])] = 1;
  out.stride = (k + 3) / 4 * 4; // vpdpbusd reads whole 4-byte steps: padded with 128 (zero)
  out.scale.assign(size_t(rows), 0.0f);
  out.outliers.assign(size_t(rows * c), 0.0f);
  if (biased)
    out.biased.assign(size_t(rows * out.stride), 128);
  else
    out.codes.assign(size_t(rows * k), 0);
#if defined(__x86_64__) && defined(__GNUC__)
  if (haveAVX512()) {
    std::vector<__mmask16> keep(size_t((k + 15) / 16), 0);
    for (int64_t j = 0; j < k; ++j)
      if (!outlier[size_t(j)])
        keep[size_t(j / 16)] |= __mmask16(1u << (j % 16));
    parallelFor(rows, 4 * k, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r)
        quantizeRow512(in + r * k, k, w, keep.data(), biased, out, r);
    });
    return;
  }
#endif
  parallelFor(rows, 4 * k, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      quantizeRow(in + r * k, k, w, outlier.data(), biased, out, r);
  });
}

} // namespace midllama::rt::cpu
