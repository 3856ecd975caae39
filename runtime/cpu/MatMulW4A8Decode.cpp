//===- MatMulW4A8Decode.cpp - 4-bit weights times int8 activations, decode ===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The decode side (1-3 input rows) of MatMulW4A8VNNI.cpp: the same int8 activations
// (blocks of 32 columns, as llama.cpp's Q8_0), the same 4-bit affine weights, but every
// weight row read in place, 64 columns (32 bytes) at a time: low and high nibbles are the
// even and odd columns of each 32-column block, so the input block is permuted once per call
// to [even columns, odd columns] and one vpdpbusd multiplies two blocks; its 16 int32 lanes
// (8 per block) are converted and scaled by the block's activation scale times the weight
// group's scale. The zero point (or minimum) term is one dot product per row, over groups:
// Σ_g offset_g · (Σ_{b in g} sx_b Σ xq_b).
//
//===----------------------------------------------------------------------===//

#include "runtime/cpu/KernelsInternal.h"
#include "runtime/cpu/LaneMasks.h"
#include "runtime/cpu/TileValues.h"
#include "runtime/params/Half.h"

#include <algorithm>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace midllama::rt::cpu {

bool w4a8DecodePath(const WeightRef &w, int64_t rows) {
  // Rows read as stored need the scales as stored (a K-quant's are dropped when tiled whole).
  // 2, 3, 5, 6 and 8 bits: tiled only; 6 bits in groups of 16 (ggml's Q6_K) too.
  const bool tiledWhole = w.tileCodes && w.rows % 16 == 0;
  const bool tiledWidth = w.bits == 2 || w.bits == 3 || w.bits == 5 || w.bits == 6 || w.bits == 8;
  return int8Activations() && rows >= 1 && rows < 4 && w.hasCodeGroups() &&
         (w.scales || tiledWhole) && (w.bits == 4 || (tiledWidth && tiledWhole)) &&
         w.sparse == SparsityKind::None &&
         (w.groupSize % 32 == 0 || (w.bits == 6 && w.groupSize == 16)) && w.cols % 32 == 0 &&
         haveAVX512VNNI();
}

#if defined(__x86_64__) && defined(__GNUC__)
namespace {

#define MIDLLAMA_VNNI __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))

/// The nibbles of 16 code bytes (one 32-column block): [low nibbles, high nibbles].
MIDLLAMA_VNNI inline __m256i splitNibbles(__m128i bytes) {
  const __m128i mask = _mm_set1_epi8(0x0f);
  __m128i lo = _mm_and_si128(bytes, mask), hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
  return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}

/// 16 values from `at` (fewer under `mask`) of an fp32 or fp16 array, as fp32.
MIDLLAMA_VNNI inline __m512 loadScales(const void *data, DType dtype, int64_t at, __mmask16 mask) {
  if (dtype == DType::F16)
    return _mm512_maskz_cvtph_ps( // (the unmasked form trips GCC 12's uninitialized check)
        mask, _mm256_maskz_loadu_epi16(mask, static_cast<const uint16_t *>(data) + at));
  return _mm512_maskz_loadu_ps(mask, static_cast<const float *>(data) + at);
}

/// Row j's group scales as fp32 into `scale`, and Σ_g offset_g · groupSum[r][g] for each
/// input row (offset = z·s, 8·s when symmetric, -min with a minimum), 16 groups at a time.
template <int R>
MIDLLAMA_VNNI void rowGroups(const WeightRef &w, int64_t j, const float *groupSum, float *scale,
                             float *offset) {
  const int64_t groups = w.groups;
  __m512 acc[R];
  for (int r = 0; r < R; ++r)
    acc[r] = _mm512_setzero_ps();
  const bool symmetric = !w.isAffineMin() && !w.zeros; // its zero is in the dot products
  for (int64_t g = 0; g < groups; g += 16) {
    const __mmask16 mask = lanesBelow(groups - g);
    const int64_t at = j * groups + g;
    __m512 s = loadScales(w.scales, w.dtype, at, mask), off;
    if (symmetric) {
      _mm512_mask_storeu_ps(scale + g, mask, s);
      continue;
    }
    if (w.isAffineMin())
      off = _mm512_sub_ps(_mm512_setzero_ps(), loadScales(w.mins, w.dtype, at, mask));
    else if (w.zeros)
      off = _mm512_mul_ps(
          s, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mask, w.zeros + at))));
    else
      off = _mm512_mul_ps(s, _mm512_set1_ps(8.0f));
    _mm512_mask_storeu_ps(scale + g, mask, s);
    for (int r = 0; r < R; ++r)
      acc[r] = _mm512_fmadd_ps(off, _mm512_maskz_loadu_ps(mask, groupSum + r * groups + g), acc[r]);
  }
  for (int r = 0; r < R; ++r)
    offset[r] = _mm512_reduce_add_ps(acc[r]);
}

/// The two 32-column blocks of codes at `codes` as vpdpbusd's unsigned operand, in the
/// permuted input's order.
MIDLLAMA_VNNI inline __m512i blockPair(const uint8_t *codes) {
  return _mm512_inserti64x4(
      _mm512_castsi256_si512(
          splitNibbles(_mm_loadu_si128(reinterpret_cast<const __m128i *>(codes)))),
      splitNibbles(_mm_loadu_si128(reinterpret_cast<const __m128i *>(codes + 16))), 1);
}

