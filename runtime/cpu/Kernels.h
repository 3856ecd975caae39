//===- Kernels.h - CPU kernels of the runtime -------------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// One function per kern op. Activations are fp32 rows (`rows` tokens × `width`); weights
// are read in their stored type (fp32, fp16, bf16) and converted per element inside the
// kernel, never into a dequantized copy. Matrix products are split over output columns
// across threads (a ThreadPool); everything else is memory-bound and single-pass.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_CPU_KERNELS_H
#define MIDLLAMA_RUNTIME_CPU_KERNELS_H

#include "runtime/params/DType.h"

#include <cstdint>
#include <functional>

namespace midllama::rt::cpu {

/// A dense weight as the kernels read it.
struct WeightRef {
  const void *data = nullptr;
  DType dtype = DType::F32;
  int64_t rows = 0, cols = 0; // [N, K] for matrices; cols = size for vectors
  /// Row-major, or packed in panels of 16 rows interleaved along K (runtime/artifact/
  /// Program.h): element (n, k) at [n / 16][k][n % 16].
  bool panels = false;
  /// Affine integer groups (`bits` > 0): `data` is unused; row n's codes start at
  /// codes + n * codeRowBytes, its scales (of `dtype`) and zero points at n * groups.
  int bits = 0;
  int64_t groupSize = 0, groups = 0, codeRowBytes = 0;
  const uint8_t *codes = nullptr, *zeros = nullptr; // zeros null: symmetric, 2^(bits-1)
  const void *scales = nullptr;
  /// NF4 (with `bits` = 4): `codes` is the packed stream, `scales` the fp32 absmax per
  /// block of `groupSize` values (double quantization undone at load).
  bool nf4 = false;
  /// Int8 + outliers (LLM.int8(), with `bits` = 8): `codes` holds int8 [rows, cols] with
  /// the outlier columns 0, `scales` the fp32 scale of each row; the `numOutliers` input
  /// columns `outlierColumns` have fp16 weights in `outliers` [rows, numOutliers].
  bool int8 = false;
  /// Sparse storage (N:M or bitmask) of a pruned weight: only the kept values are stored,
  /// dense (of `dtype`, at `data`), affine-quantized (codes at `codes`, scales and zero
  /// points per group of logical columns as for a dense affine weight), NF4 (one code
  /// stream over the kept values, blocks over that stream) or int8. N:M keeps `nmN` of
  /// every run of `nmM` columns: row-aligned values [rows, cols / nmM * nmN] (affine codes
  /// in rows of `codeRowBytes`), and `index` the position of each in its run, ceil(log2
  /// nmM) bits packed little-endian in rows of `indexRowBytes`. A bitmask keeps the columns
  /// whose bit is set (`index` [rows, ceil(cols / 8)], bit c & 7 of byte c >> 3); values or
  /// codes one flat stream, row r's starting at value `rowPtr[r]`.
  enum class Sparse { None, NM, Bitmask } sparse = Sparse::None;
  int64_t nmN = 0, nmM = 0, indexRowBytes = 0;
  const uint8_t *index = nullptr;
  const int32_t *rowPtr = nullptr;
  int64_t numOutliers = 0;
  const int32_t *outlierColumns = nullptr;
  const uint16_t *outliers = nullptr;
};

/// Whether the kernels decode `w` row by row (quantized or sparse) rather than read it.
inline bool decodesRows(const WeightRef &w) { return w.bits || w.sparse != WeightRef::Sparse::None; }

/// Row `n` of a quantized or sparse weight as fp32 into `dst` (K values): affine
/// (q - zero) * scale, NF4, int8 + outliers, or the kept values of a sparse row in place.
void dequantizeRow(const WeightRef &w, int64_t n, float *dst);

/// Runs `body(begin, end)` over [0, n) split into chunks across the runtime's threads, or
/// inline when the work (`n` items of about `costPerItem` multiply-adds) is too small to
/// repay waking them (a wake-up costs about as much as 50k multiply-adds).
void parallelFor(int64_t n, int64_t costPerItem,
                 const std::function<void(int64_t, int64_t)> &body);
void setThreadCount(int threads);
int threadCount();
/// The CPUs this process may run on, and the most threads setThreadCount should be given
/// (more only adds switching; a count far above it is a mistake, refused by the tools).
int availableCPUs();
int maxThreadCount();

void embed(const int64_t *tokens, int64_t rows, const WeightRef &table, float *out);
void rmsNorm(const float *in, float *out, int64_t rows, int64_t width, const WeightRef &w,
             float eps);
void addRMSNorm(const float *in, const float *residual, float *sum, float *out, int64_t rows,
                int64_t width, const WeightRef &w, float eps);
/// out[r, n] = sum_k in[r, k] * w[n, k].
void matmul(const float *in, float *out, int64_t rows, const WeightRef &w);
/// out[r, n] = silu(in · gate[n]) * (in · up[n]).
void gateUpSwiGLU(const float *in, float *out, int64_t rows, const WeightRef &gate,
                  const WeightRef &up);
void swiglu(const float *gate, const float *up, float *out, int64_t count);
void add(const float *a, const float *b, float *out, int64_t count);
void mul(const float *a, const float *b, float *out, int64_t count);
void silu(const float *in, float *out, int64_t count);

struct AttentionParams {
  int64_t heads, kvHeads, headDim, rotaryDim;
  float scale, theta;
  bool interleaved;
};
/// Rotates q and k of `rows` new tokens at `positions` (in place), writes k and v into
/// the layer's cache at those positions (`kCache`, `vCache`: [max_context, kvHeads *
/// headDim]) and computes causal attention of each query over cache positions 0..its own.
void attention(float *q, float *k, const float *v, float *out, const int64_t *positions,
               int64_t rows, float *kCache, float *vCache, const AttentionParams &p);

} // namespace midllama::rt::cpu

#endif // MIDLLAMA_RUNTIME_CPU_KERNELS_H
