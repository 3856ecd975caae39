//===- MatMulTilesAVX512.cpp - Tiled 2-8-bit and NF4 weights, fp32 input --===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Decode (1-3 input rows) of 2- to 6- and 8-bit affine and NF4 weights in the tiled layout
// (CodeTiles.cpp) with fp32 activations, the default: lane c of every vector is output
// row 16t + c, so a code shifted and masked out of each 32-bit lane is the column's code
// for 16 rows at once, converted to fp32 (NF4: looked up in the code book, one vpermps)
// and multiplied by the input value broadcast. The codes accumulate unscaled over a group
// (Σ q·x), then one multiply by the 16 rows' group scales and one for the zero point,
// minimum or symmetric offset times Σ x over the group: Σ (q - z)·s·x = s·Σ q·x - z·s·Σ x.
// No horizontal sums, no per-row scale expansion (the row-major kernels need both). The
// same values as the row-major kernels, summed in another order. Prefill's fp32 panels
// are decoded from the tiles here too (tilePanelsAVX512).
//
//===----------------------------------------------------------------------===//

#include "runtime/cpu/KernelsInternal.h"
#include "runtime/cpu/TileValues.h"
#include "runtime/format/Codebooks.h"

#include <algorithm>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif


namespace midllama::rt::cpu {

#if defined(__x86_64__) && defined(__GNUC__)
namespace {

#define MIDLLAMA_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

/// The Bits-wide field at `shift` of each 32-bit lane (the top one needs no mask).
template <int Bits> MIDLLAMA_AVX512 inline __m512i laneField(__m512i v, int shift, __m512i mask) {
  return shift == 32 - Bits ? _mm512_srli_epi32(v, shift)
                            : _mm512_and_si512(_mm512_srli_epi32(v, shift), mask);
}

/// What group g of tile t adds per unit of the input (w = q·s + offset; s its scales):
/// -z·s with zero points, -2^(Bits-1)·s symmetric, the minimum with one, nothing for NF4
/// (w = book[q]·s).
template <int Bits>
MIDLLAMA_AVX512 inline __m512 groupOffset(const WeightRef &w, __m512 s, int64_t t, int64_t g) {
  if (w.isNF4())
    return _mm512_setzero_ps();
  if (w.isAffineMin())
    return tileMins16(w, t, g);
  const int64_t slot = tileGroupSlot(w, t, g);
  if (!w.zeros)
    return _mm512_mul_ps(s, _mm512_set1_ps(-float(1 << (Bits - 1))));
  const __m128i z = _mm_load_si128(
      reinterpret_cast<const __m128i *>(static_cast<const uint8_t *>(w.tileOffsets) + slot));
  return _mm512_mul_ps(
      s, _mm512_sub_ps(_mm512_setzero_ps(), _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(z))));
}

/// Chunks of 64 bytes per tile block, codes per 32-bit lane of a chunk, and where a
/// block's plane of high bits starts (5 bits: the fifth; 6 bits: the top pairs; 3 bits:
/// the third).
template <int Bits> constexpr int kChunks = Bits == 8 ? 8 : Bits <= 3 ? 2 : 4;
template <int Bits> constexpr int kLaneCodes = Bits == 8 ? 4 : Bits <= 3 ? 16 : 8;
template <int Bits> constexpr int kPlaneAt = Bits == 5 || Bits == 6 ? 256 : Bits == 3 ? 128 : 0;

/// The plane of high bits that chunk q's codes need (zero where there is none): one per
/// block, except at 6 bits, where chunks 0-1 (columns 0-15) read the first of two.
template <int Bits> MIDLLAMA_AVX512 inline __m512i planeOf(const uint8_t *block, int q) {
  return kPlaneAt<Bits> ? _mm512_load_si512(block + kPlaneAt<Bits> + (Bits == 6 ? 64 * (q / 2) : 0))
                        : _mm512_setzero_si512();
}

/// Code s of each lane of chunk q of a 4-, 5- or 8-bit block (v; `plane` the block's fifth
/// bits at 5 bits), and its column in the block: 8 bits, byte s = column 4q + s; 4 and 5
/// bits, byte s/2's low
/// nibble = column 8q + s/2, its high nibble column 8q + 4 + s/2, plus (5 bits) bit
/// (column - 8q) of the lane's byte q of fifth bits as 16.
template <int Bits>
MIDLLAMA_AVX512 __attribute__((always_inline)) inline __m512i laneCode(__m512i v, __m512i plane,
                                                                       int q, int s, int &column) {
  if (Bits == 8) {
    column = 4 * q + s;
    return laneField<8>(v, 8 * s, _mm512_set1_epi32(0xff));
  }
  const int m = s / 2, high = s % 2;
  column = 8 * q + m + 4 * high;
  __m512i code = laneField<4>(v, 8 * m + 4 * high, _mm512_set1_epi32(0xf));
  if (Bits == 5)
    code = _mm512_or_si512(
        code, _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(plane, 8 * q + m + 4 * high),
                                                 _mm512_set1_epi32(1)),
                                4));
  return code;
}

