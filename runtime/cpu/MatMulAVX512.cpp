//===- MatMulAVX512.cpp - Matrix products with AVX-512 --------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Panels read 16 outputs per vector load; 4- and 8-bit affine and NF4 weights are decoded
// in registers during decode (one input row), never expanded into rows.
//
//===----------------------------------------------------------------------===//

#include "runtime/cpu/KernelsInternal.h"
#include "runtime/params/Half.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>

#include "runtime/format/Codebooks.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace midllama::rt::cpu {

#if defined(__x86_64__) && defined(__GNUC__)
bool haveAVX512() {
  static const bool yes = __builtin_cpu_supports("avx512f") && !std::getenv("MIDLLAMA_NO_AVX512");
  return yes;
}

/// `f(std::integral_constant<int, R>())` for R = `rows`, 1, 2 or 3: the decode kernels take
/// their row count as a template argument, so their per-row loops unroll.
template <typename F> void byRowCount(int64_t rows, F f) {
  switch (rows) {
  case 1:
    return f(std::integral_constant<int, 1>());
  case 2:
    return f(std::integral_constant<int, 2>());
  default:
    return f(std::integral_constant<int, 3>());
  }
}

namespace {

/// 16 panel values from element `at`, fp32 or widened from fp16.
template <bool F16>
__attribute__((target("avx512f"))) inline __m512 panelValues(const void *panel, int64_t at) {
  if (F16)
    return _mm512_cvtph_ps(_mm256_loadu_si256(
        reinterpret_cast<const __m256i *>(static_cast<const uint16_t *>(panel) + at)));
  return _mm512_loadu_ps(static_cast<const float *>(panel) + at);
}

/// The inner loop of panelMicro512 for P panels of fp32 (or fp16, widened per load)
/// weights: one pointer walks the panels, and the R input rows are read from two pointers
/// (rows 0-2 and 3-5) at offsets 0, k and 2k, so every address is a register plus a scaled
/// index and nothing spills (six row pointers and the runtime panel count did: a third of
/// the loop's instructions were moves and compares).
template <int R, int P, bool F16>
__attribute__((target("avx512f"))) inline void
panelLoop(const float *x, int64_t k, const void *panel, __m512 (&acc)[R][2]) {
  const float *x0 = x, *x3 = x + (R > 3 ? 3 * k : 0);
  const int64_t k2 = 2 * k, stride = 16 * k; // the second panel, in elements
  for (int64_t i = 0; i < k; ++i) {
    const __m512 b0 = panelValues<F16>(panel, 16 * i);
    const __m512 b1 = P == 2 ? panelValues<F16>(panel, stride + 16 * i) : b0;
    const float *rows[6] = {x0 + i, x0 + i + k, x0 + i + k2, x3 + i, x3 + i + k, x3 + i + k2};
    for (int r = 0; r < R; ++r) {
      const __m512 a = _mm512_set1_ps(*rows[r]);
      acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
      if (P == 2)
        acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
    }
  }
}

template <int R>
__attribute__((target("avx512f"))) void panelMicro512(const float *x, int64_t k,
                                                      const WeightRef &w, int64_t p,
                                                      int panels, float *out, int64_t ld,
                                                      int64_t col0, int64_t end) {
  __m512 acc[R][2];
  for (int r = 0; r < R; ++r)
    acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  const bool f16 = w.dtype == DType::F16;
  const void *panel = static_cast<const uint8_t *>(w.data) + p * k * 16 * (f16 ? 2 : 4);
  if (panels == 2)
    f16 ? panelLoop<R, 2, true>(x, k, panel, acc) : panelLoop<R, 2, false>(x, k, panel, acc);
  else
    f16 ? panelLoop<R, 1, true>(x, k, panel, acc) : panelLoop<R, 1, false>(x, k, panel, acc);
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < panels; ++c) {
      int64_t first = (p + c) * 16, lanes = std::min<int64_t>(16, end - first);
      if (lanes <= 0)
        continue;
      float tmp[16];
      _mm512_storeu_ps(tmp, acc[r][c]);
      std::memcpy(out + r * ld + (first - col0), tmp, size_t(lanes) * sizeof(float));
    }
}

/// 16 halves (fp16 or bf16) as fp32, exactly.
__attribute__((target("avx512f"))) inline __m512 widenHalves(const uint16_t *at, bool bf16) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(at));
  return bf16 ? _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16))
              : _mm512_cvtph_ps(h);
}

/// 16 weights of a panel as fp32.
__attribute__((target("avx512f"))) inline __m512 loadPanel512(const WeightRef &w, bool half,
                                                              int64_t base) {
  return half ? widenHalves(static_cast<const uint16_t *>(w.data) + base,
                            w.dtype == DType::BF16)
              : _mm512_loadu_ps(static_cast<const float *>(w.data) + base);
}

