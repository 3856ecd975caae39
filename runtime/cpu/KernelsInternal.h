//===- KernelsInternal.h - Shared parts of the CPU kernels -*- C++ -*---===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Private to runtime/cpu: the element readers every kernel file uses (inline, compiled
// the same way everywhere) and the per-ISA entry points the dispatchers choose among.
// The ISA-specific functions carry their own target attributes instead of file-wide
// -m flags: an inline helper from this header is then never compiled for an ISA the
// running CPU may lack (the ODR would let the linker keep either copy).
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_CPU_KERNELSINTERNAL_H
#define MIDLLAMA_RUNTIME_CPU_KERNELSINTERNAL_H

#include "runtime/cpu/Kernels.h"
#include "runtime/params/Half.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace midllama::rt::cpu {

/// Element `i` of a weight as fp32.
inline float at(const WeightRef &w, int64_t i) {
  switch (w.dtype) {
  case DType::F32:
    return static_cast<const float *>(w.data)[i];
  case DType::F16:
    return halfToFloat(static_cast<const uint16_t *>(w.data)[i]);
  case DType::BF16: {
    uint32_t bits = uint32_t(static_cast<const uint16_t *>(w.data)[i]) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  default:
    return 0.0f;
  }
}

/// Scale `i` of an affine weight as fp32 (K-quants whose decoded scales were dropped after
/// tiling, Model::tileWeights: from their codes).
inline float scaleAt(const WeightRef &w, int64_t i) {
  if (!w.scales && w.scaleCodes)
    return codedGroupValue(w.scaleCodes, w.scaleSupers, w.isAffine(), w.groups, w.scaleBlock, i);
  WeightRef s;
  s.data = w.scales;
  s.dtype = w.dtype;
  return at(s, i);
}

/// Minimum `i` of an affine weight with minimum (of the weight's dtype, as its scales).
inline float minAt(const WeightRef &w, int64_t i) {
  if (!w.mins && w.minCodes)
    return codedGroupValue(w.minCodes, w.minSupers, false, w.groups, w.scaleBlock, i);
  WeightRef m;
  m.data = w.mins;
  m.dtype = w.dtype;
  return at(m, i);
}

/// Row `n` of a [N, K] weight converted into `dst` (fp32 rows are used in place).
inline const float *weightRow(const WeightRef &w, int64_t n, float *dst) {
  if (decodesRows(w)) {
    dequantizeRow(w, n, dst);
    return dst;
  }
  if (w.dtype == DType::F32)
    return static_cast<const float *>(w.data) + n * w.cols;
  for (int64_t k = 0; k < w.cols; ++k)
    dst[k] = at(w, n * w.cols + k);
  return dst;
}

/// Dot product with 8 independent partial sums, which the compiler vectorizes.
inline float dot(const float *a, const float *b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int j = 0; j < 8; ++j)
      acc[j] += a[k + j] * b[k + j];
  float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; k < n; ++k)
    s += a[k] * b[k];
  return s;
}

inline float siluOf(float x) { return x / (1.0f + std::exp(-x)); }

/// The instruction sets this CPU has (checked once; MIDLLAMA_NO_AVX512 / MIDLLAMA_NO_AVX2
/// turn a path off, so tests reach every path on one machine).
bool haveAVX2();
bool haveAVX512();

/// out = silu(g) ⊙ u, or silu(g) when u is null (Elementwise.cpp).
void siluTimes(const float *g, const float *u, float *out, int64_t n);
/// x[i] = e^(x[i]) in place (Elementwise.cpp).
void expInPlace(float *x, int64_t n);

/// Columns [begin, end) of in[rows, k] · w[n, k]ᵀ into out[r * ld + (j - begin)]: the
/// dispatcher (MatMul.cpp) and the paths it picks from (portable in MatMul.cpp, AVX2 in
/// MatMulAVX2.cpp, AVX-512 in MatMulAVX512.cpp).
void matmulColumns(const float *in, float *out, int64_t ld, int64_t rows, const WeightRef &w,
                   int64_t begin, int64_t end);