/// The table laneValues looks codes up in: NF4's code book, or the codes themselves. vpermps
/// reads only the low 4 bits of each lane, so a shift exposes a 4-bit code with no mask and
/// no integer conversion; for 2 and 3 bits the table repeats every 4 (8) entries, so the
/// bits above the code that the shift leaves are ignored.
template <int Bits> MIDLLAMA_AVX512 inline __m512 codeBook(bool nf4) {
  if (nf4)
    return _mm512_loadu_ps(kNF4Values);
  if (Bits == 2)
    return _mm512_setr_ps(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3);
  if (Bits == 3)
    return _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7);
  return _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

/// Code s of each lane of chunk q as fp32 (book = codeBook<Bits>), and its column in the
/// block. 2 and 3 bits: bits 2s, 2s+1 of the lane = column 16q + s, 3 bits with its bit
/// of the plane (thirdBitOf) merged in as 4 by one vpternlogd; 4 bits (and NF4) one shift and
/// one lookup (3 operations per code with the FMA instead of 4); 6 bits the same for the
/// low 4, plus the top pair looked up as 0/16/32/48 from its byte of the plane (the low
/// nibble's byte: bits 4-5 for even chunks, 0-1 for odd ones, 2 higher for the high
/// nibble's column) and added (a 6-bit index is past what one vpermps reads); 5 and 8
/// bits laneCode.
template <int Bits>
MIDLLAMA_AVX512 __attribute__((always_inline)) inline __m512
laneValues(__m512i v, __m512i plane, int q, int s, __m512 book, bool nf4, int &column) {
  if (Bits == 4 || Bits == 6) {
    const int shift = 8 * (s / 2) + 4 * (s % 2);
    column = 8 * q + s / 2 + 4 * (s % 2);
    const __m512 low = _mm512_permutexvar_ps(shift ? _mm512_srli_epi32(v, shift) : v, book);
    if (Bits == 4)
      return low;
    const int pair = 8 * (s / 2) + (q % 2 ? 0 : 4) + 2 * (s % 2);
    const __m512 top = _mm512_permutexvar_ps(pair ? _mm512_srli_epi32(plane, pair) : plane,
                                             _mm512_setr_ps(0, 16, 32, 48, 0, 16, 32, 48, 0, 16,
                                                            32, 48, 0, 16, 32, 48));
    return _mm512_add_ps(low, top);
  }
  if (Bits <= 3) {
    column = 16 * q + s;
    __m512i low = s ? _mm512_srli_epi32(v, 2 * s) : v;
    if (Bits == 3) {
      const int at = thirdBitOf(column);
      const __m512i third =
          at >= 2 ? _mm512_srli_epi32(plane, at - 2) : _mm512_slli_epi32(plane, 2 - at);
      // (low & 3) | (third & ~3): 0xe4 selects A where C is set, B elsewhere.
      low = _mm512_ternarylogic_epi32(low, third, _mm512_set1_epi32(3), 0xe4);
    }
    return _mm512_permutexvar_ps(low, book);
  }
  const __m512i field = laneCode<Bits>(v, plane, q, s, column);
  return nf4 ? _mm512_permutexvar_ps(field, book) : _mm512_cvtepi32_ps(field);
}