/// One input row (decode): the panel's K steps split over 4 independent accumulator
/// chains per panel, so loads, not FMA latency, set the pace.
__attribute__((target("avx512f"))) void panelGemv512(const float *x, int64_t k,
                                                     const WeightRef &w, int64_t p, int panels,
                                                     float *out, int64_t col0, int64_t end) {
  const bool f16 = w.dtype != DType::F32; // fp16 or bf16: 2 bytes a weight
  for (int c = 0; c < panels; ++c) {
    int64_t panelBase = (p + c) * k * 16;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 4 <= k; i += 4) {
      // Ahead by 2 KiB of fp32 (1 of fp16) panel: this VM's prefetchers alone leave the
      // stream waiting on memory.
      const char *ahead =
          reinterpret_cast<const char *>(w.data) + (panelBase + i * 16) * (f16 ? 2 : 4) + 2048;
      _mm_prefetch(ahead, _MM_HINT_T0);
      _mm_prefetch(ahead + 64, _MM_HINT_T0);
      if (!f16) {
        _mm_prefetch(ahead + 128, _MM_HINT_T0);
        _mm_prefetch(ahead + 192, _MM_HINT_T0);
      }
      a0 = _mm512_fmadd_ps(_mm512_set1_ps(x[i]), loadPanel512(w, f16, panelBase + i * 16), a0);
      a1 = _mm512_fmadd_ps(_mm512_set1_ps(x[i + 1]), loadPanel512(w, f16, panelBase + (i + 1) * 16), a1);
      a2 = _mm512_fmadd_ps(_mm512_set1_ps(x[i + 2]), loadPanel512(w, f16, panelBase + (i + 2) * 16), a2);
      a3 = _mm512_fmadd_ps(_mm512_set1_ps(x[i + 3]), loadPanel512(w, f16, panelBase + (i + 3) * 16), a3);
    }
    for (; i < k; ++i)
      a0 = _mm512_fmadd_ps(_mm512_set1_ps(x[i]), loadPanel512(w, f16, panelBase + i * 16), a0);
    __m512 acc = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
    int64_t first = (p + c) * 16, lanes = std::min<int64_t>(16, end - first);
    if (lanes <= 0)
      continue;
    float tmp[16];
    _mm512_storeu_ps(tmp, acc);
    std::memcpy(out + (first - col0), tmp, size_t(lanes) * sizeof(float));
  }
}

/// Every input row times panels p (and p + 1 when `panels` is 2), into the columns up to
/// `end` of out (column col0 at out[0]). Blocks of 6 rows, the remainder in as few blocks
/// as possible: a lone row streams the whole panel for 2 FMAs per step where a block of 6
/// does 12.
__attribute__((target("avx512f"))) void panelRowBlocks512(const float *in, int64_t rows,
                                                          const WeightRef &w, int64_t p,
                                                          int panels, float *out, int64_t ld,
                                                          int64_t col0, int64_t end) {
  const int64_t k = w.cols;
  int64_t r = 0;
  for (; r + 6 <= rows; r += 6)
    panelMicro512<6>(in + r * k, k, w, p, panels, out + r * ld, ld, col0, end);
  if (rows - r >= 4) {
    panelMicro512<4>(in + r * k, k, w, p, panels, out + r * ld, ld, col0, end);
    r += 4;
  }
  if (rows - r >= 2) {
    panelMicro512<2>(in + r * k, k, w, p, panels, out + r * ld, ld, col0, end);
    r += 2;
  }
  for (; r < rows; ++r)
    panelMicro512<1>(in + r * k, k, w, p, panels, out + r * ld, ld, col0, end);
}

} // namespace

__attribute__((target("avx512f"))) void panelColumnsAVX512(const float *in, float *out,
                                                           int64_t ld, int64_t rows,
                                                           const WeightRef &w, int64_t begin,
                                                           int64_t end) {
  int64_t k = w.cols, lastPanel = (end + 15) / 16;
  // fp16 panels times many rows: widened once per pair of panels into fp32 (aligned as the
  // compiled ones), not at every load of every block of 6 rows (SmolLM2 fp16 evaluation
  // ran at 0.76x of fp32 that way). bf16 panels likewise from 2 rows (panelMicro512 reads
  // no bf16; the AVX2 kernel they went to ran prefill at 0.41-0.43 of the FMA peak).
  const bool bf16 = w.dtype == DType::BF16;
  const bool widen = (w.dtype == DType::F16 && rows >= 4) || (bf16 && rows >= 2);
  thread_local std::vector<float> wideStore;
  float *wide = nullptr;
  WeightRef wideRef;
  if (widen) {
    wideStore.resize(size_t(32 * k + 16));
    wide = wideStore.data() + (16 - reinterpret_cast<uintptr_t>(wideStore.data()) / 4 % 16) % 16;
    wideRef = w;
    wideRef.data = wide;
    wideRef.dtype = DType::F32;
  }
  for (int64_t p = begin / 16; p < lastPanel; p += 2) {
    int panels = int(std::min<int64_t>(2, lastPanel - p));
    if (rows == 1) {
      panelGemv512(in, k, w, p, panels, out, begin, end);
    } else if (widen) {
      const uint16_t *half = static_cast<const uint16_t *>(w.data) + p * k * 16;
      for (int64_t i = 0; i < panels * k * 16; i += 16)
        _mm512_store_ps(wide + i, widenHalves(half + i, bf16));
      // The widened pair is panels 0 and 1 of wideRef; its columns start at panel p's.
      panelRowBlocks512(in, rows, wideRef, 0, panels, out + (16 * p - begin), ld, 0,
                        end - 16 * p);
    } else {
      panelRowBlocks512(in, rows, w, p, panels, out, ld, begin, end);
    }
  }
}

