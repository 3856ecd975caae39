//===- MatMulBF16AVX512.cpp - Prefill with bf16 products (AVX512_BF16) ----===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// With fp32 activations a quantized prefill can at best match fp32's: its codes become fp32
// values that meet one FMA each, and the fp32 panel kernel already runs at 0.93-0.97 of the
// FMA peak (docs/benchmarks.md). vdpbf16ps multiplies two bf16 pairs per 32-bit lane and
// sums them in fp32, 32 multiply-adds per instruction at the FMA's rate (measured on this
// VM's Zen 5: 3.64 G instructions/s for both), so rounding the activations and the decoded
// weights to bf16 doubles the arithmetic for every format the integer path does not cover:
// fp16/bf16, NF4, 2-, 3- and 7-bit codes, pruned weights. Each block of 32 output columns
// is decoded once into fp32 panels (decodePanelsAVX512, as the fp32 prefill does), rounded
// into panels of pairs (lane c of step i: row c's columns 2i and 2i+1), and every block of
// input rows runs over it: 2 panels by 6 rows, 12 accumulators, the rows' pairs broadcast
// from one step-major block.
//
//===----------------------------------------------------------------------===//

#include "runtime/cpu/KernelsInternal.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace midllama::rt::cpu {

namespace {
bool bf16On = false;
} // namespace

void setBf16Activations(bool on) { bf16On = on; }
bool bf16Activations() { return bf16On; }

#if defined(__x86_64__) && defined(__GNUC__)
namespace {

#define MIDLLAMA_BF16 __attribute__((target("avx512f,avx512bw,avx512bf16")))

bool haveAVX512BF16() {
  static const bool yes = __builtin_cpu_supports("avx512f") &&
                          __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512bf16") &&
                          !std::getenv("MIDLLAMA_NO_AVX512");
  return yes;
}

/// 32 fp32 values (lo, then hi) as 32 bf16, nearest even, in order.
MIDLLAMA_BF16 inline __m512i roundToBf16(__m512 lo, __m512 hi) {
  return reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));
}

/// fp32 panels (16 lanes per column) into panels of pairs: dst[(c·pairs + i)·16 + l] =
/// bf16 of row l's columns 2i (low half) and 2i + 1 (high half) of panel c.
MIDLLAMA_BF16 void pairPanels(const float *panel, int64_t k, int panels, int64_t pairs,
                              uint32_t *dst) {
  // After rounding, column 2i's 16 values are elements 0-15 and column 2i+1's 16-31;
  // vpermw interleaves them lane by lane.
  alignas(64) static const uint16_t order[32] = {0, 16, 1, 17, 2,  18, 3,  19, 4,  20, 5,
                                                 21, 6, 22, 7, 23, 8,  24, 9,  25, 10, 26,
                                                 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i interleave = _mm512_load_si512(order);
  for (int c = 0; c < panels; ++c) {
    const float *src = panel + c * k * 16;
    uint32_t *out = dst + c * pairs * 16;
    for (int64_t i = 0; i < pairs; ++i) {
      const __m512 even = _mm512_loadu_ps(src + 2 * i * 16);
      const __m512 odd = 2 * i + 1 < k ? _mm512_loadu_ps(src + (2 * i + 1) * 16)
                                       : _mm512_setzero_ps();
      _mm512_store_si512(out + 16 * i,
                         _mm512_permutexvar_epi16(interleave, roundToBf16(even, odd)));
    }
  }
}

/// R input rows (their pairs step-major: x[i·R + r]) times P panels of pairs.
template <int R, int P>
MIDLLAMA_BF16 void micro(const uint32_t *x, const uint32_t *panel, int64_t pairs, float *out,
                         int64_t ld, int64_t count) {
  __m512 acc[R][2];
  for (int r = 0; r < R; ++r)
    acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  const uint32_t *second = panel + 16 * pairs;
  for (int64_t i = 0; i < pairs; ++i) {
    const __m512i b0 = _mm512_load_si512(panel + 16 * i);
    const __m512i b1 = P == 2 ? _mm512_load_si512(second + 16 * i) : b0;
    for (int r = 0; r < R; ++r) {
      const __m512i a = _mm512_set1_epi32(int(x[i * R + r]));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], reinterpret_cast<__m512bh>(a),
                                   reinterpret_cast<__m512bh>(b0));
      if (P == 2)
        acc[r][1] = _mm512_dpbf16_ps(acc[r][1], reinterpret_cast<__m512bh>(a),
                                     reinterpret_cast<__m512bh>(b1));
    }
  }
  for (int c = 0; c < P; ++c) {
    const int64_t lanes = std::min<int64_t>(16, count - 16 * c);
    const __mmask16 m = lanes >= 16 ? __mmask16(0xffff) : __mmask16((1u << lanes) - 1);
    for (int r = 0; r < R; ++r)
      _mm512_mask_storeu_ps(out + r * ld + 16 * c, m, acc[r][c]);
  }
}