/// What every weight row of a call shares: the permuted input rows, Σ sx·Σxq per group,
/// and each block's group.
struct DecodeInput {
  const Int8Activations &x;
  const int8_t *perm;
  const float *groupSum;
  /// Symmetric weights (implicit zero 8): per input row and pair of blocks, -8·Σxq of
  /// each block in the first lane of its half, where vpdpbusd starts accumulating: the
  /// zero point costs no instruction in the loop. Null otherwise.
  const int32_t *zeroTerm; // 16 lanes per entry
  const int32_t *blockGroup;
};

/// Outputs of J consecutive weight rows from j for R input rows. J rows at once share the
/// input's loads and keep J·R independent accumulator chains in flight.
template <int R, int J>
MIDLLAMA_VNNI void rowBlock(const DecodeInput &in, const WeightRef &w, int64_t j, float *out,
                            int64_t ld) {
  const int64_t k = w.cols, blocks = k / 32, groups = w.groups;
  const float *xs = in.x.scale.data();
  float scale[J][64 + 16], offset[J][R];
  thread_local std::vector<float> wide; // rows with more than 64 groups
  float *scales[J];
  if (groups > 64)
    wide.resize(size_t(J * (groups + 16)));
  for (int i = 0; i < J; ++i) {
    scales[i] = groups > 64 ? wide.data() + i * (groups + 16) : scale[i];
    rowGroups<R>(w, j + i, in.groupSum, scales[i], offset[i]);
  }
  __m512 acc[J][R];
  for (int i = 0; i < J; ++i)
    for (int r = 0; r < R; ++r)
      acc[i][r] = _mm512_setzero_ps();
  int64_t b = 0;
  const int64_t pairs = blocks / 2;
  for (; b + 2 <= blocks; b += 2) {
    __m512i a[R], start[R];
    for (int r = 0; r < R; ++r) {
      a[r] = _mm512_loadu_si512(in.perm + r * k + 32 * b);
      start[r] = in.zeroTerm ? _mm512_loadu_si512(in.zeroTerm + 16 * (r * (pairs + 1) + b / 2))
                             : _mm512_setzero_si512();
    }
    const int32_t g0 = in.blockGroup[b], g1 = in.blockGroup[b + 1];
    for (int i = 0; i < J; ++i) {
      __m512i wv = blockPair(w.codes + (j + i) * w.codeRowBytes + 16 * b);
      const float s0 = scales[i][g0], s1 = scales[i][g1];
      for (int r = 0; r < R; ++r) {
        __m512i d = _mm512_dpbusd_epi32(start[r], wv, a[r]);
        __m512 sc = _mm512_insertf32x8(_mm512_set1_ps(s0 * xs[r * blocks + b]),
                                       _mm256_set1_ps(s1 * xs[r * blocks + b + 1]), 1);
        acc[i][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), sc, acc[i][r]);
      }
    }
  }
  if (b < blocks) { // an odd number of blocks: the last alone, the upper lanes zero
    const int32_t g0 = in.blockGroup[b];
    for (int i = 0; i < J; ++i) {
      const uint8_t *codes = w.codes + (j + i) * w.codeRowBytes + 16 * b;
      __m512i wv = _mm512_zextsi256_si512(
          splitNibbles(_mm_loadu_si128(reinterpret_cast<const __m128i *>(codes))));
      for (int r = 0; r < R; ++r) {
        __m512i a = _mm512_zextsi256_si512(
            _mm256_loadu_si256(reinterpret_cast<const __m256i *>(in.perm + r * k + 32 * b)));
        __m512i d = _mm512_dpbusd_epi32(
            in.zeroTerm ? _mm512_loadu_si512(in.zeroTerm + 16 * (r * (pairs + 1) + pairs))
                        : _mm512_setzero_si512(),
            wv, a);
        acc[i][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d),
                                    _mm512_set1_ps(scales[i][g0] * xs[r * blocks + b]), acc[i][r]);
      }
    }
  }
  for (int i = 0; i < J; ++i)
    for (int r = 0; r < R; ++r)
      out[r * ld + i] = _mm512_reduce_add_ps(acc[i][r]) - offset[i][r];
}

/// Per input row and pair of blocks, 16 lanes: [sx_b x8, sx_b+1 x8] (the activation
/// scales as the pair's lanes need them) and, for weights with a minimum, [sx_b·Σxq_b / 8
/// x8, ...] (what each lane's share of the minimum multiplies).
struct PairScales {
  const float *scale, *sum;
};

/// The fp16 values v[b], v[b + 1] as [v_b x8, v_b+1 x8].
MIDLLAMA_VNNI inline __m512 halfPair(const uint16_t *v) {
  int32_t two;
  std::memcpy(&two, v, 4);
  const __m256i spread = _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2,
                                          3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3);
  return _mm512_maskz_cvtph_ps(0xffff, _mm256_shuffle_epi8(_mm256_set1_epi32(two), spread));
}

