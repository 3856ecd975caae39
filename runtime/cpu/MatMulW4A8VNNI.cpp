//===- MatMulW4A8VNNI.cpp - 4-bit weights times int8 activations ----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Prefill of 4-bit affine weights (with zero points, symmetric, or with a minimum) with the
// activations quantized to int8 in blocks of 32 columns (scale absmax / 127, rounded to
// nearest even, as llama.cpp's vectorized Q8_0 quantizer; or one scale per weight group, as
// ONNX Runtime's MatMulNBits at accuracy_level 4), when setInt8Activations(true) asks for
// it. Each block of 16 weight rows is unpacked once per call into a panel of 4-byte steps
// (lane c: codes 4i..4i+3 of row c, 0..15, the unsigned operand of vpdpbusd) and every
// input row is broadcast 4 bytes at a time (the signed operand): an int32 lane accumulates
// one output over a block of 32 columns, is converted and scaled by the block's activation
// scale times the row's group scale. The zero point (or minimum) enters once per group:
// Σ_i (q_i - z)·s·x_i ≈ s·sx·Σ q·xq - z·s·(sx·Σ xq). Blocks of 2 panels by 4 input rows.
//
//===----------------------------------------------------------------------===//

#include "runtime/cpu/KernelsInternal.h"
#include "runtime/cpu/TileValues.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace midllama::rt::cpu {

namespace {
bool int8ActivationsOn = false;
bool scalesFollowWeightGroups = false;
} // namespace

void setInt8Activations(bool on) { int8ActivationsOn = on; }
bool int8Activations() { return int8ActivationsOn; }
void setInt8ScalesFollowWeightGroups(bool on) { scalesFollowWeightGroups = on; }
bool int8ScalesFollowWeightGroups() { return scalesFollowWeightGroups; }

int64_t int8ScaleSpan(const WeightRef &w) {
  // The int8 paths take groups of whole 32-column blocks (or ggml's Q6_K groups of 16).
  return scalesFollowWeightGroups && w.groupSize > 32 && w.groupSize % 32 == 0 ? w.groupSize
                                                                              : 32;
}
bool int8ActivationsAvailable() { return haveAVX512VNNI(); }

bool w4a8FastPath(const WeightRef &w, int64_t rows) {
  const bool tiledWhole = w.tileCodes && w.rows % 16 == 0; // 6 bits: tiled only
  return int8ActivationsOn && rows >= 4 && w.hasCodeGroups() && (w.scales || tiledWhole) &&
         (w.bits == 4 || ((w.bits == 5 || w.bits == 6 || w.bits == 8) && tiledWhole)) &&
         w.sparse == SparsityKind::None &&
         (w.groupSize % 32 == 0 || (w.bits == 6 && w.groupSize == 16)) && w.cols % 32 == 0 &&
         haveAVX512VNNI();
}

#if defined(__x86_64__) && defined(__GNUC__)
namespace {

#define MIDLLAMA_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

} // namespace

/// Rows [begin, end) of quantizeActivations: per span, the absolute maximum of its blocks,
/// then each block of 32 rounded with the span's scale.
MIDLLAMA_VNNI static void quantizeRows(const float *in, int64_t begin, int64_t end, int64_t k,
                                       int64_t span, Int8Activations &x) {
  const int64_t blocks = k / 32, perSpan = span / 32;
  for (int64_t r = begin; r < end; ++r)
    for (int64_t b0 = 0; b0 < blocks; b0 += perSpan) {
      const int64_t b1 = std::min(blocks, b0 + perSpan);
      __m512 peak = _mm512_setzero_ps();
      for (int64_t b = b0; b < b1; ++b) {
        const float *v = in + r * k + 32 * b;
        peak = _mm512_max_ps(peak, _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(v)),
                                                 _mm512_abs_ps(_mm512_loadu_ps(v + 16))));
      }
      const float s = _mm512_reduce_max_ps(peak) / 127.0f, inv = s > 0 ? 1.0f / s : 0.0f;
      const __m512 m = _mm512_set1_ps(inv);
      for (int64_t b = b0; b < b1; ++b) {
        const float *v = in + r * k + 32 * b;
        __m512i qlo = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(v), m));
        __m512i qhi = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(v + 16), m));
        int8_t *dst = &x.q[size_t(r * k + 32 * b)];
        _mm_storeu_si128(reinterpret_cast<__m128i *>(dst), _mm512_cvtsepi32_epi8(qlo));
        _mm_storeu_si128(reinterpret_cast<__m128i *>(dst + 16), _mm512_cvtsepi32_epi8(qhi));
        const int32_t first = _mm512_reduce_add_epi32(qlo),
                      second = _mm512_reduce_add_epi32(qhi);
        const size_t at = size_t(r * blocks + b);
        x.scale[at] = s;
        x.blockSum[at] = s * float(first + second);
        x.halfSum[2 * at] = s * float(first);
        x.halfSum[2 * at + 1] = s * float(second);
        x.halfCodes[2 * at] = first;
        x.halfCodes[2 * at + 1] = second;
      }
    }
}

