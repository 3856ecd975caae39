//===- WeightView.h - A weight as the kernels read it, host and device -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The one description of a loaded weight that every kernel reads: the CPU kernels
// (runtime/cpu/Kernels.h calls it WeightRef) and the CUDA kernels, which get it by value as
// a kernel argument with its pointers moved into device memory (`relocated`). This header is
// compiled by the host compiler and by nvcc alike (as ggml's ggml-common.h is), so the two
// sides cannot drift: one struct, one layout. The element decoders at the end are
// __host__ __device__; the CUDA kernels call them, and test/unittests/runtime/
// CudaDecodeTest.cpp runs them on the CPU against the CPU kernels' dequantizeRow.
// runtime/format/BindWeight.cpp fills it from an artifact's tensors.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_FORMAT_WEIGHTVIEW_H
#define MIDLLAMA_RUNTIME_FORMAT_WEIGHTVIEW_H

#include "runtime/format/WeightFormat.h"
#include "runtime/params/DType.h"
#include "runtime/params/Half.h"

#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__CUDACC__)
#define MIDLLAMA_HD __host__ __device__ __forceinline__
#else
#define MIDLLAMA_HD inline
#endif

namespace midllama::rt {

struct WeightView {
  const void *data = nullptr; // dense values (or a sparse weight's kept values)
  DType dtype = DType::F32;   // of `data`, and of `scales` for affine weights
  int64_t rows = 0, cols = 0; // [N, K] for matrices; cols = size for vectors
  /// Row-major, or packed in panels of 16 rows interleaved along K (runtime/artifact/
  /// Program.h): element (n, k) at [n / 16][k][n % 16]. The CPU's layout only.
  bool panels = false;
  /// How the values are stored (the runtime's one list of formats, WeightFormat.h): what
  /// every kernel dispatches on. The fields below say where each format's parts are.
  FormatKind format = FormatKind::Dense;
  /// Quantized weights (any format but Dense; `bits` their code width): `data` is unused; `codes` holds the codes and
  /// `scales` one scale per `groupSize` values (the values that share a scale: an affine
  /// group of columns, an NF4 block of the stream).
  /// Affine: row n's codes start at codes + n * codeRowBytes, its scales (of `dtype`) and
  /// zero points at n * groups; zeros null means symmetric, 2^(bits-1).
  int bits = 0;
  int64_t groupSize = 0, groups = 0, codeRowBytes = 0;
  const uint8_t *codes = nullptr, *zeros = nullptr;
  const void *scales = nullptr;
  /// Affine with minimum (ggml's Q4_1): laid out as affine, with `mins` (of `dtype`) one
  /// per group where affine has zero points: w = q * scale + min.
  const void *mins = nullptr;
  /// NF4 (with `bits` = 4): `codes` is the packed stream, high nibble first, `scales` the
  /// fp32 absmax of each block (double quantization undone at load).
  /// Int8 + outliers (LLM.int8(), with `bits` = 8): `codes` holds int8 [rows, cols] with
  /// the outlier columns 0, `scales` the fp32 scale of each row; the `numOutliers` input
  /// columns `outlierColumns` have fp16 weights in `outliers` [rows, numOutliers].
  /// Sparse storage (N:M or bitmask) of a pruned weight: only the kept values are stored,
  /// dense (of `dtype`, at `data`), affine-quantized (codes at `codes`, scales and zero
  /// points per group of logical columns as for a dense affine weight), NF4 (one code
  /// stream over the kept values, blocks over that stream) or int8. N:M keeps `nmN` of
  /// every run of `nmM` columns: row-aligned values [rows, cols / nmM * nmN] (affine codes
  /// in rows of `codeRowBytes`), and `index` the position of each in its run, ceil(log2
  /// nmM) bits packed little-endian in rows of `indexRowBytes`. A bitmask keeps the columns
  /// whose bit is set (`index` [rows, ceil(cols / 8)], bit c & 7 of byte c >> 3); values or
  /// codes one flat stream, row r's starting at value `rowPtr[r]`.
  SparsityKind sparse = SparsityKind::None;
  int64_t nmN = 0, nmM = 0, indexRowBytes = 0;
  const uint8_t *index = nullptr;
  const int32_t *rowPtr = nullptr;
  int64_t numOutliers = 0;
  const int32_t *outlierColumns = nullptr;
  const uint16_t *outliers = nullptr;
  /// CPU only, made at load when int8 activations are on (runtime/cpu/CodeTiles.cpp): a
  /// dense 4-, 5- or 8-bit affine (or NF4) weight's first rows / 16 * 16 rows again, each
  /// 16 rows interleaved as vpdpbusd reads them. `tileCodes` [tile][block of 32 columns][16 · 32 ·
  /// bits / 8 bytes];
  /// `tileScales` [tile][group][16] (fp16 when `dtype` is F16, else fp32); `tileOffsets`
  /// the same for the minimums (affine with minimum) or uint8 zero points; null when
  /// symmetric. Never moved to a device: `relocated` drops them.
  const uint8_t *tileCodes = nullptr;
  const void *tileScales = nullptr, *tileOffsets = nullptr;
  /// Affine weights whose scales are codes (ggml's K-quants: FormatParams' scaleBlock > 0):
  /// `scales` (and `mins`) hold them decoded to fp32 at load (so every kernel reads them as
  /// fp32 groups), while the codes [N, groups] (int8 for affine, uint8 with a minimum) and
  /// their super-values [N, ceil(groups / scaleBlock)] (fp32) stay here for the tiles,
  /// which keep them compact: `tileScales` / `tileOffsets` are then codes [tile][group][16]
  /// and `tileScaleSupers` / `tileOffsetSupers` fp32 [tile][super][16]. CPU only.
  int64_t scaleBlock = 0;
  const uint8_t *scaleCodes = nullptr, *minCodes = nullptr;
  const float *scaleSupers = nullptr, *minSupers = nullptr;
  const float *tileScaleSupers = nullptr, *tileOffsetSupers = nullptr;