/// rowBlock for the formats of llama.cpp's Q4_0 and Q4_1 (groups of 32, fp16 scales,
/// symmetric or with a minimum): each pair's scales (and minimums) expanded from their
/// fp16 bits in the loop, no per-row preparation.
template <int R, int J, bool Min>
MIDLLAMA_VNNI void rowBlock32(const DecodeInput &in, const PairScales &ps, const WeightRef &w,
                              int64_t j, float *out, int64_t ld) {
  const int64_t k = w.cols, blocks = k / 32, pairs = blocks / 2;
  const uint16_t *scales = static_cast<const uint16_t *>(w.scales) + j * blocks;
  const uint16_t *mins = static_cast<const uint16_t *>(w.mins) + j * blocks;
  __m512 acc[J][R];
  for (int i = 0; i < J; ++i)
    for (int r = 0; r < R; ++r)
      acc[i][r] = _mm512_setzero_ps();
  for (int64_t p = 0; p < pairs; ++p) {
    const int64_t b = 2 * p;
    __m512i a[R], start[R];
    for (int r = 0; r < R; ++r) {
      a[r] = _mm512_loadu_si512(in.perm + r * k + 32 * b);
      start[r] = Min ? _mm512_setzero_si512()
                     : _mm512_loadu_si512(in.zeroTerm + 16 * (r * (pairs + 1) + p));
    }
    for (int i = 0; i < J; ++i) {
      __m512i wv = blockPair(w.codes + (j + i) * w.codeRowBytes + 16 * b);
      const __m512 ws = halfPair(scales + i * blocks + b);
      __m512 wm = _mm512_setzero_ps();
      if (Min)
        wm = halfPair(mins + i * blocks + b);
      for (int r = 0; r < R; ++r) {
        __m512i d = _mm512_dpbusd_epi32(start[r], wv, a[r]);
        const __m512 sc = _mm512_mul_ps(ws, _mm512_loadu_ps(ps.scale + 16 * (r * pairs + p)));
        acc[i][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), sc, acc[i][r]);
        if (Min)
          acc[i][r] =
              _mm512_fmadd_ps(wm, _mm512_loadu_ps(ps.sum + 16 * (r * pairs + p)), acc[i][r]);
      }
    }
  }
  for (int i = 0; i < J; ++i)
    for (int r = 0; r < R; ++r) {
      float y = _mm512_reduce_add_ps(acc[i][r]);
      if (blocks % 2) { // the lone last block, in scalar
        const int64_t b = blocks - 1;
        const uint8_t *codes = w.codes + (j + i) * w.codeRowBytes + 16 * b;
        const int8_t *xq = &in.x.q[size_t(r * k + 32 * b)];
        int32_t dot = 0, sum = 0;
        for (int c = 0; c < 32; ++c) {
          dot += int32_t((codes[c / 2] >> (4 * (c % 2))) & 0xf) * xq[c];
          sum += xq[c];
        }
        const float sx = in.x.scale[size_t(r * blocks + b)];
        const float sw = halfToFloat(scales[i * blocks + b]);
        y += Min ? sw * sx * float(dot) + halfToFloat(mins[i * blocks + b]) * sx * float(sum)
                 : sw * sx * float(dot - 8 * sum);
      }
      out[r * ld + i] = y;
    }
}

/// What the tiled kernel needs of the input besides its codes and scales: per input row,
/// Σxq of each block (the symmetric zero point's term, -8·Σxq, starts each block's sum)
/// and Σ over each group's blocks of sx·Σxq (what a minimum or zero point multiplies).
struct TileInput {
  const Int8Activations &x;
  const int8_t *q;         // [R][k]: x.q, or for 2 and 3 bits permuted (pairOrder)
  const int32_t *blockSum; // [R][blocks]; groups of 16: [R][2 · blocks], per half block
  const float *groupSum;   // [R][groups]
};

/// Bits 0-3 of each 32-bit lane as bit 4 of its bytes 0-3 (a 5-bit code's 16): the
/// multiply by 2^0 + 2^7 + 2^14 + 2^21 puts bit m at bit 8m without carries.
MIDLLAMA_VNNI inline __m512i spreadFifthBits(__m512i bits) {
  const __m512i four = _mm512_and_si512(bits, _mm512_set1_epi32(0xf));
  const __m512i spread = _mm512_mullo_epi32(four, _mm512_set1_epi32(0x00204081));
  return _mm512_slli_epi32(_mm512_and_si512(spread, _mm512_set1_epi32(0x01010101)), 4);
}

/// The two vpdpbusd weight operands of step p (0-3) of a tile block, for columns 8p..8p+3
/// and 8p+4..8p+7 of the block: 8 bits, chunks 2p and 2p+1 as loaded; 4 bits, chunk p's
/// low and high nibbles; 5 bits, those with their fifth bits added; 6 bits, with their top
/// pairs as bits 4-5 (CodeTiles.cpp: step p's pairs are a nibble of chunk p / 2's bytes).
template <int Bits>
MIDLLAMA_VNNI inline void stepOperands(const uint8_t *src, int p, __m512i &w0, __m512i &w1) {
  if (Bits == 6) {
    const __m512i low = _mm512_set1_epi8(0x0f), pair = _mm512_set1_epi8(0x30);
    const __m512i v = _mm512_load_si512(src + 64 * p);
    __m512i top = _mm512_load_si512(src + 256 + 64 * (p / 2));
    if (p % 2)
      top = _mm512_slli_epi16(top, 4); // the low nibble's pairs up to bits 4-7
    // A | (B & C): the nibble, then its pair from bits 4-5 (bits 6-7 for the high nibble).
    w0 = _mm512_ternarylogic_epi32(_mm512_and_si512(v, low), top, pair, 0xf8);
    w1 = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(v, 4), low),
                                   _mm512_srli_epi16(top, 2), pair, 0xf8);
    return;
  }
  if (Bits == 8) {
    w0 = _mm512_load_si512(src + 128 * p);
    w1 = _mm512_load_si512(src + 128 * p + 64);
    return;
  }
  const __m512i low = _mm512_set1_epi8(0x0f), v = _mm512_load_si512(src + 64 * p);
  w0 = _mm512_and_si512(v, low);
  w1 = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
  if (Bits == 5) { // byte p of each lane of the fifth bits: bits 0-3 for w0, 4-7 for w1
    const __m512i plane = _mm512_load_si512(src + 256);
    w0 = _mm512_or_si512(w0, spreadFifthBits(_mm512_srli_epi32(plane, 8 * p)));
    w1 = _mm512_or_si512(w1, spreadFifthBits(_mm512_srli_epi32(plane, 8 * p + 4)));
  }
}