/// 3 bits: chunk q's low pairs `v` with the third bits of its columns 4m + j (m = 0-3; 0-2
/// for j = 3) moved from the plane (thirdBitOf: bit 8m + 4q + j) to bit 8m + 2j + 2, just
/// above their pairs, by one shift of the plane and one vpternlogd for all four; column
/// 4m + j is then one shift of this by 8m + 2j from a code book lookup (bit 3 is the next
/// column's, which the repeating book ignores). Column 15's third bit would land on bit 32:
/// laneValues reads it. Before the lookups and FMAs, 25 operations per 16 codes where
/// laneValues alone spends 47 (a shift of each operand and a vpternlogd per code): int3
/// g128 decode 0.40 -> 0.53 of the streaming read (decode-bench, 1 thread).
MIDLLAMA_AVX512 inline __m512i mergeThirdBits(__m512i v, __m512i plane, int q, int j) {
  const int shift = 4 * q - j - 2; // plane bit 8m + 4q + j to bit 8m + 2j + 2
  const uint32_t above = 0x01010101u << (2 * j + 2); // (j = 3: m = 3's shifts out)
  const __m512i moved = shift > 0   ? _mm512_srli_epi32(plane, shift)
                        : shift < 0 ? _mm512_slli_epi32(plane, -shift)
                                    : plane;
  return _mm512_ternarylogic_epi32(moved, v, _mm512_set1_epi32(int(above)), 0xe4); // C ? A : B
}

/// Chunks Q0..Q1-1 of one 32-column block of T tiles (codes at src[t]) times R input rows
/// (`xb`, rows k apart), Σ code·x into the C chains of `part`. Inlined and unrolled whole:
/// the shifts are then immediates and the chains stay in registers (a runtime index into
/// `part`, or a call, would keep it in memory).
template <int R, int T, int C, int Bits, int Q0 = 0, int Q1 = kChunks<Bits>>
MIDLLAMA_AVX512 __attribute__((always_inline)) inline void
blockProducts(const uint8_t *const *src, const float *xb, int64_t k, bool nf4,
              __m512 (&part)[T][R][C]) {
  const __m512 book = codeBook<Bits>(nf4);
  __m512i plane[T];
  for (int t = 0; t < T; ++t)
    plane[t] = planeOf<Bits>(src[t], Q0);
#pragma GCC unroll 16
  for (int q = Q0; q < Q1; ++q) {
    __m512i v[T], merged[T][4];
    for (int t = 0; t < T; ++t) {
      v[t] = _mm512_load_si512(src[t] + 64 * q);
      if (Bits == 6 && q == 2 && Q0 < 2)
        plane[t] = planeOf<Bits>(src[t], q); // columns 16-31's pairs
      if constexpr (Bits == 3)
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j)
          merged[t][j] = mergeThirdBits(v[t], plane[t], q, j);
    }
#pragma GCC unroll 16
    for (int s = 0; s < kLaneCodes<Bits>; ++s) {
      for (int t = 0; t < T; ++t) {
        int column = 16 * q + s;
        const __m512 codes =
            Bits == 3 && s < 15
                ? _mm512_permutexvar_ps(s ? _mm512_srli_epi32(merged[t][s % 4], 2 * s)
                                          : merged[t][0],
                                        book)
                : laneValues<Bits>(v[t], plane[t], q, s, book, nf4, column);
        for (int r = 0; r < R; ++r)
          part[t][r][s % C] =
              _mm512_fmadd_ps(codes, _mm512_set1_ps(xb[r * k + column]), part[t][r][s % C]);
      }
    }
  }
}

/// How far ahead of a tile's stream of codes groupProducts prefetches. Measured
/// (decode-bench, 4096x4096, fraction of the streaming read, 2 alternating rounds): 2 KiB
/// held 1 thread at 0.68-0.71 for int4 (Q4_0, Q4_1, GPTQ g128) and 0.77-0.78 for int8;
/// 8 KiB ran them at 0.83-0.93 and 0.94-0.96 (2 threads: int4 0.61-0.87 -> 0.92-0.97);
/// 16 and 32 KiB no better. The 2-, 3- and 6-bit kernels are bound by their decoding, not
/// the read, and ran the same at every distance. At ~37 GB/s 8 KiB is ~220 ns ahead: the
/// 2 KiB of before was less than one memory latency when decoding slowed the stream.
constexpr int64_t kTilePrefetchAhead = 8192;

