//===- MatMulNF4BF16Decode.cpp - NF4 decode with bf16 products (AVX512_BF16) ===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Decode (1-3 input rows) of tiled NF4 weights (CodeTiles.cpp) under --bf16-activations.
// With fp32 activations each code costs a shift, a vpermps into the code book and an FMA
// for 16 rows, and one thread reached only 0.60 of the streaming read (decode-bench,
// 4096x4096): the instructions, not the memory, set the pace, and NF4's values are no
// integers for vpdpbusd. Here the code book is held as bf16 in one register and vpermw
// looks up two codes per 32-bit lane at once: it reads 5 bits of each 16-bit index, so a
// lane shifted by 4p has a code in each half (bits 4p and 16 + 4p: columns 8q + {0, 2},
// {4, 6}, {1, 3}, {5, 7} of chunk q for p = 0..3) and the bit above each code only picks
// the book's second copy. vdpbf16ps then multiplies the pair by the input's bf16 pair and
// sums in fp32: per 64-byte chunk 3 shifts, 4 lookups and 4 dot products for 128 weights,
// where the fp32 kernel needs 7, 8 and 8. Per block of the code book (absmax) the sums
// are scaled in fp32, so the only roundings are the input's and the book's to bf16 (nearest
// even), as the prefill's; its decoded weights are rounded after scaling, so prefill and
// decode of the same row may differ in the last bits.
//
//===----------------------------------------------------------------------===//

#include "runtime/cpu/KernelsInternal.h"
#include "runtime/cpu/TileValues.h"
#include "runtime/format/Codebooks.h"

#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace midllama::rt::cpu {

bool nf4Bf16DecodePath(const WeightRef &w, int64_t rows) {
  return bf16Activations() && rows >= 1 && rows < 4 && w.isNF4() && w.tileCodes &&
         bf16ActivationsAvailable();
}

#if defined(__x86_64__) && defined(__GNUC__)
namespace {

#define MIDLLAMA_BF16 __attribute__((target("avx512f,avx512bw,avx512bf16")))

/// The input's bf16 pairs in the order the lookups give the codes: per 8 columns,
/// (0, 2), (4, 6), (1, 3), (5, 7), the first of each pair in the low half.
MIDLLAMA_BF16 void pairInputs(const float *in, int64_t rows, int64_t k, uint32_t *pairs) {
  // Word 2i (+1) of a block of 32 columns' pairs is column order[2i] (order[2i + 1]).
  alignas(64) static constexpr uint16_t kOrder[32] = {0,  2,  4,  6,  1,  3,  5,  7,
                                                      8,  10, 12, 14, 9,  11, 13, 15,
                                                      16, 18, 20, 22, 17, 19, 21, 23,
                                                      24, 26, 28, 30, 25, 27, 29, 31};
  const __m512i order = _mm512_load_si512(kOrder);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < k; c += 32) {
      const float *x = in + r * k + c;
      const __m512i bf16 = reinterpret_cast<__m512i>(
          _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + 16), _mm512_loadu_ps(x)));
      _mm512_storeu_si512(pairs + (r * k + c) / 2, _mm512_permutexvar_epi16(order, bf16));
    }
}

/// Outputs of tile t for R input rows: per group (block of the code book's absmax) the
/// codes' products in C chains, then scaled by the 16 rows' absmax.
template <int R>
MIDLLAMA_BF16 void tileDot(const uint32_t *pairs, const WeightRef &w, int64_t t, __m512i book,
                           float *out, int64_t ld) {
  constexpr int C = R == 1 ? 4 : 2;
  constexpr int64_t kBlockBytes = 256;
  const int64_t k = w.cols, blocks = k / 32, groups = tileGroups(w), perGroup = w.groupSize / 32;
  __m512 acc[R];
  for (int r = 0; r < R; ++r)
    acc[r] = _mm512_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    __m512 part[R][C];
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < C; ++c)
        part[r][c] = _mm512_setzero_ps();
    for (int64_t b = g * perGroup; b < (g + 1) * perGroup; ++b) {
      const uint8_t *src = w.tileCodes + (t * blocks + b) * kBlockBytes;
      // The stream 4 KiB ahead (2 KiB, as the fp32 kernel's, ran at 0.75-0.79 of the
      // streaming read, 4 KiB at 0.84-0.86: decode-bench 4096x4096, 1 thread).
      for (int line = 0; line < 4; ++line)
        _mm_prefetch(reinterpret_cast<const char *>(src + 4096 + 64 * line), _MM_HINT_T0);
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) {
        const __m512i v = _mm512_load_si512(src + 64 * q);
#pragma GCC unroll 4
        for (int p = 0; p < 4; ++p) {
          const __m512i values =
              _mm512_permutexvar_epi16(p ? _mm512_srli_epi32(v, 4 * p) : v, book);
          for (int r = 0; r < R; ++r) {
            const __m512i x = _mm512_set1_epi32(int(pairs[(r * k + 32 * b + 8 * q) / 2 + p]));
            __m512 &sum = part[r][(4 * q + p) % C];
            sum = _mm512_dpbf16_ps(sum, reinterpret_cast<__m512bh>(values),
                                   reinterpret_cast<__m512bh>(x));
          }
        }
      }
    }
    const __m512 s = tileScales16(w, t, g);
    for (int r = 0; r < R; ++r) {
      __m512 sum = part[r][0];
      for (int c = 1; c < C; ++c)
        sum = _mm512_add_ps(sum, part[r][c]);
      acc[r] = _mm512_fmadd_ps(s, sum, acc[r]);
    }
  }
  for (int r = 0; r < R; ++r)
    _mm512_storeu_ps(out + r * ld, acc[r]);
}

} // namespace

MIDLLAMA_BF16 void nf4TiledRowsBf16(const float *in, float *out, int64_t ld, int64_t rows,
                                    const WeightRef &w, int64_t begin, int64_t end) {
  thread_local std::vector<uint32_t> pairs;
  pairs.resize(size_t(rows * w.cols / 2));
  pairInputs(in, rows, w.cols, pairs.data());
  // The book twice (entries 16-31 = 0-15): vpermw's fifth index bit is the next code's.
  const __m512 book16 = _mm512_loadu_ps(kNF4Values);
  const __m512i book = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(book16, book16));
  for (int64_t t = begin / 16; t < end / 16; ++t) {
    float *o = out + (16 * t - begin);
    rows == 1   ? tileDot<1>(pairs.data(), w, t, book, o, ld)
    : rows == 2 ? tileDot<2>(pairs.data(), w, t, book, o, ld)
                : tileDot<3>(pairs.data(), w, t, book, o, ld);
  }
}
#else
void nf4TiledRowsBf16(const float *, float *, int64_t, int64_t, const WeightRef &, int64_t,
                      int64_t) {}
#endif

} // namespace midllama::rt::cpu