/// Steps P0..P1-1 of block b of T tiles (codes at src[t]) times R input rows (`xq`, rows k
/// apart) into the int32 sums lo and hi (columns 8p..8p+3 and 8p+4..8p+7 of each step
/// apart); steps 0-1 and 2-3 are the half blocks of groups of 16.
template <int R, int T, int Bits, int P0 = 0, int P1 = 4>
MIDLLAMA_VNNI inline void blockDots(const int8_t *xq, int64_t k, int64_t b,
                                    const uint8_t *const *src, __m512i (&lo)[T][R],
                                    __m512i (&hi)[T][R]) {
  for (int p = P0; p < P1; ++p) {
    __m512i a0[R], a1[R];
    for (int r = 0; r < R; ++r) {
      int32_t v0, v1;
      std::memcpy(&v0, xq + r * k + 32 * b + 8 * p, 4);
      std::memcpy(&v1, xq + r * k + 32 * b + 8 * p + 4, 4);
      a0[r] = _mm512_set1_epi32(v0);
      a1[r] = _mm512_set1_epi32(v1);
    }
    for (int t = 0; t < T; ++t) {
      __m512i w0, w1;
      stepOperands<Bits>(src[t], p, w0, w1);
      for (int r = 0; r < R; ++r) {
        lo[t][r] = _mm512_dpbusd_epi32(lo[t][r], w0, a0[r]);
        hi[t][r] = _mm512_dpbusd_epi32(hi[t][r], w1, a1[r]);
      }
    }
  }
}

/// Where the 2- and 3-bit kernel wants input column c of a block of 16: operand j (0-3)
/// of a chunk has in byte m the code of column 4m + j (the lane's bits 8m + 2j, 8m + 2j + 1),
/// so the input is read as [columns j, j + 4, j + 8, j + 12] for j = 0..3, one 4x4
/// transpose per 16 columns, once per call.
inline int pairOrder(int c) { return 4 * (c % 4) + c / 4; }

/// Operand j of chunk q of a 2- or 3-bit tile block (`pairs` the chunk, `plane` the third
/// bits): (pairs >> 2j) & 3 per byte, 3 bits with the plane shifted so that the third
/// bits of columns 16q + j + 4m (thirdBitOf: bit 8m + 4q + j) land on bit 2 of byte m.
template <int Bits>
MIDLLAMA_VNNI inline __m512i pairOperand(__m512i pairs, __m512i plane, int q, int j) {
  const __m512i low = _mm512_and_si512(j ? _mm512_srli_epi32(pairs, 2 * j) : pairs,
                                       _mm512_set1_epi8(3));
  if (Bits == 2)
    return low;
  const int at = 4 * q + j;
  const __m512i third =
      at >= 2 ? _mm512_srli_epi32(plane, at - 2) : _mm512_slli_epi32(plane, 2 - at);
  return _mm512_ternarylogic_epi32(low, third, _mm512_set1_epi8(4), 0xf8); // A | (B & C)
}

/// blockDots for 2 and 3 bits: the 8 operands of block b of T tiles (4 per chunk, from
/// one load each), the input permuted (pairOrder), even and odd operands into lo and hi
/// (two more chains ran 3% slower on weights in cache).
template <int R, int T, int Bits>
MIDLLAMA_VNNI inline void pairBlockDots(const int8_t *xq, int64_t k, int64_t b,
                                        const uint8_t *const *src, __m512i (&lo)[T][R],
                                        __m512i (&hi)[T][R]) {
  __m512i plane[T];
  for (int t = 0; t < T; ++t)
    plane[t] = Bits == 3 ? _mm512_load_si512(src[t] + 128) : _mm512_setzero_si512();
  for (int q = 0; q < 2; ++q) {
    __m512i pairs[T];
    for (int t = 0; t < T; ++t)
      pairs[t] = _mm512_load_si512(src[t] + 64 * q);
    for (int j = 0; j < 4; ++j) {
      __m512i a[R];
      for (int r = 0; r < R; ++r) {
        int32_t v;
        std::memcpy(&v, xq + r * k + 32 * b + 16 * q + 4 * j, 4);
        a[r] = _mm512_set1_epi32(v);
      }
      for (int t = 0; t < T; ++t) {
        const __m512i wq = pairOperand<Bits>(pairs[t], plane[t], q, j);
        for (int r = 0; r < R; ++r) {
          __m512i &sum = j % 2 ? hi[t][r] : lo[t][r];
          sum = _mm512_dpbusd_epi32(sum, wq, a[r]);
        }
      }
    }
  }
}

/// A tile group's term per unit of sx·Σxq: the minimum (w = q·s + min), or -z·s (w =
/// (q - z)·s). Symmetric weights have theirs in the block sums' start.
MIDLLAMA_VNNI inline __m512 groupOffsetVNNI(const WeightRef &w, __m512 s, int64_t t, int64_t g) {
  if (w.isAffineMin())
    return tileMins16(w, t, g);
  const int64_t slot = tileGroupSlot(w, t, g);
  const __m128i z = _mm_load_si128(
      reinterpret_cast<const __m128i *>(static_cast<const uint8_t *>(w.tileOffsets) + slot));
  return _mm512_mul_ps(
      s, _mm512_sub_ps(_mm512_setzero_ps(), _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(z))));
}