/// dst[16·i + l] = rows[l][column + i] for a 16 x 16 block: the decoded rows' columns as
/// one panel step each (interleaves of pairs, then of quads, then two 128-bit lane
/// shuffles; 64 shuffles where the scalar copy made 256 strided stores).
__attribute__((target("avx512f"))) void transpose16x16AVX512(const float *const *rows,
                                                             int64_t column, float *dst) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i)
    r[i] = _mm512_loadu_ps(rows[i] + column);
  for (int j = 0; j < 8; ++j) {
    t[2 * j] = _mm512_unpacklo_ps(r[2 * j], r[2 * j + 1]);
    t[2 * j + 1] = _mm512_unpackhi_ps(r[2 * j], r[2 * j + 1]);
  }
  // r[4q + m], 128-bit lane L: column 4L + m of rows 4q..4q+3.
  for (int q = 0; q < 4; ++q) {
    const __m512d a = _mm512_castps_pd(t[4 * q]), b = _mm512_castps_pd(t[4 * q + 1]),
                  c = _mm512_castps_pd(t[4 * q + 2]), d = _mm512_castps_pd(t[4 * q + 3]);
    r[4 * q] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[4 * q + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[4 * q + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[4 * q + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int m = 0; m < 4; ++m) {
    const __m512 lo = _mm512_shuffle_f32x4(r[m], r[4 + m], 0x44),
                 hi = _mm512_shuffle_f32x4(r[m], r[4 + m], 0xee),
                 lo2 = _mm512_shuffle_f32x4(r[8 + m], r[12 + m], 0x44),
                 hi2 = _mm512_shuffle_f32x4(r[8 + m], r[12 + m], 0xee);
    _mm512_storeu_ps(dst + 16 * m, _mm512_shuffle_f32x4(lo, lo2, 0x88));
    _mm512_storeu_ps(dst + 16 * (4 + m), _mm512_shuffle_f32x4(lo, lo2, 0xdd));
    _mm512_storeu_ps(dst + 16 * (8 + m), _mm512_shuffle_f32x4(hi, hi2, 0x88));
    _mm512_storeu_ps(dst + 16 * (12 + m), _mm512_shuffle_f32x4(hi, hi2, 0xdd));
  }
}

__attribute__((target("avx512f"))) void decodePanelsAVX512(const WeightRef &w, int64_t j0,
                                                           int64_t count, float *panel) {
  const int64_t k = w.cols;
  const int panels = count > 16 ? 2 : 1;
  if (w.panels) { // packed at load in fp16 or bf16: widened
    const uint16_t *half = static_cast<const uint16_t *>(w.data) + j0 * k;
    for (int64_t i = 0; i < panels * k * 16; i += 16) {
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(half + i));
      _mm512_storeu_ps(panel + i, w.dtype == DType::F16
                                      ? _mm512_cvtph_ps(h)
                                      : _mm512_castsi512_ps(_mm512_slli_epi32(
                                            _mm512_cvtepu16_epi32(h), 16)));
    }
    return;
  }
  if (w.tileCodes && j0 % 16 == 0 && count % 16 == 0 && j0 + count <= w.rows / 16 * 16)
    return tilePanelsAVX512(w, j0, panels, panel); // the tiles' values straight into panels
  // Dense fp32 rows (replaced during calibration) are transposed where they are; other
  // rows are decoded first, and a short last panel padded with zero rows.
  thread_local std::vector<float> decoded; // per thread, reused: 32 decoded rows
  decoded.resize(size_t(32 * k));
  const float *rowsAt = decoded.data();
  if (!decodesRows(w) && w.dtype == DType::F32 && count % 16 == 0) {
    rowsAt = static_cast<const float *>(w.data) + j0 * k;
  } else {
    for (int64_t r = 0; r < count; ++r) {
      float *dst = decoded.data() + r * k;
      const float *row = weightRow(w, j0 + r, dst);
      if (row != dst)
        std::memcpy(dst, row, size_t(k) * sizeof(float));
    }
    std::fill(decoded.begin() + count * k, decoded.end(), 0.0f);
  }
  // panel[(c·k + i)·16 + l] = row 16c + l, column i: 16 columns of 16 rows at a time.
  for (int c = 0; c < panels; ++c) {
    const float *rows[16];
    for (int l = 0; l < 16; ++l)
      rows[l] = rowsAt + (16 * c + l) * k;
    for (int64_t i0 = 0; i0 < k; i0 += 16) {
      const int64_t width = std::min<int64_t>(16, k - i0);
      if (width == 16) {
        transpose16x16AVX512(rows, i0, panel + (c * k + i0) * 16);
        continue;
      }
      for (int l = 0; l < 16; ++l) {
        const float *src = rowsAt + (16 * c + l) * k + i0;
        float *dst = panel + (c * k + i0) * 16 + l;
        for (int64_t i = 0; i < width; ++i)
          dst[i * 16] = src[i];
      }
    }
  }
}

__attribute__((target("avx512f"))) void decodedPanelColumnsAVX512(const float *in, float *out,
                                                                  int64_t ld, int64_t rows,
                                                                  const WeightRef &w,
                                                                  int64_t begin, int64_t end) {
  const int64_t k = w.cols;
  // 64-byte aligned, as the compiled fp32 panels are: the micro-kernel's every load would
  // otherwise span two cache lines (measured: its time +16% on SmolLM2's rtn-w4g128).
  thread_local std::vector<float> panelStore;
  panelStore.resize(size_t(32 * k + 16));
  float *panel =
      panelStore.data() + (16 - reinterpret_cast<uintptr_t>(panelStore.data()) / 4 % 16) % 16;
  WeightRef packed;
  packed.data = panel;
  packed.dtype = DType::F32;
  packed.rows = 32;
  packed.cols = k;
  packed.panels = true;
  for (int64_t j0 = begin; j0 < end; j0 += 32) {
    const int64_t count = std::min<int64_t>(32, end - j0);
    decodePanelsAVX512(w, j0, count, panel);
    panelRowBlocks512(in, rows, packed, 0, count > 16 ? 2 : 1, out + (j0 - begin), ld, 0, count);
  }
}

namespace {

/// The even and the odd columns of `rows` input rows of `k` (even) columns, each row's
/// k / 2 values in turn: the inputs that the low and the high nibbles of packed 4-bit codes
/// multiply.
void splitEvenOdd(const float *in, int64_t rows, int64_t k, std::vector<float> &xe,
                  std::vector<float> &xo) {
  const int64_t half = k / 2;
  xe.resize(size_t(rows * half));
  xo.resize(xe.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < half; ++i) {
      xe[size_t(r * half + i)] = in[r * k + 2 * i];
      xo[size_t(r * half + i)] = in[r * k + 2 * i + 1];
    }
}

/// `count` group values (scales or minima) from `first` of fp32, fp16 or bf16 `values` as
/// fp32 into `out`: 16 at a time for fp16 (vcvtph2ps), where the portable conversion's
/// branches per group of 32 weights would cost as much as the group's arithmetic.
__attribute__((target("avx512f"))) void groupFloats(const void *values, DType dtype,
                                                    int64_t first, int64_t count, float *out) {
  int64_t i = 0;
  if (dtype == DType::F16) {
    const uint16_t *h = static_cast<const uint16_t *>(values) + first;
    for (; i + 16 <= count; i += 16)
      _mm512_storeu_ps(out + i, _mm512_cvtph_ps(_mm256_loadu_si256(
                                    reinterpret_cast<const __m256i *>(h + i))));
  } else if (dtype == DType::F32) {
    std::memcpy(out, static_cast<const float *>(values) + first, size_t(count) * sizeof(float));
    return;
  }
  WeightRef v; // the tail, and bf16
  v.data = values;
  v.dtype = dtype;
  for (; i < count; ++i)
    out[i] = at(v, first + i);
}

/// Σx over each group of `groupSize` columns (the last may be shorter) of `rows` input
/// rows, into sums[r * groups + g]: what the zero points (or minima) multiply. Group by
/// group, no division per column: decode calls this for every weight and token.
inline void inputGroupSums(const float *in, int64_t rows, int64_t k, int64_t groupSize,
                           float *sums) {
  const int64_t groups = (k + groupSize - 1) / groupSize;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < groups; ++g) {
      const float *x = in + r * k + g * groupSize;
      const int64_t count = std::min(groupSize, k - g * groupSize);
      float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t c = 0;
      for (; c + 8 <= count; c += 8)
        for (int i = 0; i < 8; ++i)
          acc[i] += x[c + i];
      float total =
          ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
      for (; c < count; ++c)
        total += x[c];
      sums[r * groups + g] = total;
    }
}

/// Row `j`'s group scales, and offsets: zero·scale (the zero points, or `implicitZero` for
/// symmetric groups), or minus the minimum (w = q·scale + min); the zero-point term of a
/// row is then Σ_g offset_g · Σx_g (dot with the input's group sums).
__attribute__((target("avx512f"))) void rowGroupTerms(const WeightRef &w, int64_t j,
                                                      float implicitZero, float *scales,
                                                      float *offsets) {
  const int64_t G = w.groups;
  groupFloats(w.scales, w.dtype, j * G, G, scales);
  if (w.isAffineMin()) {
    groupFloats(w.mins, w.dtype, j * G, G, offsets);
    for (int64_t g = 0; g < G; ++g)
      offsets[g] = -offsets[g];
    return;
  }
  for (int64_t g = 0; g < G; ++g)
    offsets[g] = scales[g] * (w.zeros ? float(w.zeros[j * G + g]) : implicitZero);
}

/// Decode (1-3 input rows) of a dense 4- or 8-bit affine weight (with or without minimum)
/// whose groups are whole runs of 32 columns (the last one possibly shorter, K a multiple
/// of 32): the codes are never expanded into a row.
/// Per 32 columns, one 16-byte load widened to 16 low and 16 high nibbles (4 bits: columns
/// 2i and 2i + 1, multiplied by the input's even and odd columns) or two 16-byte loads of
/// codes (8 bits: columns in order), as floats, times the input, scaled by the group's
/// scale; the zero points (or minima) enter once per row, as (q - z)·s·x summed =
/// s·Σq·x - s·z·Σx (q·s + m summed: s·Σq·x + m·Σx): a dot product of the row's group
/// offsets with Σx per group, computed once per input. A row's scales and offsets are
/// converted to fp32 first, 16 at a time.
template <int Bits, int R>
__attribute__((target("avx512f"))) void codeGroupRows(const float *in, float *out, int64_t ld,
                                                      const WeightRef &w, int64_t begin,
                                                      int64_t end) {
  const int64_t k = w.cols, half = k / 2, chunksPerGroup = w.groupSize / 32, G = w.groups;
  // Per thread, reused: decode calls this once per weight and token. 4 bits: the input's
  // even then odd columns (xe, xo); 8 bits: the input as it is.
  thread_local std::vector<float> xe, xo, groupSum, scales, offsets;
  groupSum.resize(size_t(R * G));
  scales.resize(size_t(G));
  offsets.resize(size_t(G));
  if (Bits == 4)
    splitEvenOdd(in, R, k, xe, xo);
  inputGroupSums(in, R, k, w.groupSize, groupSum.data());
  const __m512i nibble = _mm512_set1_epi32(0xf);
  const float implicitZero = float(1 << (Bits - 1));
  const int64_t stride = Bits == 4 ? half : k; // between the input rows
  for (int64_t j = begin; j < end; ++j) {
    const uint8_t *codes = w.codes + j * w.codeRowBytes;
    rowGroupTerms(w, j, implicitZero, scales.data(), offsets.data());
    __m512 acc[R];
    for (int r = 0; r < R; ++r)
      acc[r] = _mm512_setzero_ps();
    for (int64_t g = 0; g < G; ++g) {
      const __m512 sv = _mm512_set1_ps(scales[size_t(g)]);
      // The last group may be shorter (K = 576 in groups of 128: 4 and a half).
      const int64_t lastChunk = std::min((g + 1) * chunksPerGroup, k / 32);
      for (int64_t c = g * chunksPerGroup; c < lastChunk; ++c) {
        __m512 a, b; // the chunk's 32 codes, paired with the input at `xa`, `xb`
        const float *xa, *xb;
        if (Bits == 4) {
          _mm_prefetch(reinterpret_cast<const char *>(codes + 16 * c + 512), _MM_HINT_T0);
          __m512i v = _mm512_cvtepu8_epi32(
              _mm_loadu_si128(reinterpret_cast<const __m128i *>(codes + 16 * c)));
          a = _mm512_cvtepi32_ps(_mm512_and_si512(v, nibble));
          b = _mm512_cvtepi32_ps(_mm512_srli_epi32(v, 4));
          xa = &xe[size_t(16 * c)];
          xb = &xo[size_t(16 * c)];
        } else {
          const __m128i *p = reinterpret_cast<const __m128i *>(codes + 32 * c);
          _mm_prefetch(reinterpret_cast<const char *>(codes + 32 * c + 1024), _MM_HINT_T0);
          a = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(p)));
          b = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(p + 1)));
          xa = in + 32 * c;
          xb = in + 32 * c + 16;
        }
        for (int r = 0; r < R; ++r) {
          __m512 t = _mm512_mul_ps(a, _mm512_loadu_ps(xa + r * stride));
          t = _mm512_fmadd_ps(b, _mm512_loadu_ps(xb + r * stride), t);
          acc[r] = _mm512_fmadd_ps(sv, t, acc[r]);
        }
      }
    }
    for (int r = 0; r < R; ++r)
      out[r * ld + (j - begin)] =
          _mm512_reduce_add_ps(acc[r]) - dot(offsets.data(), &groupSum[size_t(r * G)], G);
  }
}

} // namespace