void matmulColumnsGeneric(const float *in, float *out, int64_t ld, int64_t rows,
                          const WeightRef &w, int64_t begin, int64_t end);
void matmulColumnsAVX2(const float *in, float *out, int64_t ld, int64_t rows,
                       const WeightRef &w, int64_t begin, int64_t end);
void panelColumnsGeneric(const float *in, float *out, int64_t ld, int64_t rows,
                         const WeightRef &w, int64_t begin, int64_t end);
void panelColumnsAVX2(const float *in, float *out, int64_t ld, int64_t rows,
                      const WeightRef &w, int64_t begin, int64_t end);
void panelColumnsAVX512(const float *in, float *out, int64_t ld, int64_t rows,
                        const WeightRef &w, int64_t begin, int64_t end);
/// Prefill of a row-major weight stored in codes (decodesRows) or as fp16/bf16: each block
/// of 32 output columns decoded once (weightRow) into two fp32 panels, then the fp32 panel kernel over
/// every input row, so the decode is paid once per block for all rows (AVX-512).
void decodedPanelColumnsAVX512(const float *in, float *out, int64_t ld, int64_t rows,
                               const WeightRef &w, int64_t begin, int64_t end);
/// The fp32 panels (panel[(c·k + i)·16 + l] = row j0 + 16c + l, column i; a short last
/// panel padded with zero rows) of `count` (1-32) rows from j0 of any weight but LLM.int8()'s:
/// decoded from codes or tiles, widened from fp16/bf16, or transposed from fp32 rows.
void decodePanelsAVX512(const WeightRef &w, int64_t j0, int64_t count, float *panel);
/// dst[16·i + l] = rows[l][column + i] for i, l < 16: a 16 x 16 block of 32-bit values
/// (fp32, or 4 int8 codes each) transposed by shuffles (AVX-512).
void transpose16x16AVX512(const float *const *rows, int64_t column, float *dst);
/// Decode of dense 4- and 8-bit affine (with or without minimum) / NF4 weights without
/// expanding rows (AVX-512), and whether they apply to `w` with `rows` input rows.
bool codeGroupFastPath(const WeightRef &w, int64_t rows);
bool nf4FastPath(const WeightRef &w, int64_t rows);
void codeGroupRowsAVX512(const float *in, float *out, int64_t ld, int64_t rows,
                         const WeightRef &w, int64_t begin, int64_t end);
void nf4RowsAVX512(const float *in, float *out, int64_t ld, int64_t rows,
                   const WeightRef &w, int64_t begin, int64_t end);
/// Decode of dense affine weights of any width in place, 8 codes per word (AVX-512), and
/// whether it applies: rows and groups of whole words, 1-3 input rows.
/// Decode of pruned fp32 weights stored as a bitmask, in place (AVX-512 vexpandps), and
/// whether it applies (1-3 input rows).
bool bitmaskFastPath(const WeightRef &w, int64_t rows);
/// Row n of such a weight expanded to its K values (for the prefill's panels), and whether
/// this CPU and `w` allow it.
bool bitmaskRowValuesApply(const WeightRef &w);
void bitmaskRowValues(const WeightRef &w, int64_t n, float *dst);
void bitmaskRowsAVX512(const float *in, float *out, int64_t ld, int64_t rows,
                       const WeightRef &w, int64_t begin, int64_t end);
/// Decode of 2:4-pruned fp32/fp16 weights in place, one vpermt2ps per 16 kept values
/// (MatMulNMAVX512.cpp), and whether it applies (1-3 input rows, K a multiple of 32).
bool nm24FastPath(const WeightRef &w, int64_t rows);
/// Row n of such a weight expanded to its K values (for the prefill's panels), and whether
/// this CPU and `w` allow it.
bool nm24RowValuesApply(const WeightRef &w);
void nm24RowValues(const WeightRef &w, int64_t n, float *dst);
void nm24RowsAVX512(const float *in, float *out, int64_t ld, int64_t rows, const WeightRef &w,
                    int64_t begin, int64_t end);
