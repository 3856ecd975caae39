//===- Int8MatMul.cu - LLM.int8(): int8 rows with fp16 outlier columns ----===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// As the CPU kernel and quant::int8OutlierMatmulReference compute it (Dettmers et al.
// 2022): each input row quantized once to int8 by the absmax of its non-outlier columns
// (midllama_int8_quantize_rows), int32 dot products with the int8 weight rows rescaled by
// both scales, plus the outlier columns rounded to fp16 times their fp16 weights. The int8
// codes are read as stored (dense or only the kept ones of a pruned weight); nothing is
// dequantized.
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/kernels/RowExpand.cuh"

#include <cuda_fp16.h>

using namespace midllama::rt::cuda;

__device__ inline bool isOutlier(const WeightView &w, int64_t col) {
  for (int64_t o = 0; o < w.numOutliers; ++o)
    if (w.outlierColumns[o] == col)
      return true;
  return false;
}

/// xq [rows, K] int8 (outlier columns 0), sx [rows] scales, xo [rows, C] the outlier
/// columns rounded to fp16. One block per input row (read as midllama_matmul reads it).
extern "C" __global__ void __launch_bounds__(kRowThreads)
    midllama_int8_quantize_rows(const float *in, int64_t inStride, int64_t inOffset,
                                WeightView w, int8_t *xq, float *sx, float *xo) {
  const int64_t m = blockIdx.x, k = w.cols;
  const float *x = in + (m * inStride + inOffset) * k;
  float absmax = 0.0f;
  for (int64_t c = threadIdx.x; c < k; c += kRowThreads)
    if (!isOutlier(w, c))
      absmax = fmaxf(absmax, fabsf(x[c]));
  using Reduce = cub::BlockReduce<float, kRowThreads>;
  __shared__ typename Reduce::TempStorage storage;
  __shared__ float scale;
  float top = Reduce(storage).Reduce(absmax, MaxOf());
  if (threadIdx.x == 0) {
    scale = top / 127.0f;
    sx[m] = scale;
  }
  __syncthreads();
  for (int64_t c = threadIdx.x; c < k; c += kRowThreads)
    xq[m * k + c] = isOutlier(w, c) || scale == 0.0f
                        ? int8_t(0)
                        : int8_t(roundf(fminf(fmaxf(x[c] / scale, -127.0f), 127.0f)));
  for (int64_t o = threadIdx.x; o < w.numOutliers; o += kRowThreads)
    xo[m * w.numOutliers + o] = __half2float(__float2half_rn(x[w.outlierColumns[o]]));
}

extern "C" __global__ void __launch_bounds__(kRowThreads)
    midllama_int8_matmul(const int8_t *xq, const float *sx, const float *xo, float *out,
                         int64_t rows, WeightView w) {
  extern __shared__ int8_t codes[]; // row n's int8 codes, K bytes
  const int64_t n = blockIdx.x, k = w.cols;
  if (w.sparse != SparsityKind::None) {
    for (int64_t c = threadIdx.x; c < k; c += kRowThreads)
      codes[c] = 0;
    __syncthreads();
  }
  const int8_t *q = reinterpret_cast<const int8_t *>(w.codes);
  forEachStored(w, n, [&](int64_t col, int64_t stream, int64_t) { codes[col] = q[stream]; });
  __syncthreads();
  using Reduce = cub::BlockReduce<int, kRowThreads>;
  __shared__ typename Reduce::TempStorage storage;
  const float rowScale = static_cast<const float *>(w.scales)[n];
  for (int64_t m = 0; m < rows; ++m) {
    int partial = 0;
    for (int64_t c = threadIdx.x; c < k; c += kRowThreads)
      partial += int(xq[m * k + c]) * int(codes[c]);
    int acc = Reduce(storage).Sum(partial);
    __syncthreads();
    if (threadIdx.x == 0) {
      float y = float(acc) * (sx[m] * rowScale);
      for (int64_t o = 0; o < w.numOutliers; ++o)
        y += xo[m * w.numOutliers + o] * halfBitsToFloat(w.outliers[n * w.numOutliers + o]);
      out[m * w.rows + n] = y;
    }
  }
}