void codeGroupRowsAVX512(const float *in, float *out, int64_t ld, int64_t rows,
                         const WeightRef &w, int64_t begin, int64_t end) {
  byRowCount(rows, [&](auto r) {
    if (w.bits == 4)
      codeGroupRows<4, decltype(r)::value>(in, out, ld, w, begin, end);
    else
      codeGroupRows<8, decltype(r)::value>(in, out, ld, w, begin, end);
  });
}

/// The same for NF4 rows whose blocks fall on row boundaries (K a multiple of the block
/// size, itself a multiple of 32): the 16 NF4 values live in one register and the codes
/// index it (vpermps), high nibble first; each 32 values get their block's absmax.
__attribute__((target("avx512f"))) void nf4RowsAVX512(const float *in, float *out, int64_t ld,
                                                      int64_t rows, const WeightRef &w,
                                                      int64_t begin, int64_t end) {
  const int64_t k = w.cols, half = k / 2;
  thread_local std::vector<float> xe, xo; // per thread, reused across calls
  splitEvenOdd(in, rows, k, xe, xo);
  const __m512 table = _mm512_loadu_ps(kNF4Values);
  const __m512i nibble = _mm512_set1_epi32(0xf);
  const float *absmax = static_cast<const float *>(w.scales);
  for (int64_t j = begin; j < end; ++j) {
    const uint8_t *codes = w.codes + j * half; // row j's values start at value j·K
    const float *rowAbsmax = absmax + j * k / w.groupSize;
    __m512 acc[3] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int64_t c = 0; c < k / 32; ++c) {
      _mm_prefetch(reinterpret_cast<const char *>(codes + 16 * c + 512), _MM_HINT_T0);
      __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(codes + 16 * c)));
      __m512 even = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), table);
      __m512 odd = _mm512_permutexvar_ps(_mm512_and_si512(v, nibble), table);
      __m512 scale = _mm512_set1_ps(rowAbsmax[32 * c / w.groupSize]);
      for (int64_t r = 0; r < rows; ++r) {
        __m512 t = _mm512_mul_ps(even, _mm512_loadu_ps(&xe[size_t(r * half + 16 * c)]));
        t = _mm512_fmadd_ps(odd, _mm512_loadu_ps(&xo[size_t(r * half + 16 * c)]), t);
        acc[r] = _mm512_fmadd_ps(scale, t, acc[r]);
      }
    }
    for (int64_t r = 0; r < rows; ++r)
      out[r * ld + (j - begin)] = _mm512_reduce_add_ps(acc[r]);
  }
}