  MIDLLAMA_HD bool isQuantized() const { return format != FormatKind::Dense; }
  MIDLLAMA_HD bool isAffine() const { return format == FormatKind::Affine; }
  MIDLLAMA_HD bool isAffineMin() const { return format == FormatKind::AffineMin; }
  /// Integer codes in groups of columns of a row, each group with its scale (affine, with
  /// or without a minimum): the formats that share a code layout and most kernels.
  MIDLLAMA_HD bool hasCodeGroups() const { return isAffine() || isAffineMin(); }
  MIDLLAMA_HD bool isNF4() const { return format == FormatKind::NF4; }
  MIDLLAMA_HD bool isInt8() const { return format == FormatKind::Int8Outliers; }

  /// This view with every pointer p replaced by `place(p)` (its device address; null for
  /// null), into `out`. False when a non-null pointer has no place (a buffer the device
  /// never received) or the weight is in the CPU's panels. Host only.
  template <typename Place> bool relocated(Place place, WeightView &out) const {
    out = *this;
    bool ok = !panels; // GPU artifacts store rows
    auto move = [&](auto &field) {
      const void *q = place(static_cast<const void *>(field));
      ok = ok && (!field || q);
      field = static_cast<std::remove_reference_t<decltype(field)>>(q);
    };
    move(out.data);
    move(out.codes);
    move(out.zeros);
    move(out.scales);
    move(out.mins);
    move(out.index);
    move(out.rowPtr);
    move(out.outlierColumns);
    move(out.outliers);
    out.tileCodes = nullptr;
    out.tileScales = out.tileOffsets = nullptr;
    out.scaleCodes = out.minCodes = nullptr; // the device reads the decoded `scales`
    out.scaleSupers = out.minSupers = out.tileScaleSupers = out.tileOffsetSupers = nullptr;
    return ok;
  }
};

//===----------------------------------------------------------------------===//
// Element decoders, shared by the CUDA kernels and the CPU check of them
//===----------------------------------------------------------------------===//

/// fp16 bits to float: runtime/params/Half.h's conversion, shared with the CPU backend.
MIDLLAMA_HD float halfBitsToFloat(uint16_t h) { return halfToFloat(h); }

/// bfloat16 bits to float.
MIDLLAMA_HD float bf16BitsToFloat(uint16_t h) {
  uint32_t bits = uint32_t(h) << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

/// Group value `i` ([rows, groups] row-major) of scales that are codes (ggml's K-quants):
/// its 8-bit code (int8 when `isSigned`) times the fp32 super-value of its row's block of
/// `block` groups. Exact in fp32 for an fp16 super. The loader's decode and the CPU's row
/// lookup after that decode is dropped both read it here.
MIDLLAMA_HD float codedGroupValue(const uint8_t *codes, const float *supers, bool isSigned,
                                  int64_t groups, int64_t block, int64_t i) {
  const int64_t row = i / groups, g = i % groups, perRow = (groups + block - 1) / block;
  const float code = isSigned ? float(int8_t(codes[i])) : float(codes[i]);
  return supers[row * perRow + g / block] * code;
}

/// Element `i` of an array of `dtype` (f32, f16 or bf16).
MIDLLAMA_HD float loadAs(const void *p, DType dtype, int64_t i) {
  if (dtype == DType::F16)
    return halfBitsToFloat(static_cast<const uint16_t *>(p)[i]);
  if (dtype == DType::BF16)
    return bf16BitsToFloat(static_cast<const uint16_t *>(p)[i]);
  return static_cast<const float *>(p)[i];
}

/// The NF4 code book (runtime/format/Codebooks.h's kNF4Values, checked equal below). A
/// switch, not an indexed array: on the GPU an array indexed by data lives in local memory
/// (a stack frame and spills in every kernel that decodes NF4), a switch stays in registers.
MIDLLAMA_HD constexpr float nf4Code(int q) {
  switch (q & 15) {
  case 0: return -1.0f;
  case 1: return -0.6961928009986877f;
  case 2: return -0.5250730514526367f;
  case 3: return -0.39491748809814453f;
  case 4: return -0.28444138169288635f;
  case 5: return -0.18477343022823334f;
  case 6: return -0.09105003625154495f;
  case 7: return 0.0f;
  case 8: return 0.07958029955625534f;
  case 9: return 0.16093020141124725f;
  case 10: return 0.24611230194568634f;
  case 11: return 0.33791524171829224f;
  case 12: return 0.44070982933044434f;
  case 13: return 0.5626170039176941f;
  case 14: return 0.7229568362236023f;
  default: return 1.0f;
  }
}

/// Code `i` of `bits` bits, packed little-endian from `codes`.
MIDLLAMA_HD uint32_t unpackBits(const uint8_t *codes, int64_t i, int32_t bits) {
  int64_t bit = i * bits;
  uint32_t word = codes[bit >> 3];
  if ((bit & 7) + bits > 8)
    word |= uint32_t(codes[(bit >> 3) + 1]) << 8;
  return (word >> (bit & 7)) & ((1u << bits) - 1);
}

/// Code `q` of group `g` (its index in all the weight's groups, row n's from n * groups)
/// of an affine weight, (q - zero) * scale, or of one with minimum, q * scale + min.
MIDLLAMA_HD float groupValue(const WeightView &w, uint32_t q, int64_t g) {
  float scale = loadAs(w.scales, w.dtype, g);
  if (w.isAffineMin())
    return float(q) * scale + loadAs(w.mins, w.dtype, g);
  float zero = w.zeros ? float(w.zeros[g]) : float(1 << (w.bits - 1));
  return (float(q) - zero) * scale;
}

/// The value of stored entry `stream` (its index in all stored values; `rowCode` its
/// index within row n's stored values), sitting at logical column `col` of row `n`: how
/// every format decodes one value. Int8 outlier columns are handled by the callers.
MIDLLAMA_HD float storedValue(const WeightView &w, int64_t n, int64_t stream, int64_t rowCode,
                              int64_t col) {
  if (w.isNF4()) { // one stream, high nibble first, blocks of groupSize
    uint8_t byte = w.codes[stream >> 1];
    return nf4Code((stream & 1) ? byte & 0xf : byte >> 4) *
           static_cast<const float *>(w.scales)[stream / w.groupSize];
  }
  if (w.isInt8())
    return float(reinterpret_cast<const int8_t *>(w.codes)[stream]) *
           static_cast<const float *>(w.scales)[n];
  if (w.hasCodeGroups()) { // the code decoded with its column's group
    uint32_t q = w.sparse == SparsityKind::NM
                     ? unpackBits(w.codes + n * w.codeRowBytes, rowCode, w.bits)
                 : w.sparse == SparsityKind::None
                     ? unpackBits(w.codes + n * w.codeRowBytes, col, w.bits)
                     : unpackBits(w.codes, stream, w.bits);
    return groupValue(w, q, n * w.groups + col / w.groupSize);
  }
  return loadAs(w.data, w.dtype, stream);
}

/// Logical column of kept value `i` of row `n` of an N:M weight.
MIDLLAMA_HD int64_t nmColumn(const WeightView &w, int64_t n, int64_t i) {
  int32_t bits = 0;
  while ((int64_t(1) << bits) < w.nmM)
    ++bits;
  return (i / w.nmN) * w.nmM + unpackBits(w.index + n * w.indexRowBytes, i, bits);
}

/// Value (n, col) of a weight stored without sparsity (dense or quantized), outliers
/// included.
MIDLLAMA_HD float denseValue(const WeightView &w, int64_t n, int64_t col) {
  if (w.isInt8())
    for (int64_t o = 0; o < w.numOutliers; ++o)
      if (w.outlierColumns[o] == col)
        return halfBitsToFloat(w.outliers[n * w.numOutliers + o]);
  return storedValue(w, n, n * w.cols + col, col, col);
}

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_FORMAT_WEIGHTVIEW_H