/// How far ahead of a tile's stream of codes blockTerm prefetches: 8 KiB, but 2 KiB for 6
/// bits. Measured (decode-bench, 4096x4096, 1 thread, fraction of the streaming read): 2 KiB
/// held Q8_0 at 0.74-0.79 and Q4_0 at 0.87-0.89, 8 KiB ran Q8_0 at 0.82-0.89; Q6_K ran at
/// 0.74-0.79 with 2 KiB, 0.67-0.73 with 4 or 6 KiB. 4 KiB for 4 bits (as until 2026-12-05)
/// against 8: Q4_0 0.87-0.89 -> 0.92-0.93, int2/int3 0.85-0.88 -> 0.91-0.93, Q4_K 0.85-0.87
/// -> 0.82-0.83; whole decode (1 thread, alternating): 100M-shape Q4_0 621-655 -> 747-761
/// tok/s, Q4_1 574-585 -> 651-660, SmolLM2 Q4_0 393-436 -> 451-481, Q4_K_M 305-325 ->
/// 323-329. 16 KiB: Q4_0 no better, Q8_0 and Q4_K_M 3-5% slower.
template <int Bits> constexpr int64_t kPrefetchAhead = Bits == 6 ? 2048 : 8192;

/// Steps P0..P1-1 of block b of T tiles from t0 for R input rows, added to `acc` scaled by
/// the group scales `s` and the input's block scale: the int32 sums start at the symmetric
/// zero's term, -2^(Bits-1)·Σxq over the steps' columns (in.blockSum[r · sums + sumAt]).
template <int R, int T, int Bits, int P0 = 0, int P1 = 4>
MIDLLAMA_VNNI __attribute__((always_inline)) inline void
blockTerm(const TileInput &in, const WeightRef &w, int64_t t0, int64_t b, int64_t sumAt,
          int64_t sums, bool symmetric, const __m512 (&s)[T], __m512 (&acc)[T][R]) {
  constexpr int64_t kBlockBytes = 16 * 32 * Bits / 8;
  const int64_t k = w.cols, blocks = k / 32;
  __m512i lo[T][R], hi[T][R];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) {
      lo[t][r] =
          _mm512_set1_epi32(symmetric ? -(1 << (Bits - 1)) * in.blockSum[r * sums + sumAt] : 0);
      hi[t][r] = _mm512_setzero_si512();
    }
  const uint8_t *src[T];
  for (int t = 0; t < T; ++t) {
    src[t] = w.tileCodes + ((t0 + t) * blocks + b) * kBlockBytes;
    // The stream kPrefetchAhead bytes ahead: this VM's prefetchers alone leave loads
    // waiting (a second half block's lines were prefetched with the first's).
    for (int line = 0; line < kBlockBytes / 64 && P0 == 0; ++line)
      _mm_prefetch(reinterpret_cast<const char *>(src[t] + kPrefetchAhead<Bits> + 64 * line),
                   _MM_HINT_T0);
  }
  if constexpr (Bits <= 3)
    pairBlockDots<R, T, Bits>(in.q, k, b, src, lo, hi);
  else
    blockDots<R, T, Bits, P0, P1>(in.q, k, b, src, lo, hi);
  for (int r = 0; r < R; ++r) {
    const __m512 sx = _mm512_set1_ps(in.x.scale[size_t(r * blocks + b)]);
    for (int t = 0; t < T; ++t)
      acc[t][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(lo[t][r], hi[t][r])),
                                  _mm512_mul_ps(s[t], sx), acc[t][r]);
  }
}

/// Whether tileBlockQ6K takes a 6-bit weight: ggml's Q6_K as tiled, symmetric groups of 16
/// whose scales are signed 8-bit codes under an fp32 super-scale per scaleBlock groups (an
/// even count: both half blocks of a block share their super).
inline bool q6kTiles(const WeightRef &w) {
  return w.bits == 6 && w.groupSize == 16 && w.scaleBlock >= 2 && w.scaleBlock % 2 == 0 &&
         w.isAffine() && !w.zeros && !w.isAffineMin();
}