/// Whether codeGroupRowsAVX512 reads `w` with `rows` input rows.
bool codeGroupFastPath(const WeightRef &w, int64_t rows) {
  return rows < 4 && w.hasCodeGroups() && (w.bits == 4 || w.bits == 8) && w.scales &&
         w.sparse == SparsityKind::None && w.groupSize % 32 == 0 && w.cols % 32 == 0 &&
         haveAVX512();
}

namespace {

/// Decode (1-3 input rows) of a dense affine weight of any width whose rows and groups
/// hold whole 8-code words (the 2-, 3-, 5-7-bit rows of mixed recipes, and 4/8-bit groups
/// that are not whole runs of 32): each word read once (8 bytes; the weight's very last
/// word only its own), broadcast to 8 lanes and cut by per-lane shifts (vpsrlvq), the 8
/// codes times the input in fp32, summed per group and scaled; zero points (or minima)
/// once per row as in codeGroupRows.
/// The 8 codes of the word at `at` (its first `bytes` bytes: a weight's very last word may
/// be short) as fp32: broadcast, cut by per-lane shifts (vpsrlvq), masked.
__attribute__((target("avx512f,fma"))) inline __m256 wordCodes(const uint8_t *at, size_t bytes,
                                                               __m512i shifts, __m512i mask) {
  uint64_t word = 0;
  std::memcpy(&word, at, bytes);
  __m512i v = _mm512_and_si512(_mm512_srlv_epi64(_mm512_set1_epi64(int64_t(word)), shifts), mask);
  return _mm256_cvtepi32_ps(_mm512_cvtepi64_epi32(v));
}

template <int R>
__attribute__((target("avx512f,fma"))) void wordGroupRows(const float *in, float *out, int64_t ld,
                                                      const WeightRef &w, int64_t begin,
                                                      int64_t end) {
  const int64_t k = w.cols, G = w.groups, bits = w.bits;
  thread_local std::vector<float> groupSum, scales, offsets;
  groupSum.resize(size_t(R * G));
  scales.resize(size_t(G));
  offsets.resize(size_t(G));
  inputGroupSums(in, R, k, w.groupSize, groupSum.data());
  const __m512i shifts = _mm512_set_epi64(7 * bits, 6 * bits, 5 * bits, 4 * bits, 3 * bits,
                                          2 * bits, bits, 0);
  const __m512i mask = _mm512_set1_epi64((int64_t(1) << bits) - 1);
  const float implicitZero = float(1 << (bits - 1));
  for (int64_t j = begin; j < end; ++j) {
    const uint8_t *codes = w.codes + j * w.codeRowBytes;
    const bool lastRow = j + 1 == w.rows;
    rowGroupTerms(w, j, implicitZero, scales.data(), offsets.data());
    __m256 acc[R];
    for (int r = 0; r < R; ++r)
      acc[r] = _mm256_setzero_ps();
    for (int64_t g = 0; g < G; ++g) {
      // Two sums per input row (even and odd words): the FMAs' latency, not their number,
      // bounded one chain.
      __m256 even[R], odd[R];
      for (int r = 0; r < R; ++r)
        even[r] = odd[r] = _mm256_setzero_ps();
      const int64_t last = std::min(k, (g + 1) * w.groupSize);
      int64_t c = g * w.groupSize;
      for (; c + 16 <= last; c += 16) {
        _mm_prefetch(reinterpret_cast<const char *>(codes + c / 8 * bits) + 512, _MM_HINT_T0);
        const __m256 q0 = wordCodes(codes + c / 8 * bits, 8, shifts, mask);
        const __m256 q1 = wordCodes(codes + (c + 8) / 8 * bits,
                                    lastRow && c + 16 >= k ? size_t(bits) : 8, shifts, mask);
        for (int r = 0; r < R; ++r) {
          even[r] = _mm256_fmadd_ps(q0, _mm256_loadu_ps(in + r * k + c), even[r]);
          odd[r] = _mm256_fmadd_ps(q1, _mm256_loadu_ps(in + r * k + c + 8), odd[r]);
        }
      }
      if (c < last) { // a group of an odd number of words
        const __m256 q0 =
            wordCodes(codes + c / 8 * bits, lastRow && c + 8 >= k ? size_t(bits) : 8, shifts, mask);
        for (int r = 0; r < R; ++r)
          even[r] = _mm256_fmadd_ps(q0, _mm256_loadu_ps(in + r * k + c), even[r]);
      }
      const __m256 sv = _mm256_set1_ps(scales[size_t(g)]);
      for (int r = 0; r < R; ++r)
        acc[r] = _mm256_fmadd_ps(sv, _mm256_add_ps(even[r], odd[r]), acc[r]);
    }
    for (int r = 0; r < R; ++r) {
      float lanes[8], total = 0;
      _mm256_storeu_ps(lanes, acc[r]);
      for (float l : lanes)
        total += l;
      out[r * ld + (j - begin)] = total - dot(offsets.data(), &groupSum[size_t(r * G)], G);
    }
  }
}

} // namespace