/// Blocks of 32 as llama.cpp's vectorized Q8_0 quantizer rounds them: x · (1 / scale) to
/// the nearest integer, ties to even (the CPU's default rounding); ONNX Runtime's
/// MatMulNBits rounds so too, with a scale per block_size columns (`span`).
MIDLLAMA_VNNI void quantizeActivations(const float *in, int64_t rows, int64_t k, int64_t span,
                                       Int8Activations &x) {
  const int64_t blocks = k / 32;
  x.rows = rows;
  x.k = k;
  x.q.resize(size_t(rows * k));
  x.scale.resize(size_t(rows * blocks));
  x.blockSum.resize(size_t(rows * blocks));
  x.halfSum.resize(size_t(2 * rows * blocks));
  x.halfCodes.resize(size_t(2 * rows * blocks));
  // Rows split among the threads: at prefill this ran on one thread while the others
  // waited (2.7% of the 100M shape's 2-thread prefill).
  parallelFor(rows, 4 * k, [&](int64_t begin, int64_t end) {
    quantizeRows(in, begin, end, k, std::max<int64_t>(32, span), x);
  });
}

namespace {

/// Steps i0..i0 + Steps - 1 (4 columns each) of the panels times R input rows into `sum`:
/// a whole block (8) or half of one (4, a group of 16). A constant count: the loop is
/// unrolled (a runtime count of 4 or 8 cost int8 prefill 8-12%).
template <int R, int Steps>
MIDLLAMA_VNNI __attribute__((always_inline)) inline void
stepDots(const Int8Activations &x, int64_t r0, int64_t k, const uint8_t *panel, int panels,
         int64_t steps, int64_t i0, __m512i (&sum)[R][2]) {
#pragma GCC unroll 8
  for (int64_t i = i0; i < i0 + Steps; ++i) {
    __m512i w0 = _mm512_loadu_si512(panel + i * 64);
    __m512i w1 = panels == 2 ? _mm512_loadu_si512(panel + (steps + i) * 64) : w0;
    for (int r = 0; r < R; ++r) {
      int32_t four;
      std::memcpy(&four, &x.q[size_t((r0 + r) * k + 4 * i)], 4);
      __m512i a = _mm512_set1_epi32(four);
      sum[r][0] = _mm512_dpbusd_epi32(sum[r][0], w0, a);
      if (panels == 2)
        sum[r][1] = _mm512_dpbusd_epi32(sum[r][1], w1, a);
    }
  }
}

/// R input rows times the P (2 or 1) panels at `panel` (steps of 64 bytes, `steps` per
/// panel), into out[r * ld + column - col0] for the panels' columns below `end`. P is a
/// constant: with a runtime count the int32 sums lived on the stack (Q4_0 prefill at 1.57
/// of the fp32 FMA peak against GPTQ g128's 2.00: a group, and its spills, per block).
/// Symmetric weights (codes with the implicit zero 2^(bits-1), `zero`; ggml's Q4_0, Q8_0,
/// Q6_K) start each int32 sum at -zero·Σ codes of the input block, exact, instead of an
/// fp32 offset term per group and accumulator (decode-bench 1536x576x256, 1 thread, of the
/// fp32 FMA peak: Q4_0 2.08-2.09 -> 2.73-2.74, Q8_0 2.16-2.18 -> 2.68-2.76, Q6_K
/// 1.29-1.33 -> 2.30-2.31).
template <int R, int P, bool Symmetric>
MIDLLAMA_VNNI void w4a8Block(const Int8Activations &x, int64_t r0, int64_t k, const uint8_t *panel,
                             const float *scales, const float *offsets, int64_t groupSize,
                             int32_t zero, float *out, int64_t ld, int64_t count) {
  constexpr int panels = P;
  const int64_t steps = k / 4, blocks = k / 32, groups = (k + groupSize - 1) / groupSize;
  __m512 acc[R][2];
  for (int r = 0; r < R; ++r)
    acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t g = 0; g < groups; ++g) {
    __m512 ws[2];
    for (int p = 0; p < panels; ++p)
      ws[p] = _mm512_loadu_ps(scales + (p * groups + g) * 16);
    // The last group may be shorter (K = 576 in groups of 128); groups of 16 (6 bits) are
    // half blocks, steps 0-3 or 4-7 of theirs.
    const bool halves = groupSize == 16;
    const int64_t b0 = halves ? g / 2 : g * groupSize / 32;
    const int64_t b1 = halves ? b0 + 1 : std::min((g + 1) * groupSize / 32, blocks);
    for (int64_t b = b0; b < b1; ++b) {
      __m512i sum[R][2];
      for (int r = 0; r < R; ++r) {
        const int32_t *codes = &x.halfCodes[size_t(2 * ((r0 + r) * blocks + b))];
        const int32_t start =
            Symmetric ? -zero * (halves ? codes[g % 2] : codes[0] + codes[1]) : 0;
        sum[r][0] = sum[r][1] = _mm512_set1_epi32(start);
      }
      if (halves)
        stepDots<R, 4>(x, r0, k, panel, panels, steps, 8 * b + 4 * (g % 2), sum);
      else
        stepDots<R, 8>(x, r0, k, panel, panels, steps, 8 * b, sum);
      for (int r = 0; r < R; ++r) {
        __m512 sx = _mm512_set1_ps(x.scale[size_t((r0 + r) * blocks + b)]);
        for (int p = 0; p < panels; ++p)
          acc[r][p] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum[r][p]), _mm512_mul_ps(sx, ws[p]),
                                      acc[r][p]);
      }
    }
    if constexpr (!Symmetric) {
      // The zero points' term: Σ over the group's blocks of scale · Σ codes. The rows'
      // sums first, then straight-line FMAs: a loop over the rows with the sums inside
      // kept acc on the stack (stored and reloaded at every group).
      float groupSum[R];
      for (int r = 0; r < R; ++r) {
        groupSum[r] = 0;
        for (int64_t b = b0; b < b1; ++b)
          groupSum[r] += halves ? x.halfSum[size_t(2 * (r0 + r) * blocks + g)]
                                : x.blockSum[size_t((r0 + r) * blocks + b)];
      }
      for (int p = 0; p < panels; ++p) { // loaded here: held across the blocks they spilled
        const __m512 off = _mm512_loadu_ps(offsets + (p * groups + g) * 16);
        for (int r = 0; r < R; ++r)
          acc[r][p] = _mm512_fnmadd_ps(_mm512_set1_ps(groupSum[r]), off, acc[r][p]);
      }
    }
  }
  for (int r = 0; r < R; ++r)
    for (int p = 0; p < panels; ++p) {
      float tmp[16];
      _mm512_storeu_ps(tmp, acc[r][p]);
      int64_t lanes = std::min<int64_t>(16, count - 16 * p);
      if (lanes > 0)
        std::memcpy(out + r * ld + 16 * p, tmp, size_t(lanes) * sizeof(float));
    }
}