/// tileBlock for q6kTiles weights. A block's two half blocks (groups) give int32 sums d0,
/// d1 per row; sc0·d0 + sc1·d1 is taken in int32 (vpmulld with the scale codes: |d| <=
/// 16·32·127, so the sum is under 2^24 and its conversion to fp32 exact), then one
/// conversion and one multiply-add by super·sx per block. The generic loop converted,
/// scaled and accumulated every group apart and spent more instructions on a group's
/// bookkeeping (scale kind, super slot, half-block branches) than on its 256 products.
/// decode-bench, 1 thread: 4096x4096 from memory 0.68 -> 0.76-0.80 of the streaming read;
/// 1024x4096 in cache 8.1-8.3k -> 9.2-9.9k products/s (tiledRows' T = 1: 2 ran no faster).
template <int R, int T>
MIDLLAMA_VNNI void tileBlockQ6K(const TileInput &in, const WeightRef &w, int64_t t0, float *out,
                                int64_t ld) {
  constexpr int64_t kBlockBytes = 16 * 32 * 6 / 8;
  const int64_t k = w.cols, blocks = k / 32, halves = k / 16;
  const int shift = __builtin_ctzll(uint64_t(w.scaleBlock)); // a power of two where tiled
  const int8_t *codes[T];
  const float *supers[T];
  const uint8_t *src[T];
  __m512 acc[T][R];
  for (int t = 0; t < T; ++t) {
    codes[t] = static_cast<const int8_t *>(w.tileScales) + tileGroupSlot(w, t0 + t, 0);
    supers[t] = w.tileScaleSupers + tileSuperSlot(w, t0 + t, 0);
    src[t] = w.tileCodes + (t0 + t) * blocks * kBlockBytes;
    for (int r = 0; r < R; ++r)
      acc[t][r] = _mm512_setzero_ps();
  }
  for (int64_t b = 0; b < blocks; ++b) {
    for (int t = 0; t < T; ++t)
      for (int line = 0; line < kBlockBytes / 64; ++line)
        _mm_prefetch(reinterpret_cast<const char *>(src[t] + kPrefetchAhead<6> + 64 * line),
                     _MM_HINT_T0);
    // Each half block's sums start at the symmetric zero's term, -32·Σxq of its columns.
    __m512i lo0[T][R], hi0[T][R], lo1[T][R], hi1[T][R];
    for (int t = 0; t < T; ++t)
      for (int r = 0; r < R; ++r) {
        lo0[t][r] = _mm512_set1_epi32(-32 * in.blockSum[r * halves + 2 * b]);
        lo1[t][r] = _mm512_set1_epi32(-32 * in.blockSum[r * halves + 2 * b + 1]);
        hi0[t][r] = hi1[t][r] = _mm512_setzero_si512();
      }
    blockDots<R, T, 6, 0, 2>(in.q, k, b, src, lo0, hi0);
    blockDots<R, T, 6, 2, 4>(in.q, k, b, src, lo1, hi1);
    for (int t = 0; t < T; ++t) {
      const __m512i sc0 = _mm512_cvtepi8_epi32(
          _mm_load_si128(reinterpret_cast<const __m128i *>(codes[t] + 32 * b)));
      const __m512i sc1 = _mm512_cvtepi8_epi32(
          _mm_load_si128(reinterpret_cast<const __m128i *>(codes[t] + 32 * b + 16)));
      const __m512 super = _mm512_load_ps(supers[t] + 16 * ((2 * b) >> shift));
      for (int r = 0; r < R; ++r) {
        const __m512i d =
            _mm512_add_epi32(_mm512_mullo_epi32(_mm512_add_epi32(lo0[t][r], hi0[t][r]), sc0),
                             _mm512_mullo_epi32(_mm512_add_epi32(lo1[t][r], hi1[t][r]), sc1));
        acc[t][r] = _mm512_fmadd_ps(
            _mm512_cvtepi32_ps(d),
            _mm512_mul_ps(super, _mm512_set1_ps(in.x.scale[r * blocks + b])), acc[t][r]);
      }
      src[t] += kBlockBytes;
    }
  }
  for (int t = 0; t < T; ++t)
    for (int r = 0; r < R; ++r)
      _mm512_storeu_ps(out + r * ld + 16 * t, acc[t][r]);
}

/// Whether tileBlockKMin takes a weight: ggml's Q4_K/Q5_K as tiled, groups of 32 (one per
/// block) with a minimum, scales and minimums 8-bit codes under fp32 super-values.
inline bool kMinTiles(const WeightRef &w) {
  return (w.bits == 4 || w.bits == 5) && w.groupSize == 32 && w.scaleBlock > 0 &&
         w.isAffineMin();
}

/// tileBlock for kMinTiles weights: each block's scales and minimums from their codes and
/// supers with the tile's pointers and the super shift set once (the generic loop's
/// tileScales16/tileMins16 tested the value kind and computed the super slot at every
/// group, as many instructions as the block's products). w = q·s + min: the block's int32
/// sums times s·sx, plus min·(sx·Σxq).
template <int R, int T, int Bits>
MIDLLAMA_VNNI void tileBlockKMin(const TileInput &in, const WeightRef &w, int64_t t0, float *out,
                                 int64_t ld) {
  const int64_t blocks = w.cols / 32;
  const int shift = __builtin_ctzll(uint64_t(w.scaleBlock)); // a power of two where tiled
  const uint8_t *scaleCodes[T], *minCodes[T];
  const float *scaleSupers[T], *minSupers[T];
  __m512 acc[T][R];
  for (int t = 0; t < T; ++t) {
    const int64_t slot = tileGroupSlot(w, t0 + t, 0), super = tileSuperSlot(w, t0 + t, 0);
    scaleCodes[t] = static_cast<const uint8_t *>(w.tileScales) + slot;
    minCodes[t] = static_cast<const uint8_t *>(w.tileOffsets) + slot;
    scaleSupers[t] = w.tileScaleSupers + super;
    minSupers[t] = w.tileOffsetSupers + super;
    for (int r = 0; r < R; ++r)
      acc[t][r] = _mm512_setzero_ps();
  }
  for (int64_t b = 0; b < blocks; ++b) {
    __m512 s[T], m[T];
    for (int t = 0; t < T; ++t) {
      const int64_t at = 16 * (b >> shift);
      s[t] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_load_si128(
                               reinterpret_cast<const __m128i *>(scaleCodes[t] + 16 * b)))),
                           _mm512_load_ps(scaleSupers[t] + at));
      m[t] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_load_si128(
                               reinterpret_cast<const __m128i *>(minCodes[t] + 16 * b)))),
                           _mm512_load_ps(minSupers[t] + at));
    }
    blockTerm<R, T, Bits>(in, w, t0, b, b, blocks, false, s, acc);
    for (int t = 0; t < T; ++t)
      for (int r = 0; r < R; ++r)
        acc[t][r] = _mm512_fmadd_ps(m[t], _mm512_set1_ps(in.groupSum[r * blocks + b]), acc[t][r]);
  }
  for (int t = 0; t < T; ++t)
    for (int r = 0; r < R; ++r)
      _mm512_storeu_ps(out + r * ld + 16 * t, acc[t][r]);
}

