//===- WeightDecode.cpp - Rows of quantized and pruned weights ------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Rows of affine, NF4, int8 (LLM.int8()) and pruned (bitmask, N:M) weights as fp32, in
// the layouts runtime/format describes.
//
//===----------------------------------------------------------------------===//

#include "runtime/cpu/KernelsInternal.h"
#include "runtime/params/Half.h"

#include "runtime/format/Codebooks.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

namespace midllama::rt::cpu {

namespace {

/// Calls `f(stream, i, col)` for each kept value of row `n` of a pruned weight, in column
/// order: `stream` its index in all the stored values, `i` its index in the row, `col` its
/// logical column (N:M: from its position in its run; bitmask: from the set bits).
template <typename F> void forEachKept(const WeightRef &w, int64_t n, F f) {
  if (w.sparse == SparsityKind::Bitmask) {
    // The set bits of the row's mask, 64 columns at a time, lowest first: the work is per
    // kept value, and no branch depends on a random bit.
    const int64_t maskBytes = (w.cols + 7) / 8;
    const uint8_t *mask = w.index + n * maskBytes;
    int64_t v = w.rowPtr[n], i = 0;
    for (int64_t byte = 0; byte < maskBytes; byte += 8) {
      uint64_t bits = 0;
      std::memcpy(&bits, mask + byte, size_t(std::min<int64_t>(8, maskBytes - byte)));
      while (bits) {
        int64_t col = byte * 8 + __builtin_ctzll(bits);
        bits &= bits - 1;
        f(v++, i++, col);
      }
    }
    return;
  }
  int64_t perRow = w.cols / w.nmM * w.nmN, bits = 0;
  while ((int64_t(1) << bits) < w.nmM)
    ++bits;
  const uint32_t posMask = (1u << bits) - 1;
  const uint8_t *idx = w.index + n * w.indexRowBytes;
  int64_t i = 0, stream = n * perRow;
  for (int64_t runStart = 0; runStart < w.cols; runStart += w.nmM) // run by run: no division
    for (int64_t j = 0; j < w.nmN; ++j, ++i) {
      int64_t bit = i * bits;
      uint32_t word = idx[bit >> 3];
      if ((bit & 7) + bits > 8)
        word |= uint32_t(idx[(bit >> 3) + 1]) << 8;
      f(stream + i, i, runStart + int64_t((word >> (bit & 7)) & posMask));
    }
}

} // namespace

#if defined(__x86_64__) && defined(__GNUC__)
namespace {

bool haveAVX512VBMI2() {
  static const bool yes = __builtin_cpu_supports("avx512f") &&
                          __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vbmi2") &&
                          !std::getenv("MIDLLAMA_NO_AVX512");
  return yes;
}

/// The `k` codes of a bitmask row from its kept ones: 64 columns per vpexpandb (AVX512_VBMI2),
/// which reads as many kept codes as the mask has bits. A pruned LLM.int8() weight's decode
/// expands every row per token; one kept code at a time ran at 0.47x of the fp32 model's
/// decode on SmolLM2 (gblm-50+int8-t6).
__attribute__((target("avx512f,avx512bw,avx512vbmi2"))) void
expandBitmaskCodes(const int8_t *kept, const uint8_t *mask, int64_t k, int8_t *dst) {
  for (int64_t c = 0; c < k; c += 64) {
    const int64_t left = std::min<int64_t>(64, k - c);
    const __mmask64 lanes = left == 64 ? ~__mmask64(0) : (__mmask64(1) << left) - 1;
    uint64_t bits = 0;
    std::memcpy(&bits, mask + c / 8, size_t((left + 7) / 8));
    bits &= lanes;
    _mm512_mask_storeu_epi8(dst + c, lanes, _mm512_maskz_expandloadu_epi8(bits, kept));
    kept += __builtin_popcountll(bits);
  }
}

} // namespace
#endif

/// Row `n` of an int8 weight as int8, a pruned one expanded from its kept codes.
const int8_t *int8Row(const WeightRef &w, int64_t n, int8_t *buffer) {
  const int8_t *q = reinterpret_cast<const int8_t *>(w.codes);
  if (w.sparse == SparsityKind::None)
    return q + n * w.cols;
#if defined(__x86_64__) && defined(__GNUC__)
  if (w.sparse == SparsityKind::Bitmask && haveAVX512VBMI2()) {
    expandBitmaskCodes(q + w.rowPtr[n], w.index + n * ((w.cols + 7) / 8), w.cols, buffer);
    return buffer;
  }
#endif
  std::fill(buffer, buffer + w.cols, int8_t(0));
  forEachKept(w, n, [&](int64_t stream, int64_t, int64_t col) { buffer[col] = q[stream]; });
  return buffer;
}

namespace {

/// Row `n` of a dense affine weight of `Bits`-bit codes whose rows and groups hold whole
/// 8-code words: each word read at once (8 bytes, but for the last word of the weight,
/// which may end the buffer) and cut by constant shifts; the arithmetic of dequantizeRow's
/// other paths, (q - zero)·scale or q·scale + min.
template <int Bits>
void decodeWordsOf(const WeightRef &w, int64_t n, const uint8_t *codes, float *dst) {
  constexpr uint64_t mask = (1u << Bits) - 1;
  const bool withMin = w.isAffineMin(), lastRow = n + 1 == w.rows;
  for (int64_t g = 0; g < w.groups; ++g) {
    const float scale = scaleAt(w, n * w.groups + g);
    const float min = withMin ? minAt(w, n * w.groups + g) : 0.0f;
    const float zero = withMin ? 0.0f
                       : w.zeros ? float(w.zeros[n * w.groups + g])
                                 : float(1 << (Bits - 1));
    const int64_t begin = g * w.groupSize, end = std::min(w.cols, begin + w.groupSize);
    for (int64_t k = begin; k < end; k += 8) {
      uint64_t word = 0;
      std::memcpy(&word, codes + k / 8 * Bits, lastRow && k + 8 >= w.cols ? Bits : 8);
      for (int i = 0; i < 8; ++i) {
        float q = float((word >> (i * Bits)) & mask);
        dst[k + i] = withMin ? q * scale + min : (q - zero) * scale;
      }
    }
  }
}

/// LLM.int8(): q · row scale, the outlier columns from fp16.
void int8RowValues(const WeightRef &w, int64_t n, float *dst) {
  std::vector<int8_t> buffer(static_cast<size_t>(w.sparse == SparsityKind::None ? 0 : w.cols));
  const int8_t *q = int8Row(w, n, buffer.data());
  float scale = static_cast<const float *>(w.scales)[n];
  for (int64_t c = 0; c < w.cols; ++c)
    dst[c] = float(q[c]) * scale;
  for (int64_t o = 0; o < w.numOutliers; ++o)
    dst[w.outlierColumns[o]] = halfToFloat(w.outliers[n * w.numOutliers + o]);
}

/// A pruned row: the kept values in column order, value v (of the row's stream) at column
/// col(v); dense values read as their type, affine codes (with or without a minimum)
/// dequantized with that column's group, NF4 codes with their block's absmax.
void sparseRowValues(const WeightRef &w, int64_t n, float *dst) {
  WeightRef values; // the stored values, read with `at` whatever their type
  values.data = w.data;
  values.dtype = w.dtype;
  const uint32_t codeMask = w.isQuantized() ? (1u << w.bits) - 1 : 0;
  auto valueAt = [&](int64_t stream, int64_t rowCode, int64_t col) {
    if (!w.isQuantized())
      return at(values, stream);
    if (w.isNF4()) { // one stream over the kept values, high nibble first
      uint8_t byte = w.codes[stream >> 1];
      return kNF4Values[(stream & 1) ? byte & 0xf : byte >> 4] *
             static_cast<const float *>(w.scales)[stream / w.groupSize];
    }
    const uint8_t *codes = w.codes;
    int64_t bit = rowCode * w.bits;
    if (w.sparse == SparsityKind::NM)
      codes += n * w.codeRowBytes;
    else
      bit = stream * w.bits;
    uint32_t word = codes[bit >> 3];
    if ((bit & 7) + w.bits > 8)
      word |= uint32_t(codes[(bit >> 3) + 1]) << 8;
    return groupValue(w, (word >> (bit & 7)) & codeMask, n * w.groups + col / w.groupSize);
  };
  std::fill(dst, dst + w.cols, 0.0f);
  forEachKept(w, n, [&](int64_t stream, int64_t i, int64_t col) {
    dst[col] = valueAt(stream, i, col);
  });
}

/// NF4: value i of the stream is its code (high nibble first) times its block's absmax,
/// block by block (one absmax, no division per value).
void nf4RowValues(const WeightRef &w, int64_t n, float *dst) {
  const float *absmax = static_cast<const float *>(w.scales);
  const int64_t first = n * w.cols;
  for (int64_t c = 0; c < w.cols;) {
    const int64_t block = (first + c) / w.groupSize;
    const int64_t blockEnd = std::min(w.cols, (block + 1) * w.groupSize - first);
    const float scale = absmax[block];
    for (; c < blockEnd; ++c) {
      int64_t i = first + c;
      uint8_t byte = w.codes[i >> 1];
      dst[c] = kNF4Values[(i & 1) ? byte & 0xf : byte >> 4] * scale;
    }
  }
}

/// 4-bit affine with zero points (or symmetric) in groups of whole bytes: each byte gives
/// two values, low nibble first, with the group's scale and zero.
void int4RowValues(const WeightRef &w, int64_t n, const uint8_t *codes, float *dst) {
  for (int64_t g = 0; g < w.groups; ++g) {
    const float scale = scaleAt(w, n * w.groups + g);
    const float zero = w.zeros ? float(w.zeros[n * w.groups + g]) : 8.0f;
    const int64_t begin = g * w.groupSize, end = std::min(w.cols, begin + w.groupSize);
    int64_t k = begin;
    for (; k + 2 <= end; k += 2) {
      const uint8_t byte = codes[k >> 1];
      dst[k] = (float(byte & 0xf) - zero) * scale;
      dst[k + 1] = (float(byte >> 4) - zero) * scale;
    }
    if (k < end)
      dst[k] = (float(codes[k >> 1] & 0xf) - zero) * scale;
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
/// The same for groups of whole 32-column blocks (zero points, symmetric, or a minimum),
/// 32 values per step: 16 bytes widened to 16 lanes, their low and high nibbles converted
/// and interleaved back into column order (the prefill decodes every weight row per call).
__attribute__((target("avx512f,avx512bw"))) void
int4RowValues512(const WeightRef &w, int64_t n, const uint8_t *codes, float *dst) {
  const __m512i low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i high =
      _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const __m512i nibble = _mm512_set1_epi32(0xf);
  for (int64_t g = 0; g < w.groups; ++g) {
    const int64_t at = n * w.groups + g;
    const float s = scaleAt(w, at);
    // value = q·scale + offset: offset = min, or -zero·scale.
    const float offset =
        w.isAffineMin() ? minAt(w, at) : -(w.zeros ? float(w.zeros[at]) : 8.0f) * s;
    const __m512 scale = _mm512_set1_ps(s), add = _mm512_set1_ps(offset);
    const int64_t begin = g * w.groupSize, end = std::min(w.cols, begin + w.groupSize);
    for (int64_t k = begin; k < end; k += 32) {
      __m512i bytes =
          _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(codes + k / 2)));
      __m512 lo =
          _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_and_si512(bytes, nibble)), scale, add);
      __m512 hi = _mm512_fmadd_ps(
          _mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(bytes, 4), nibble)), scale, add);
      _mm512_storeu_ps(dst + k, _mm512_permutex2var_ps(lo, low, hi));
      _mm512_storeu_ps(dst + k + 16, _mm512_permutex2var_ps(lo, high, hi));
    }
  }
}