void wordGroupRowsAVX512(const float *in, float *out, int64_t ld, int64_t rows,
                         const WeightRef &w, int64_t begin, int64_t end) {
  byRowCount(rows, [&](auto r) { wordGroupRows<decltype(r)::value>(in, out, ld, w, begin, end); });
}

/// Whether wordGroupRowsAVX512 reads `w` with `rows` input rows.
bool wordGroupFastPath(const WeightRef &w, int64_t rows) {
  return rows < 4 && w.hasCodeGroups() && w.bits >= 2 && w.bits <= 8 && w.scales &&
         w.sparse == SparsityKind::None && w.groupSize % 8 == 0 && w.cols % 8 == 0 &&
         haveAVX512() && haveAVX2(); // haveAVX2: FMA for the 8-lane sums
}

namespace {

/// How far ahead of a row's kept values bitmaskRows prefetches (1 KiB until 2026-12-05;
/// SmolLM2 magnitude-50 decode, 1 thread: 2 KiB 77.2-77.4 tok/s, 4 KiB 77.9-78.5, 8 KiB
/// 78.5-78.7).
constexpr int64_t kBitmaskPrefetchAhead = 8192;

/// The columns of 16 (c on, fewer at the row's end: `valid`) that a row's mask keeps.
__attribute__((target("avx512f"))) inline __mmask16
keptColumns16(const uint8_t *mask, int64_t maskBytes, int64_t k, int64_t c, __mmask16 &valid) {
  valid = k - c >= 16 ? __mmask16(0xffff) : __mmask16((1u << (k - c)) - 1);
  uint32_t bits = mask[c / 8];
  if (c / 8 + 1 < maskBytes)
    bits |= uint32_t(mask[c / 8 + 1]) << 8;
  return __mmask16(bits) & valid;
}

/// Decode (1-3 input rows) of pruned fp32 weights stored as a bitmask and the kept values:
/// per 16 columns, the mask's 16 bits expand the next kept values into their lanes
/// (vexpandps, reading only those values), times the input; no row is expanded. Steps of
/// 64 columns: the four expansions' starts are popcounts of one 64-bit load of the mask,
/// independent of each other, and each feeds its own accumulator chain. (One step of 16
/// chained every expansion's address on the previous popcount and every FMA on the last.)
/// SmolLM2 magnitude-50 decode, 1 thread, alternating: 73.7-74.0 -> 77.9-78.7 tok/s (fp32
/// 75-78: at half the bytes, still no faster). What bounds it is vexpandps itself: ~1.15 ns
/// (~5 cycles) each on this Zen 5, from memory or register (a microbenchmark); a table of
/// ranks per mask byte + vpermps did 0.92 ns alone but was slower in bitmaskValues.
template <int R>
__attribute__((target("avx512f,popcnt"))) void
bitmaskRows(const float *in, float *out, int64_t ld, const WeightRef &w, int64_t begin,
            int64_t end) {
  const int64_t k = w.cols, maskBytes = (k + 7) / 8;
  const float *values = static_cast<const float *>(w.data);
  for (int64_t j = begin; j < end; ++j) {
    const uint8_t *mask = w.index + j * maskBytes;
    const float *v = values + w.rowPtr[j];
    __m512 acc[R][4];
    for (int r = 0; r < R; ++r)
      acc[r][0] = acc[r][1] = acc[r][2] = acc[r][3] = _mm512_setzero_ps();
    int64_t c = 0;
    for (; c + 64 <= k; c += 64) {
      uint64_t bits;
      std::memcpy(&bits, mask + c / 8, 8);
      // kBitmaskPrefetchAhead bytes ahead; a step reads 128 bytes of values at 50% kept.
      _mm_prefetch(reinterpret_cast<const char *>(v) + kBitmaskPrefetchAhead, _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char *>(v) + kBitmaskPrefetchAhead + 64, _MM_HINT_T0);
      const float *at[4] = {v, v + __builtin_popcountll(bits & 0xffff),
                            v + __builtin_popcountll(bits & 0xffffffffull),
                            v + __builtin_popcountll(bits & 0xffffffffffffull)};
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) {
        const __m512 wv = _mm512_maskz_expandloadu_ps(__mmask16(bits >> (16 * q)), at[q]);
        for (int r = 0; r < R; ++r)
          acc[r][q] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(in + r * k + c + 16 * q), acc[r][q]);
      }
      v += __builtin_popcountll(bits);
    }
    for (; c < k; c += 16) {
      __mmask16 valid;
      const __mmask16 kept = keptColumns16(mask, maskBytes, k, c, valid);
      const __m512 wv = _mm512_maskz_expandloadu_ps(kept, v);
      v += __builtin_popcount(unsigned(kept));
      for (int r = 0; r < R; ++r)
        acc[r][0] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(valid, in + r * k + c), acc[r][0]);
    }
    for (int r = 0; r < R; ++r)
      out[r * ld + (j - begin)] = _mm512_reduce_add_ps(_mm512_add_ps(
          _mm512_add_ps(acc[r][0], acc[r][1]), _mm512_add_ps(acc[r][2], acc[r][3])));
  }
}