/// Every input row of x times the 1 or 2 panels at `panel`, 4 rows at a time.
template <bool Symmetric>
MIDLLAMA_VNNI void w4a8Rows(const Int8Activations &x, int64_t k, const uint8_t *panel, int panels,
                            const float *sc, const float *off, int64_t gs, int32_t zero,
                            float *out, int64_t ld, int64_t count) {
  int64_t r = 0;
  for (; r + 4 <= x.rows; r += 4)
    panels == 2
        ? w4a8Block<4, 2, Symmetric>(x, r, k, panel, sc, off, gs, zero, out + r * ld, ld, count)
        : w4a8Block<4, 1, Symmetric>(x, r, k, panel, sc, off, gs, zero, out + r * ld, ld, count);
  for (; r < x.rows; ++r)
    panels == 2
        ? w4a8Block<1, 2, Symmetric>(x, r, k, panel, sc, off, gs, zero, out + r * ld, ld, count)
        : w4a8Block<1, 1, Symmetric>(x, r, k, panel, sc, off, gs, zero, out + r * ld, ld, count);
}

/// The panels of rows j0..j0 + 16·panels from the tiled layout (CodeTiles.cpp), and where
/// they are: 4 and 5 bits, unpacked into `panel` (tileStepsVNNI); 8 bits, consecutive
/// tiles are the panels as stored. The tiles' scales and minimums or zero points give the
/// offsets (none for symmetric weights: w4a8Block folds their zero into the int32 sums).
MIDLLAMA_VNNI const uint8_t *panelFromTiles(const WeightRef &w, int64_t j0, int panels,
                                            uint8_t *panel, float *scales, float *offsets) {
  const int64_t steps = w.cols / 4, groups = w.groups;
  for (int p = 0; p < panels; ++p) {
    const int64_t t = j0 / 16 + p;
    if (w.bits != 8)
      tileStepsVNNI(w, t, panel + p * steps * 64);
    for (int64_t g = 0; g < groups; ++g) {
      // The tiles' per-group values (TileValues.h: fp16, fp32 or K-quant codes).
      const size_t slot = size_t((p * groups + g) * 16);
      const __m512 sc = tileScales16(w, t, g);
      _mm512_storeu_ps(scales + slot, sc);
      if (w.isAffineMin())
        _mm512_storeu_ps(offsets + slot, _mm512_sub_ps(_mm512_setzero_ps(), tileMins16(w, t, g)));
      else if (w.zeros)
        _mm512_storeu_ps(offsets + slot,
                         _mm512_mul_ps(sc, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_load_si128(
                                               reinterpret_cast<const __m128i *>(
                                                   static_cast<const uint8_t *>(w.tileOffsets) +
                                                   tileGroupSlot(w, t, g)))))));
    }
  }
  return w.bits == 8 ? w.tileCodes + (j0 / 16) * steps * 64 : panel;
}

} // namespace

