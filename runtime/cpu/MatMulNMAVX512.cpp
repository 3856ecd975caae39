//===- MatMulNMAVX512.cpp - Decode of 2:4-pruned weights in place ---------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Decode (1-3 input rows) of a 2:4-pruned weight stored as its kept fp32 or fp16 values
// and their 2-bit positions (SparseGPT/Wanda/GBLM with pattern=2:4), without expanding
// rows: 16 kept values cover 32 input columns, and one vpermt2ps picks the 16 inputs they
// multiply out of those 32 (lane l takes column 4·(l/2) + its position), so the work is
// one multiply-add per kept value, none for the pruned half. Expanding each row to K
// values first, as before, ran SmolLM2's 2:4 models at 0.15x of the dense model's decode.
//
//===----------------------------------------------------------------------===//

#include "runtime/cpu/KernelsInternal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace midllama::rt::cpu {

#if defined(__x86_64__) && defined(__GNUC__)
namespace {

#define MIDLLAMA_AVX512 __attribute__((target("avx512f,avx512vl")))

/// 16 kept values from `at` (fp32 or fp16) as fp32.
MIDLLAMA_AVX512 inline __m512 keptValues(const void *data, bool half, int64_t at) {
  if (half)
    return _mm512_cvtph_ps(_mm256_loadu_si256(
        reinterpret_cast<const __m256i *>(static_cast<const uint16_t *>(data) + at)));
  return _mm512_loadu_ps(static_cast<const float *>(data) + at);
}

/// The columns (0-31) of the 16 kept values of 32 columns, from their 16 2-bit positions
/// at `index`: lane l's run starts at column 4·(l/2), its position is bits 2l and 2l+1.
MIDLLAMA_AVX512 inline __m512i keptColumns(const uint8_t *index) {
  const __m512i runStart =
      _mm512_setr_epi32(0, 0, 4, 4, 8, 8, 12, 12, 16, 16, 20, 20, 24, 24, 28, 28);
  const __m512i shifts =
      _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  uint32_t word;
  std::memcpy(&word, index, 4);
  return _mm512_add_epi32(runStart, _mm512_and_si512(_mm512_srlv_epi32(
                                                         _mm512_set1_epi32(int(word)), shifts),
                                                     _mm512_set1_epi32(3)));
}

template <int R>
MIDLLAMA_AVX512 void nm24Rows(const float *in, float *out, int64_t ld, const WeightRef &w,
                              int64_t begin, int64_t end) {
  const int64_t k = w.cols, keptPerRow = k / 2;
  const bool half = w.dtype == DType::F16;
  for (int64_t j = begin; j < end; ++j) {
    const uint8_t *index = w.index + j * w.indexRowBytes;
    const int64_t row = j * keptPerRow;
    __m512 acc[R][2];
    for (int r = 0; r < R; ++r)
      acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int64_t c = 0; c < k; c += 32) {
      // 8 KiB ahead (1 KiB until 2026-12-05): SmolLM2 magnitude-2:4 decode, 1 thread,
      // alternating: 92-97 tok/s at 1 KiB, 106-109 at 4, 115-118 at 8, 112-119 at 16.
      _mm_prefetch(static_cast<const char *>(w.data) + (row + c / 2) * (half ? 2 : 4) + 8192,
                   _MM_HINT_T0);
      const __m512i lanes = keptColumns(index + c / 8);
      const __m512 v = keptValues(w.data, half, row + c / 2);
      const int a = int(c / 32) & 1; // two chains per row
      for (int r = 0; r < R; ++r) {
        const float *x = in + r * k + c;
        const __m512 picked =
            _mm512_permutex2var_ps(_mm512_loadu_ps(x), lanes, _mm512_loadu_ps(x + 16));
        acc[r][a] = _mm512_fmadd_ps(v, picked, acc[r][a]);
      }
    }
    for (int r = 0; r < R; ++r)
      out[r * ld + (j - begin)] = _mm512_reduce_add_ps(_mm512_add_ps(acc[r][0], acc[r][1]));
  }
}

/// Row n expanded to K values (prefill decodes every row per call): per 16 output columns
/// (4 runs, kept lanes 8h..8h+7), each column takes the value of its run's second kept lane
/// if that lane's position is the column, else of the first if its is, else zero (a
/// repeated position keeps the later value, as the scalar walk does): lane permutes and
/// compares, no scatter (vscatterdps, one per 32 columns, was 6% of SmolLM2 2:4's
/// evaluation, its prefill 0.93x the dense model's).
MIDLLAMA_AVX512 void nm24Values(const WeightRef &w, int64_t n, float *dst) {
  const int64_t k = w.cols, keptPerRow = k / 2;
  const bool half = w.dtype == DType::F16;
  const uint8_t *index = w.index + n * w.indexRowBytes;
  const __m512i column = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i firstOfRun = _mm512_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2, 4, 4, 4, 4, 6, 6, 6, 6);
  for (int64_t c = 0; c < k; c += 32) {
    const __m512i lanes = keptColumns(index + c / 8);
    const __m512 v = keptValues(w.data, half, n * keptPerRow + c / 2);
    for (int h = 0; h < 2; ++h) {
      const __m512i first = _mm512_add_epi32(firstOfRun, _mm512_set1_epi32(8 * h));
      const __m512i second = _mm512_add_epi32(first, _mm512_set1_epi32(1));
      const __m512i want = _mm512_add_epi32(column, _mm512_set1_epi32(16 * h));
      const __mmask16 fromFirst =
          _mm512_cmpeq_epi32_mask(_mm512_permutexvar_epi32(first, lanes), want);
      const __mmask16 fromSecond =
          _mm512_cmpeq_epi32_mask(_mm512_permutexvar_epi32(second, lanes), want);
      const __m512 out = _mm512_mask_permutexvar_ps(
          _mm512_maskz_permutexvar_ps(fromFirst, first, v), fromSecond, second, v);
      _mm512_storeu_ps(dst + c + 16 * h, out);
    }
  }
}

} // namespace

bool nm24FastPath(const WeightRef &w, int64_t rows) {
  return rows < 4 && nm24RowValuesApply(w);
}

bool nm24RowValuesApply(const WeightRef &w) {
  return w.sparse == SparsityKind::NM && w.nmN == 2 && w.nmM == 4 && !w.isQuantized() &&
         (w.dtype == DType::F32 || w.dtype == DType::F16) && w.cols % 32 == 0 &&
         w.indexRowBytes * 8 >= w.cols && haveAVX512();
}

void nm24RowValues(const WeightRef &w, int64_t n, float *dst) { nm24Values(w, n, dst); }

void nm24RowsAVX512(const float *in, float *out, int64_t ld, int64_t rows, const WeightRef &w,
                    int64_t begin, int64_t end) {
  if (rows == 1)
    nm24Rows<1>(in, out, ld, w, begin, end);
  else if (rows == 2)
    nm24Rows<2>(in, out, ld, w, begin, end);
  else
    nm24Rows<3>(in, out, ld, w, begin, end);
}
#else
bool nm24FastPath(const WeightRef &, int64_t) { return false; }
bool nm24RowValuesApply(const WeightRef &) { return false; }
void nm24RowValues(const WeightRef &, int64_t, float *) {}
void nm24RowsAVX512(const float *, float *, int64_t, int64_t, const WeightRef &, int64_t, int64_t) {
}
#endif

} // namespace midllama::rt::cpu