/// Outputs of the T tiles (16 rows each) from tile t0 for R input rows, from the tiled
/// layout (CodeTiles.cpp): lane c of every vector is row 16t + c, so each 64-byte load is
/// two vpdpbusd operands for 16 rows, the 16 rows' group scales one load, and the result
/// one store. Low and high nibbles accumulate apart: 2·T·R independent chains. 6-bit
/// groups of 16 (ggml's Q6_K) are half blocks: steps 0-1 and 2-3.
template <int R, int T, int Bits>
MIDLLAMA_VNNI void tileBlock(const TileInput &in, const WeightRef &w, int64_t t0, float *out,
                             int64_t ld) {
  if constexpr (Bits == 6)
    if (q6kTiles(w))
      return tileBlockQ6K<R, T>(in, w, t0, out, ld);
  if constexpr (Bits == 4 || Bits == 5)
    if (kMinTiles(w))
      return tileBlockKMin<R, T, Bits>(in, w, t0, out, ld);
  const int64_t blocks = w.cols / 32, groups = w.groups;
  const bool symmetric = !w.isAffineMin() && !w.zeros;
  __m512 acc[T][R];
  for (int t = 0; t < T; ++t)
    for (int r = 0; r < R; ++r)
      acc[t][r] = _mm512_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    __m512 s[T];
    for (int t = 0; t < T; ++t)
      s[t] = tileScales16(w, t0 + t, g);
    const bool halves = Bits == 6 && w.groupSize == 16;
    if constexpr (Bits == 6) {
      if (halves)
        g % 2 ? blockTerm<R, T, Bits, 2, 4>(in, w, t0, g / 2, g, groups, symmetric, s, acc)
              : blockTerm<R, T, Bits, 0, 2>(in, w, t0, g / 2, g, groups, symmetric, s, acc);
    }
    const int64_t perGroup = w.groupSize / 32;
    for (int64_t b = g * perGroup; !halves && b < std::min(blocks, (g + 1) * perGroup); ++b)
      blockTerm<R, T, Bits>(in, w, t0, b, b, blocks, symmetric, s, acc);
    for (int t = 0; t < T && !symmetric; ++t) {
      const __m512 off = groupOffsetVNNI(w, s[t], t0 + t, g);
      for (int r = 0; r < R; ++r)
        acc[t][r] = _mm512_fmadd_ps(off, _mm512_set1_ps(in.groupSum[r * groups + g]), acc[t][r]);
    }
  }
  for (int t = 0; t < T; ++t)
    for (int r = 0; r < R; ++r)
      _mm512_storeu_ps(out + r * ld + 16 * t, acc[t][r]);
}

/// Rows [begin, end) (whole tiles) of a tiled weight for R input rows.
template <int R>
MIDLLAMA_VNNI void tiledRows(const Int8Activations &x, float *out, int64_t ld, const WeightRef &w,
                             int64_t begin, int64_t end) {
  const int64_t k = w.cols, blocks = k / 32, groups = w.groups;
  // Σxq per block, or per half block for groups of 16 (then as many as groups), and
  // Σ sx·Σxq per group.
  const int64_t span = w.groupSize == 16 ? 16 : 32, sums = k / span;
  thread_local std::vector<int32_t> blockSum;
  thread_local std::vector<float> groupSum;
  blockSum.resize(size_t(R * sums));
  groupSum.assign(size_t(R * groups), 0.0f);
  for (int r = 0; r < R; ++r)
    for (int64_t u = 0; u < sums; ++u) {
      const int32_t *halves = &x.halfCodes[size_t(r * k / 16 + u * span / 16)];
      const int32_t sum = span == 16 ? halves[0] : halves[0] + halves[1];
      blockSum[size_t(r * sums + u)] = sum;
      groupSum[size_t(r * groups + u * span / w.groupSize)] +=
          x.scale[size_t(r * blocks + u * span / 32)] * float(sum);
    }
  thread_local std::vector<int8_t> permuted;
  const int8_t *q = x.q.data();
  if (w.bits <= 3) {
    permuted.resize(size_t(R * k));
    for (int64_t i = 0; i < R * k; ++i)
      permuted[size_t(i / 16 * 16 + pairOrder(int(i % 16)))] = q[i];
    q = permuted.data();
  }
  const TileInput in{x, q, blockSum.data(), groupSum.data()};
  // One tile at a time, so the codes stream sequentially (see MatMulTilesAVX512.cpp's
  // tiledRows: with int8 activations SmolLM2 Q4_0 decode went 134 -> 170-181 tok/s).
  for (int64_t t = begin / 16; t < end / 16; ++t)
    w.bits == 8   ? tileBlock<R, 1, 8>(in, w, t, out + (16 * t - begin), ld)
    : w.bits == 6 ? tileBlock<R, 1, 6>(in, w, t, out + (16 * t - begin), ld)
    : w.bits == 5 ? tileBlock<R, 1, 5>(in, w, t, out + (16 * t - begin), ld)
    : w.bits == 3 ? tileBlock<R, 1, 3>(in, w, t, out + (16 * t - begin), ld)
    : w.bits == 2 ? tileBlock<R, 1, 2>(in, w, t, out + (16 * t - begin), ld)
                  : tileBlock<R, 1, 4>(in, w, t, out + (16 * t - begin), ld);
}