/// Row n expanded to its K values (the prefill decodes every row per call): the scalar
/// walk over the kept values took 6% of SmolLM2 sparsegpt-50's evaluation.
__attribute__((target("avx512f,popcnt"))) void bitmaskValues(const WeightRef &w, int64_t n,
                                                             float *dst) {
  const int64_t k = w.cols, maskBytes = (k + 7) / 8;
  const uint8_t *mask = w.index + n * maskBytes;
  const float *v = static_cast<const float *>(w.data) + w.rowPtr[n];
  int64_t c = 0;
  for (; c + 64 <= k; c += 64) { // four expansions from independent popcounts (bitmaskRows)
    uint64_t bits;
    std::memcpy(&bits, mask + c / 8, 8);
    const float *at[4] = {v, v + __builtin_popcountll(bits & 0xffff),
                          v + __builtin_popcountll(bits & 0xffffffffull),
                          v + __builtin_popcountll(bits & 0xffffffffffffull)};
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q)
      _mm512_storeu_ps(dst + c + 16 * q,
                       _mm512_maskz_expandloadu_ps(__mmask16(bits >> (16 * q)), at[q]));
    v += __builtin_popcountll(bits);
  }
  for (; c < k; c += 16) {
    __mmask16 valid;
    const __mmask16 kept = keptColumns16(mask, maskBytes, k, c, valid);
    _mm512_mask_storeu_ps(dst + c, valid, _mm512_maskz_expandloadu_ps(kept, v));
    v += __builtin_popcount(unsigned(kept));
  }
}

} // namespace

