//===- TileValues.h - Per-group values of a tiled weight, 16 rows at once -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The scales and minimums of a tiled weight (CodeTiles.cpp) are [tile][group][16]: the 16
// rows of a tile side by side. They are fp16 or fp32 values, or (ggml's K-quants, whose
// scales are codes: WeightView::scaleBlock) 8-bit codes with fp32 super-values
// [tile][super][16], one per `scaleBlock` groups; a value is then code · super, exact in
// fp32 as the loader's decoded scales are. Shared by the fp32-activation and int8 kernels.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_CPU_TILEVALUES_H
#define MIDLLAMA_RUNTIME_CPU_TILEVALUES_H

#include "runtime/cpu/KernelsInternal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

namespace midllama::rt::cpu {

/// Where group g of tile t is in the [tile][group][16] arrays, and its super-value in the
/// [tile][super][16] ones.
inline int64_t tileGroupSlot(const WeightRef &w, int64_t t, int64_t g) {
  return (t * tileGroups(w) + g) * 16;
}
inline int64_t tileSuperSlot(const WeightRef &w, int64_t t, int64_t g) {
  // scaleBlock is a power of two where tiled (codeTilesApply): shifts, not divisions (two
  // per group made the 6-bit decode 10% slower).
  const int shift = __builtin_ctzll(uint64_t(w.scaleBlock));
  const int64_t supers = (tileGroups(w) + w.scaleBlock - 1) >> shift;
  return (t * supers + (g >> shift)) * 16;
}

/// 16 values of a [tile][group][16] array at `slot`: codes times their supers, fp16 or fp32.
__attribute__((target("avx512f,avx512bw"))) inline __m512
tileValues16(const WeightRef &w, const void *values, const float *supers, bool isSigned,
             int64_t slot, int64_t t, int64_t g) {
  if (w.scaleBlock) {
    const __m128i c = _mm_load_si128(
        reinterpret_cast<const __m128i *>(static_cast<const uint8_t *>(values) + slot));
    const __m512i wide = isSigned ? _mm512_cvtepi8_epi32(c) : _mm512_cvtepu8_epi32(c);
    return _mm512_mul_ps(_mm512_cvtepi32_ps(wide),
                         _mm512_load_ps(supers + tileSuperSlot(w, t, g)));
  }
  if (tileValuesHalf(w))
    return _mm512_cvtph_ps(_mm256_load_si256(
        reinterpret_cast<const __m256i *>(static_cast<const uint16_t *>(values) + slot)));
  return _mm512_load_ps(static_cast<const float *>(values) + slot);
}

/// The scales of group g for the 16 rows of tile t (K-quant codes: signed for #llm.affine,
/// ggml's Q6_K; unsigned with a minimum, Q4_K/Q5_K).
__attribute__((target("avx512f,avx512bw"))) inline __m512 tileScales16(const WeightRef &w,
                                                                       int64_t t, int64_t g) {
  return tileValues16(w, w.tileScales, w.tileScaleSupers, w.isAffine(), tileGroupSlot(w, t, g),
                      t, g);
}

/// The minimums of group g for the 16 rows of tile t (affine with a minimum).
__attribute__((target("avx512f,avx512bw"))) inline __m512 tileMins16(const WeightRef &w,
                                                                     int64_t t, int64_t g) {
  return tileValues16(w, w.tileOffsets, w.tileOffsetSupers, false, tileGroupSlot(w, t, g), t, g);
}

} // namespace midllama::rt::cpu

#endif
#endif // MIDLLAMA_RUNTIME_CPU_TILEVALUES_H