/// The blocks of T tiles from t0 holding group g's columns times R input rows, Σ code·x
/// into `part`: the blocks of a group of 32·n columns, or half a block (its chunks 0-1 or
/// 2-3) for 6-bit groups of 16.
template <int R, int T, int C, int Bits>
MIDLLAMA_AVX512 __attribute__((always_inline)) inline void
groupProducts(const float *x, const WeightRef &w, int64_t t0, int64_t g,
              __m512 (&part)[T][R][C]) {
  constexpr int64_t kBlockBytes = 16 * 32 * Bits / 8;
  const int64_t k = w.cols, blocks = k / 32;
  const int64_t bBegin = Bits == 6 && w.groupSize == 16 ? g / 2 : g * (w.groupSize / 32);
  const int64_t bEnd = Bits == 6 && w.groupSize == 16 ? bBegin + 1
                                                      : std::min(blocks, bBegin + w.groupSize / 32);
  for (int64_t b = bBegin; b < bEnd; ++b) {
    const uint8_t *src[T];
    for (int t = 0; t < T; ++t) {
      src[t] = w.tileCodes + ((t0 + t) * blocks + b) * kBlockBytes;
      // The stream kTilePrefetchAhead bytes ahead: this VM's prefetchers alone leave loads
      // waiting (a half block prefetches its whole block's lines: the other half's are
      // then in flight).
      if (Bits != 6 || w.groupSize != 16 || g % 2 == 0)
        for (int line = 0; line < kBlockBytes / 64; ++line)
          _mm_prefetch(reinterpret_cast<const char *>(src[t] + kTilePrefetchAhead + 64 * line),
                       _MM_HINT_T0);
    }
    if (Bits == 6 && w.groupSize == 16)
      g % 2 ? blockProducts<R, T, C, Bits, 2, 4>(src, x + 32 * b, k, false, part)
            : blockProducts<R, T, C, Bits, 0, 2>(src, x + 32 * b, k, false, part);
    else
      blockProducts<R, T, C, Bits>(src, x + 32 * b, k, w.isNF4(), part);
  }
}

/// Outputs of T tiles from t0 for R input rows (`x`, rows k apart; `xsum` their Σ x per
/// group). C independent chains per tile and row keep the FMA units fed.
template <int R, int T, int Bits>
MIDLLAMA_AVX512 void tileDot(const float *x, const float *xsum, const WeightRef &w, int64_t t0,
                             float *out, int64_t ld) {
  constexpr int C = R == 1 ? 4 : 2;
  const int64_t groups = tileGroups(w);
  __m512 acc[T][R];
  for (int t = 0; t < T; ++t)
    for (int r = 0; r < R; ++r)
      acc[t][r] = _mm512_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    __m512 part[T][R][C];
    for (int t = 0; t < T; ++t)
      for (int r = 0; r < R; ++r)
        for (int c = 0; c < C; ++c)
          part[t][r][c] = _mm512_setzero_ps();
    groupProducts<R, T, C, Bits>(x, w, t0, g, part);
    for (int t = 0; t < T; ++t) {
      const __m512 s = tileScales16(w, t0 + t, g);
      const __m512 offset = groupOffset<Bits>(w, s, t0 + t, g);
      for (int r = 0; r < R; ++r) {
        __m512 sum = part[t][r][0];
        for (int c = 1; c < C; ++c)
          sum = _mm512_add_ps(sum, part[t][r][c]);
        acc[t][r] = _mm512_fmadd_ps(s, sum, acc[t][r]);
        acc[t][r] = _mm512_fmadd_ps(offset, _mm512_set1_ps(xsum[r * groups + g]), acc[t][r]);
      }
    }
  }
  for (int t = 0; t < T; ++t)
    for (int r = 0; r < R; ++r)
      _mm512_storeu_ps(out + r * ld + 16 * t, acc[t][r]);
}

template <int R, int Bits>
MIDLLAMA_AVX512 void tiledRows(const float *in, const float *xsum, float *out, int64_t ld,
                               const WeightRef &w, int64_t begin, int64_t end) {
  // One tile at a time: the codes are then read as one sequential stream (tiles are
  // adjacent), which the prefetches kTilePrefetchAhead bytes ahead keep in flight. Two
  // tiles at once (two streams 4.6 KB apart on SmolLM2) ran its Q4_0 decode at 119-130
  // tok/s, one at 133-150.
  for (int64_t t = begin / 16; t < end / 16; ++t)
    tileDot<R, 1, Bits>(in, xsum, w, t, out + (16 * t - begin), ld);
}

template <int R>
void tiledRowsOf(const float *in, const float *xsum, float *out, int64_t ld, const WeightRef &w,
                 int64_t begin, int64_t end) {
  w.bits == 8   ? tiledRows<R, 8>(in, xsum, out, ld, w, begin, end)
  : w.bits == 6 ? tiledRows<R, 6>(in, xsum, out, ld, w, begin, end)
  : w.bits == 5 ? tiledRows<R, 5>(in, xsum, out, ld, w, begin, end)
  : w.bits == 3 ? tiledRows<R, 3>(in, xsum, out, ld, w, begin, end)
  : w.bits == 2 ? tiledRows<R, 2>(in, xsum, out, ld, w, begin, end)
                : tiledRows<R, 4>(in, xsum, out, ld, w, begin, end);
}