template <int R>
MIDLLAMA_VNNI void decodeRows(const Int8Activations &x, float *out, int64_t ld, const WeightRef &w,
                              int64_t begin, int64_t end) {
  const int64_t k = w.cols, blocks = k / 32, groups = w.groups, gs = w.groupSize;
  thread_local std::vector<int8_t> perm;
  thread_local std::vector<float> groupSum;
  thread_local std::vector<int32_t> blockGroup;
  perm.resize(size_t(R * k));
  groupSum.assign(size_t(R * groups), 0.0f);
  blockGroup.resize(size_t(blocks + 1));
  for (int64_t b = 0; b < blocks; ++b)
    blockGroup[size_t(b)] = int32_t(32 * b / gs);
  for (int r = 0; r < R; ++r)
    for (int64_t b = 0; b < blocks; ++b) {
      const int8_t *src = &x.q[size_t(r * k + 32 * b)];
      int8_t *dst = &perm[size_t(r * k + 32 * b)];
      for (int i = 0; i < 16; ++i) {
        dst[i] = src[2 * i];
        dst[16 + i] = src[2 * i + 1];
      }
      groupSum[size_t(r * groups + blockGroup[size_t(b)])] += x.blockSum[size_t(r * blocks + b)];
    }
  // The symmetric zero's term, -8·Σxq per block (the last pair may be a lone block).
  thread_local std::vector<int32_t> zeroTerm;
  const bool symmetric = !w.isAffineMin() && !w.zeros;
  const int64_t pairs = blocks / 2;
  if (symmetric) {
    zeroTerm.assign(size_t(16 * R * (pairs + 1)), 0);
    for (int r = 0; r < R; ++r)
      for (int64_t b = 0; b < blocks; ++b) {
        const int32_t *halves = &x.halfCodes[size_t(2 * (r * blocks + b))];
        zeroTerm[size_t(16 * (r * (pairs + 1) + b / 2) + (b % 2) * 8)] =
            -8 * (halves[0] + halves[1]);
      }
  }
  const DecodeInput in{x, perm.data(), groupSum.data(), symmetric ? zeroTerm.data() : nullptr,
                       blockGroup.data()};
  if (gs == 32 && w.dtype == DType::F16 && !w.zeros) { // llama.cpp's Q4_0 and Q4_1
    thread_local std::vector<float> pairScale, pairSum;
    pairScale.resize(size_t(16 * R * pairs));
    pairSum.resize(pairScale.size());
    for (int r = 0; r < R; ++r)
      for (int64_t p = 0; p < pairs; ++p)
        for (int l = 0; l < 16; ++l) {
          const size_t b = size_t(r * blocks + 2 * p + l / 8);
          pairScale[size_t(16 * (r * pairs + p) + l)] = x.scale[b];
          pairSum[size_t(16 * (r * pairs + p) + l)] = x.blockSum[b] / 8.0f;
        }
    const PairScales ps{pairScale.data(), pairSum.data()};
    const bool min = w.isAffineMin();
    int64_t j = begin;
    for (; j + 4 <= end; j += 4)
      min ? rowBlock32<R, 4, true>(in, ps, w, j, out + (j - begin), ld)
          : rowBlock32<R, 4, false>(in, ps, w, j, out + (j - begin), ld);
    for (; j < end; ++j)
      min ? rowBlock32<R, 1, true>(in, ps, w, j, out + (j - begin), ld)
          : rowBlock32<R, 1, false>(in, ps, w, j, out + (j - begin), ld);
    return;
  }
  int64_t j = begin;
  for (; j + 4 <= end; j += 4)
    rowBlock<R, 4>(in, w, j, out + (j - begin), ld);
  for (; j < end; ++j)
    rowBlock<R, 1>(in, w, j, out + (j - begin), ld);
}

/// tileSteps for one width.
template <int Bits>
MIDLLAMA_VNNI void tileStepsOf(const WeightRef &w, int64_t t, uint8_t *dst) {
  constexpr int64_t kBlockBytes = 16 * 32 * Bits / 8;
  const int64_t blocks = w.cols / 32;
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t *src = w.tileCodes + (t * blocks + b) * kBlockBytes;
    for (int p = 0; p < 4; ++p) {
      __m512i w0, w1;
      stepOperands<Bits>(src, p, w0, w1);
      _mm512_storeu_si512(dst + (8 * b + 2 * p) * 64, w0);
      _mm512_storeu_si512(dst + (8 * b + 2 * p + 1) * 64, w1);
    }
  }
}

} // namespace

void tileStepsVNNI(const WeightRef &w, int64_t t, uint8_t *dst) {
  w.bits == 6   ? tileStepsOf<6>(w, t, dst)
  : w.bits == 5 ? tileStepsOf<5>(w, t, dst)
                : tileStepsOf<4>(w, t, dst);
}

void w4a8RowsVNNI(const Int8Activations &x, float *out, int64_t ld, const WeightRef &w,
                  int64_t begin, int64_t end) {
  // The whole tiles from `begin` in the tiled layout, the rows after them in place.
  int64_t split = begin;
  if (w.tileCodes && begin % 16 == 0)
    split = std::max(begin, std::min(end, w.rows) / 16 * 16);
  if (split > begin) {
    if (x.rows == 1)
      tiledRows<1>(x, out, ld, w, begin, split);
    else if (x.rows == 2)
      tiledRows<2>(x, out, ld, w, begin, split);
    else
      tiledRows<3>(x, out, ld, w, begin, split);
  }
  if (split == end)
    return;
  out += split - begin;
  switch (x.rows) {
  case 1:
    return decodeRows<1>(x, out, ld, w, split, end);
  case 2:
    return decodeRows<2>(x, out, ld, w, split, end);
  default:
    return decodeRows<3>(x, out, ld, w, split, end);
  }
}
#else
void tileStepsVNNI(const WeightRef &, int64_t, uint8_t *) {}
void w4a8RowsVNNI(const Int8Activations &, float *, int64_t, const WeightRef &, int64_t, int64_t) {}
#endif

} // namespace midllama::rt::cpu