MIDLLAMA_VNNI void w4a8ColumnsVNNI(const Int8Activations &x, float *out, int64_t ld,
                                   const WeightRef &w, int64_t begin, int64_t end) {
  const int64_t k = w.cols, steps = k / 4, groups = w.groups, gs = w.groupSize;
  thread_local std::vector<uint8_t> panel;
  thread_local std::vector<float> scales, offsets;
  panel.resize(size_t(2 * steps * 64));
  scales.resize(size_t(2 * groups * 16));
  offsets.resize(scales.size());
  const bool symmetric = !w.isAffineMin() && !w.zeros;
  const int32_t zero = 1 << (w.bits - 1);
  for (int64_t j0 = begin; j0 < end; j0 += 32) {
    const int64_t count = std::min<int64_t>(32, end - j0);
    const int panels = count > 16 ? 2 : 1;
    const uint8_t *source = panel.data();
    if (w.tileCodes && j0 % 16 == 0 && count % 16 == 0 && j0 + count <= w.rows / 16 * 16) {
      source = panelFromTiles(w, j0, panels, panel.data(), scales.data(), offsets.data());
    } else {
      // Unpack: lane c of step i = codes of columns 4i..4i+3 of row j0 + c (low nibble first).
      std::fill(panel.begin(), panel.end(), 0);
      std::fill(scales.begin(), scales.end(), 0.0f);
      std::fill(offsets.begin(), offsets.end(), 0.0f);
      for (int64_t c = 0; c < count; ++c) {
        const uint8_t *codes = w.codes + (j0 + c) * w.codeRowBytes;
        uint8_t *dst = panel.data() + (c / 16) * steps * 64 + (c % 16) * 4;
        for (int64_t i = 0; i < steps; ++i) {
          uint8_t b0 = codes[2 * i], b1 = codes[2 * i + 1];
          uint8_t *d = dst + i * 64;
          d[0] = b0 & 0xf;
          d[1] = b0 >> 4;
          d[2] = b1 & 0xf;
          d[3] = b1 >> 4;
        }
        for (int64_t g = 0; g < groups; ++g) {
          const int64_t at = (j0 + c) * groups + g;
          const float s = scaleAt(w, at);
          const size_t slot = size_t(((c / 16) * groups + g) * 16 + c % 16);
          scales[slot] = s;
          // w = q·s - offset: offset = z·s (affine), -min (affine with minimum); symmetric
          // weights have none (their zero is in the int32 sums).
          if (!symmetric)
            offsets[slot] = w.isAffineMin() ? -minAt(w, at) : s * float(w.zeros[at]);
        }
      }
    }
    float *o = out + (j0 - begin);
    const float *sc = scales.data(), *off = offsets.data();
    symmetric ? w4a8Rows<true>(x, k, source, panels, sc, off, gs, zero, o, ld, count)
              : w4a8Rows<false>(x, k, source, panels, sc, off, gs, 0, o, ld, count);
  }
}
#else
void quantizeActivations(const float *, int64_t, int64_t, int64_t, Int8Activations &) {}
void w4a8ColumnsVNNI(const Int8Activations &, float *, int64_t, const WeightRef &, int64_t,
                     int64_t) {}
#endif

} // namespace midllama::rt::cpu