bool wordGroupFastPath(const WeightRef &w, int64_t rows);
void wordGroupRowsAVX512(const float *in, float *out, int64_t ld, int64_t rows,
                         const WeightRef &w, int64_t begin, int64_t end);

/// Scale groups per row of a tiled weight (an NF4 weight's `groups` counts its blocks over
/// the whole stream; tiled, its blocks lie within rows), and whether its tiles keep the
/// per-group values in fp16 (affine with fp16 scales) rather than fp32.
inline int64_t tileGroups(const WeightRef &w) {
  return w.isNF4() ? w.cols / w.groupSize : w.groups;
}
inline bool tileValuesHalf(const WeightRef &w) { return !w.isNF4() && w.dtype == DType::F16; }

/// Where a 3-bit tile block's plane of third bits (CodeTiles.cpp) keeps column c (0-31) of
/// the block: column 16q + 4m + j at bit 8m + 4q + j of each lane.
constexpr int thirdBitOf(int c) { return 8 * (c % 16 / 4) + 4 * (c / 16) + c % 4; }

/// Weights tiled at load (WeightRef::tileCodes, CodeTiles.cpp) with fp32 activations
/// (MatMulTilesAVX512.cpp): decode of rows [begin, end) (whole tiles) for 1-3 input rows,
/// and the fp32 panels of the `panels` tiles from row j0 (prefill's decoded panels).
void tiledRowsAVX512(const float *in, float *out, int64_t ld, int64_t rows, const WeightRef &w,
                     int64_t begin, int64_t end);
void tilePanelsAVX512(const WeightRef &w, int64_t j0, int panels, float *panel);

/// AVX-512 VNNI (MatMulInt8VNNI.cpp): dots[r * 32 + c] = Σ_i (x[r][i] - 128) · w[c][i] for
/// `rows` input rows stored offset by 128 (`stride` bytes apart, readable up to k rounded
/// up to 4) and 1-32 int8 weight rows of `k` codes.
bool haveAVX512VNNI();
void int8PanelDotsVNNI(const uint8_t *x, int64_t stride, int64_t rows, const int8_t *const *w,
                       int weightRows, int64_t k, int32_t *dots);

/// Input rows quantized to int8 in blocks of 32 columns, once per product (and once for
/// gate and up together): codes, each block's scale (blocks of one span share it), and
/// scale · Σ codes (what zero points multiply). MatMulW4A8VNNI.cpp.
struct Int8Activations {
  int64_t rows = 0, k = 0;
  std::vector<int8_t> q;
  std::vector<float> scale, blockSum;
  std::vector<float> halfSum; // scale · Σ codes per 16 columns (groups of 16: ggml's Q6_K)
  std::vector<int32_t> halfCodes; // Σ codes per 16 columns (a symmetric zero point's term)
};
/// `scaleSpan` (a multiple of 32) columns share a scale, each block of 32 keeping its own
/// sums; the last span may be shorter (what is left of the row).
void quantizeActivations(const float *in, int64_t rows, int64_t k, int64_t scaleSpan,
                         Int8Activations &x);
/// The scale span of the input that meets `w`: 32, or w's groups where they are longer and
/// setInt8ScalesFollowWeightGroups asks for them.
int64_t int8ScaleSpan(const WeightRef &w);

/// 4-bit affine weights (groups of whole 32-column blocks, dense) times the quantized
/// input rows, with AVX-512 VNNI; whether it applies (setInt8Activations on, 4 or more
/// rows, the CPU has VNNI). The matmul and gate/up entry points quantize, then call it.
bool w4a8FastPath(const WeightRef &w, int64_t rows);
void w4a8ColumnsVNNI(const Int8Activations &x, float *out, int64_t ld, const WeightRef &w,
                     int64_t begin, int64_t end);