/// Tile t's values (q·s + offset per 16-row group) as an fp32 panel: panel[i·16 + l] =
/// row 16t + l, column i.
template <int Bits> MIDLLAMA_AVX512 void tilePanel(const WeightRef &w, int64_t t, float *panel) {
  constexpr int64_t kBlockBytes = 16 * 32 * Bits / 8;
  const int64_t blocks = w.cols / 32;
  const bool nf4 = w.isNF4();
  const __m512 book = codeBook<Bits>(nf4);
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t *src = w.tileCodes + (t * blocks + b) * kBlockBytes;
    __m512 s, offset;
#pragma GCC unroll 16
    for (int q = 0; q < kChunks<Bits>; ++q) {
      // The group's values once per block (6-bit groups of 16: again for chunks 2-3).
      if (q == 0 || (Bits == 6 && q == 2)) {
        const int64_t g = (32 * b + 8 * q) / w.groupSize;
        s = tileScales16(w, t, g);
        offset = groupOffset<Bits>(w, s, t, g);
      }
      const __m512i v = _mm512_load_si512(src + 64 * q), plane = planeOf<Bits>(src, q);
#pragma GCC unroll 16
      for (int sh = 0; sh < kLaneCodes<Bits>; ++sh) {
        int column;
        const __m512 codes = laneValues<Bits>(v, plane, q, sh, book, nf4, column);
        _mm512_storeu_ps(panel + (32 * b + column) * 16, _mm512_fmadd_ps(codes, s, offset));
      }
    }
  }
}

/// Σ x over each group of columns of each input row, 16 columns at a time (groups are
/// whole blocks of 32): the gate/up product calls the kernel per 64 output columns, so
/// this runs dozens of times per product and must cost little beside the weights.
MIDLLAMA_AVX512 void groupSums(const float *in, int64_t rows, const WeightRef &w, float *xsum) {
  const int64_t k = w.cols, groups = tileGroups(w);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < groups; ++g) {
      __m512 sum = _mm512_setzero_ps();
      for (int64_t c = g * w.groupSize; c < std::min(k, (g + 1) * w.groupSize); c += 16)
        sum = _mm512_add_ps(sum, _mm512_loadu_ps(in + r * k + c));
      xsum[r * groups + g] = _mm512_reduce_add_ps(sum);
    }
}

} // namespace

void tilePanelsAVX512(const WeightRef &w, int64_t j0, int panels, float *panel) {
  for (int c = 0; c < panels; ++c)
    w.bits == 8   ? tilePanel<8>(w, j0 / 16 + c, panel + c * w.cols * 16)
    : w.bits == 6 ? tilePanel<6>(w, j0 / 16 + c, panel + c * w.cols * 16)
    : w.bits == 5 ? tilePanel<5>(w, j0 / 16 + c, panel + c * w.cols * 16)
    : w.bits == 3 ? tilePanel<3>(w, j0 / 16 + c, panel + c * w.cols * 16)
    : w.bits == 2 ? tilePanel<2>(w, j0 / 16 + c, panel + c * w.cols * 16)
                  : tilePanel<4>(w, j0 / 16 + c, panel + c * w.cols * 16);
}

void tiledRowsAVX512(const float *in, float *out, int64_t ld, int64_t rows, const WeightRef &w,
                     int64_t begin, int64_t end) {
  thread_local std::vector<float> xsum;
  xsum.resize(size_t(rows * tileGroups(w)));
  groupSums(in, rows, w, xsum.data());
  if (rows == 1)
    tiledRowsOf<1>(in, xsum.data(), out, ld, w, begin, end);
  else if (rows == 2)
    tiledRowsOf<2>(in, xsum.data(), out, ld, w, begin, end);
  else
    tiledRowsOf<3>(in, xsum.data(), out, ld, w, begin, end);
}
#else
void tilePanelsAVX512(const WeightRef &, int64_t, int, float *) {}
void tiledRowsAVX512(const float *, float *, int64_t, int64_t, const WeightRef &, int64_t,
                     int64_t) {}
#endif

} // namespace midllama::rt::cpu