bool bitmaskRowValuesApply(const WeightRef &w) {
  return w.sparse == SparsityKind::Bitmask && !w.isQuantized() && w.dtype == DType::F32 &&
         w.rowPtr && haveAVX512();
}

void bitmaskRowValues(const WeightRef &w, int64_t n, float *dst) { bitmaskValues(w, n, dst); }

void bitmaskRowsAVX512(const float *in, float *out, int64_t ld, int64_t rows,
                       const WeightRef &w, int64_t begin, int64_t end) {
  byRowCount(rows, [&](auto r) { bitmaskRows<decltype(r)::value>(in, out, ld, w, begin, end); });
}

/// Whether bitmaskRowsAVX512 reads `w` with `rows` input rows.
bool bitmaskFastPath(const WeightRef &w, int64_t rows) {
  return rows < 4 && bitmaskRowValuesApply(w);
}

/// Whether nf4RowsAVX512 reads `w` with `rows` input rows.
bool nf4FastPath(const WeightRef &w, int64_t rows) {
  return rows < 4 && w.isNF4() && w.sparse == SparsityKind::None && w.groupSize % 32 == 0 &&
         w.cols % w.groupSize == 0 && haveAVX512();
}
#else
bool haveAVX512() { return false; }
bool codeGroupFastPath(const WeightRef &, int64_t) { return false; }
bool nf4FastPath(const WeightRef &, int64_t) { return false; }
bool wordGroupFastPath(const WeightRef &, int64_t) { return false; }
bool bitmaskFastPath(const WeightRef &, int64_t) { return false; }
bool bitmaskRowValuesApply(const WeightRef &) { return false; }
void bitmaskRowValues(const WeightRef &, int64_t, float *) {}
void bitmaskRowsAVX512(const float *, float *, int64_t, int64_t, const WeightRef &, int64_t,
                       int64_t) {}
void wordGroupRowsAVX512(const float *, float *, int64_t, int64_t, const WeightRef &, int64_t,
                         int64_t) {}
void nf4RowsAVX512(const float *, float *, int64_t, int64_t, const WeightRef &, int64_t,
                   int64_t) {}
void codeGroupRowsAVX512(const float *, float *, int64_t, int64_t, const WeightRef &, int64_t,
                         int64_t) {}
void panelColumnsAVX512(const float *, float *, int64_t, int64_t, const WeightRef &, int64_t,
                        int64_t) {}
void decodePanelsAVX512(const WeightRef &, int64_t, int64_t, float *) {}
void transpose16x16AVX512(const float *const *, int64_t, float *) {}
void decodedPanelColumnsAVX512(const float *, float *, int64_t, int64_t, const WeightRef &,
                               int64_t, int64_t) {}
#endif

} // namespace midllama::rt::cpu