template <int R>
MIDLLAMA_BF16 void microPanels(const uint32_t *x, const uint32_t *panel, int64_t pairs,
                               int panels, float *out, int64_t ld, int64_t count) {
  panels == 2 ? micro<R, 2>(x, panel, pairs, out, ld, count)
              : micro<R, 1>(x, panel, pairs, out, ld, count);
}

/// microPanels for a block of 1..kBf16Rows input rows, by its height.
using MicroFn = void (*)(const uint32_t *, const uint32_t *, int64_t, int, float *, int64_t,
                         int64_t);
static_assert(kBf16Rows == 6, "one entry per block height");
constexpr MicroFn kMicro[kBf16Rows + 1] = {nullptr,         &microPanels<1>, &microPanels<2>,
                                           &microPanels<3>, &microPanels<4>, &microPanels<5>,
                                           &microPanels<6>};

/// 64-byte aligned storage of `n` elements, per thread, reused.
template <typename T> T *alignedScratch(std::vector<T> &store, size_t n) {
  store.resize(n + 64 / sizeof(T));
  const size_t misaligned = reinterpret_cast<uintptr_t>(store.data()) % 64 / sizeof(T);
  return store.data() + (misaligned ? 64 / sizeof(T) - misaligned : 0);
}

} // namespace

bool bf16ActivationsAvailable() { return haveAVX512BF16(); }

bool bf16FastPath(const WeightRef &w, int64_t rows) {
  return bf16On && rows >= 4 && !w.isInt8() && (decodesRows(w) || w.dtype != DType::F32) &&
         haveAVX512BF16();
}

/// Rows [begin, end) of toBf16Activations.
MIDLLAMA_BF16 static void bf16Rows(const float *in, int64_t begin, int64_t end, int64_t k,
                                   Bf16Activations &x) {
  const int64_t rows = x.rows;
  thread_local std::vector<uint32_t> row;
  row.resize(size_t((x.pairs + 15) / 16 * 16));
  for (int64_t r = begin; r < end; ++r) {
    const float *src = in + r * k;
    for (int64_t i = 0; i < k; i += 32) { // 32 columns = 16 pairs per step, masked at the end
      const int64_t left = std::min<int64_t>(32, k - i);
      const __mmask16 lo = left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1);
      const __mmask16 hi = left >= 32 ? __mmask16(0xffff)
                           : left > 16 ? __mmask16((1u << (left - 16)) - 1)
                                       : __mmask16(0);
      _mm512_storeu_si512(row.data() + i / 2,
                          roundToBf16(_mm512_maskz_loadu_ps(lo, src + i),
                                      _mm512_maskz_loadu_ps(hi, src + i + 16)));
    }
    // Into the row's block, step-major (the last block may hold fewer rows).
    const int64_t block = r / kBf16Rows, first = block * kBf16Rows;
    const int64_t height = std::min<int64_t>(kBf16Rows, rows - first);
    uint32_t *dst = x.v.data() + first * x.pairs + (r - first);
    for (int64_t i = 0; i < x.pairs; ++i)
      dst[i * height] = row[size_t(i)];
  }
}

MIDLLAMA_BF16 void toBf16Activations(const float *in, int64_t rows, int64_t k,
                                     Bf16Activations &x) {
  x.rows = rows;
  x.k = k;
  x.pairs = (k + 1) / 2;
  x.v.resize(size_t(rows * x.pairs));
  // Rows split among the threads (one thread rounding them left the other waiting, as
  // the int8 quantizer did); each thread with its own row buffer.
  parallelFor(rows, 4 * k, [&](int64_t begin, int64_t end) { bf16Rows(in, begin, end, k, x); });
}

MIDLLAMA_BF16 void bf16ColumnsAVX512(const Bf16Activations &x, float *out, int64_t ld,
                                     const WeightRef &w, int64_t begin, int64_t end) {
  const int64_t k = w.cols, pairs = x.pairs;
  thread_local std::vector<float> panelStore;
  thread_local std::vector<uint32_t> pairStore;
  float *panel = alignedScratch(panelStore, size_t(32 * k));
  uint32_t *paired = alignedScratch(pairStore, size_t(32 * pairs));
  for (int64_t j0 = begin; j0 < end; j0 += 32) {
    const int64_t count = std::min<int64_t>(32, end - j0);
    const int panels = count > 16 ? 2 : 1;
    decodePanelsAVX512(w, j0, count, panel);
    pairPanels(panel, k, panels, pairs, paired);
    for (int64_t r = 0; r < x.rows; r += kBf16Rows) {
      const uint32_t *xb = x.v.data() + r * pairs;
      float *o = out + r * ld + (j0 - begin);
      kMicro[std::min<int64_t>(kBf16Rows, x.rows - r)](xb, paired, pairs, panels, o, ld, count);
    }
  }
}
#else
bool bf16ActivationsAvailable() { return false; }
bool bf16FastPath(const WeightRef &, int64_t) { return false; }
void toBf16Activations(const float *, int64_t, int64_t, Bf16Activations &) {}
void bf16ColumnsAVX512(const Bf16Activations &, float *, int64_t, const WeightRef &, int64_t,
                       int64_t) {}
#endif

} // namespace midllama::rt::cpu