/// The same for decode (1-3 input rows): the codes read in place (MatMulW4A8Decode.cpp).
bool w4a8DecodePath(const WeightRef &w, int64_t rows);
void w4a8RowsVNNI(const Int8Activations &x, float *out, int64_t ld, const WeightRef &w,
                  int64_t begin, int64_t end);
/// Tile t of a 4- or 5-bit tiled weight as the prefill panel's steps (64 bytes each: lane c
/// = row 16t + c, codes of columns 4i..4i+3), into dst (K / 4 steps).
void tileStepsVNNI(const WeightRef &w, int64_t t, uint8_t *dst);
/// Either of the two, by the number of input rows.
inline bool w4a8Applies(const WeightRef &w, int64_t rows) {
  return w4a8FastPath(w, rows) || w4a8DecodePath(w, rows);
}
inline void w4a8Columns(const Int8Activations &x, float *out, int64_t ld, const WeightRef &w,
                        int64_t begin, int64_t end) {
  if (x.rows < 4)
    return w4a8RowsVNNI(x, out, ld, w, begin, end);
  w4a8ColumnsVNNI(x, out, ld, w, begin, end);
}

/// Input rows rounded to bf16 for the AVX512_BF16 prefill (MatMulBF16AVX512.cpp): blocks of
/// up to kBf16Rows rows, each stored step-major (`pairs` 32-bit pairs of columns 2i, 2i+1
/// per step, the block's rows side by side), so a micro-kernel reads its broadcasts from one
/// pointer; odd K padded with a zero.
constexpr int kBf16Rows = 6;
struct Bf16Activations {
  int64_t rows = 0, k = 0, pairs = 0;
  std::vector<uint32_t> v;
};
void toBf16Activations(const float *in, int64_t rows, int64_t k, Bf16Activations &x);
/// Whether the bf16 prefill applies to `w` with `rows` input rows (setBf16Activations on,
/// 4 or more rows, the CPU has AVX512_BF16, `w` not dense fp32 nor LLM.int8()), and the
/// product: columns [begin, end) of x · wᵀ into out[r * ld + (j - begin)].
bool bf16FastPath(const WeightRef &w, int64_t rows);
void bf16ColumnsAVX512(const Bf16Activations &x, float *out, int64_t ld, const WeightRef &w,
                       int64_t begin, int64_t end);
/// Whether decode (1-3 rows) of NF4 tiles takes bf16 products (MatMulNF4BF16Decode.cpp:
/// setBf16Activations on, the CPU has AVX512_BF16, `w` NF4 and tiled), and that product for
/// rows [begin, end) (whole tiles).
bool nf4Bf16DecodePath(const WeightRef &w, int64_t rows);
void nf4TiledRowsBf16(const float *in, float *out, int64_t ld, int64_t rows, const WeightRef &w,
                      int64_t begin, int64_t end);

/// LLM.int8()'s split of the input rows of a product with int8 weight `w` (Int8Inputs.cpp):
/// per row, the scale absmax / 127 of its non-outlier columns, their codes
/// lround(clamp(x / scale, ±127)) (outlier columns 0) — signed in `codes` [rows, k], or
/// (`biased`, for vpdpbusd) plus 128 in `biased` [rows, stride], padded with 128 — and
/// its outlier columns rounded to fp16 in `outliers` [rows, numOutliers].
struct LLMInt8Inputs {
  int64_t stride = 0;
  std::vector<float> scale, outliers;
  std::vector<int8_t> codes;
  std::vector<uint8_t> biased;
};
void quantizeLLMInt8Inputs(const float *in, int64_t rows, const WeightRef &w, bool biased,
                           LLMInt8Inputs &out);

/// Row `n` of an int8 weight as int8, a pruned one expanded from its kept codes
/// (WeightDecode.cpp).
const int8_t *int8Row(const WeightRef &w, int64_t n, int8_t *buffer);

} // namespace midllama::rt::cpu

#endif // MIDLLAMA_RUNTIME_CPU_KERNELSINTERNAL_H