#endif

/// Any affine row, code by code: (q - zero)·scale or q·scale + min, `code(k)` the code of
/// column k (the decoder a template argument, so there is no width test per value).
template <typename Code>
void affineRowValues(const WeightRef &w, int64_t n, Code code, float *dst) {
  for (int64_t g = 0; g < w.groups; ++g) {
    float scale = scaleAt(w, n * w.groups + g);
    int64_t begin = g * w.groupSize, end = std::min(w.cols, begin + w.groupSize);
    if (w.isAffineMin()) { // q * scale + min
      float min = minAt(w, n * w.groups + g);
      for (int64_t k = begin; k < end; ++k)
        dst[k] = float(code(k)) * scale + min;
      continue;
    }
    float zero = w.zeros ? float(w.zeros[n * w.groups + g]) : float(1 << (w.bits - 1));
    for (int64_t k = begin; k < end; ++k)
      dst[k] = (float(code(k)) - zero) * scale;
  }
}

} // namespace

void dequantizeRow(const WeightRef &w, int64_t n, float *dst) {
  if (w.isInt8())
    return int8RowValues(w, n, dst);
  if (w.sparse != SparsityKind::None) {
    if (bitmaskRowValuesApply(w))
      return bitmaskRowValues(w, n, dst);
    if (nm24RowValuesApply(w))
      return nm24RowValues(w, n, dst);
    return sparseRowValues(w, n, dst);
  }
  if (w.isNF4())
    return nf4RowValues(w, n, dst);
  const uint8_t *codes = w.codes + n * w.codeRowBytes;
#if defined(__x86_64__) && defined(__GNUC__)
  if (w.bits == 4 && w.groupSize % 32 == 0 && w.cols % 32 == 0 && haveAVX512())
    return int4RowValues512(w, n, codes, dst);
#endif
  if (w.bits == 4 && !w.isAffineMin() && w.groupSize % 2 == 0)
    return int4RowValues(w, n, codes, dst);
  if (w.bits == 4) // two codes per byte, low nibble first
    return affineRowValues(
        w, n, [&](int64_t k) -> uint32_t { return (codes[k >> 1] >> ((k & 1) * 4)) & 0xf; },
        dst);
  if (w.cols % 8 == 0 && w.groupSize % 8 == 0) {
    // Any width: 8 codes fill `bits` whole bytes, read as one little-endian word and cut
    // by shifts (the 2- and 3-bit rows of mixed recipes decode here, per token in decode).
    switch (w.bits) {
    case 2: return decodeWordsOf<2>(w, n, codes, dst);
    case 3: return decodeWordsOf<3>(w, n, codes, dst);
    case 5: return decodeWordsOf<5>(w, n, codes, dst);
    case 6: return decodeWordsOf<6>(w, n, codes, dst);
    case 7: return decodeWordsOf<7>(w, n, codes, dst);
    default: return decodeWordsOf<8>(w, n, codes, dst);
    }
  }
  const uint32_t mask = (1u << w.bits) - 1;
  affineRowValues(
      w, n,
      [&](int64_t k) -> uint32_t {
        int64_t bit = k * w.bits;
        uint32_t word = codes[bit >> 3];
        if ((bit & 7) + w.bits > 8)
          word |= uint32_t(codes[(bit >> 3) + 1]) << 8;
        return (word >> (bit & 7)) & mask;
      },
      dst);
}

} // namespace midllama::rt::cpu
