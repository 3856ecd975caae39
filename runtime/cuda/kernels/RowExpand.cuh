//===- RowExpand.cuh - Walk a weight row's stored values on the GPU -*- CUDA -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// One thread block visits every stored value of row n of a weight, whatever its storage
// (dense, N:M, bitmask), calling put(col, stream, rowCode) once per value: the matmul,
// embedding and int8 kernels expand rows with it. N:M values are independent (their column
// comes from their position); a bitmask row needs each value's rank among the set bits, so
// threads take contiguous byte chunks, count their bits, and an exclusive block scan gives
// each chunk its first rank. Every kernel using it runs kRowThreads threads per block.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_CUDA_KERNELS_ROWEXPAND_CUH
#define MIDLLAMA_RUNTIME_CUDA_KERNELS_ROWEXPAND_CUH

#include "runtime/format/WeightView.h"

#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>

namespace midllama::rt::cuda {

// The weight view and its element decoders, shared with the CPU (runtime/format/
// WeightView.h), named here for the kernels that say `using namespace midllama::rt::cuda`.
using rt::halfBitsToFloat;
using rt::loadAs;
using rt::FormatKind;
using rt::SparsityKind;
using rt::WeightView;

constexpr int kRowThreads = 256;

template <typename Put>
__device__ void forEachStored(const WeightView &w, int64_t n, Put put) {
  const int tid = threadIdx.x;
  const int64_t k = w.cols;
  if (w.sparse == SparsityKind::None) {
    for (int64_t c = tid; c < k; c += kRowThreads)
      put(c, n * k + c, c);
    return;
  }
  if (w.sparse == SparsityKind::NM) {
    int64_t perRow = k / w.nmM * w.nmN;
    for (int64_t i = tid; i < perRow; i += kRowThreads)
      put(nmColumn(w, n, i), n * perRow + i, i);
    return;
  }
  using Scan = cub::BlockScan<int, kRowThreads>;
  __shared__ typename Scan::TempStorage scanStorage;
  const uint8_t *mask = w.index + n * ((k + 7) / 8);
  int64_t maskBytes = (k + 7) / 8, chunk = (maskBytes + kRowThreads - 1) / kRowThreads;
  int64_t begin = min(maskBytes, tid * chunk), end = min(maskBytes, begin + chunk);
  int count = 0;
  for (int64_t b = begin; b < end; ++b)
    count += __popc(unsigned(mask[b]));
  int first = 0;
  Scan(scanStorage).ExclusiveSum(count, first);
  int64_t rank = first;
  for (int64_t b = begin; b < end; ++b)
    for (int bit = 0; bit < 8; ++bit)
      if (mask[b] >> bit & 1) {
        put(b * 8 + bit, int64_t(w.rowPtr[n]) + rank, rank);
        ++rank;
      }
}

/// Row n of `w` as fp32 into `dst` (K values, shared or global memory), zeros where
/// pruned, int8 outlier columns from fp16. The whole block calls it; it ends synchronized.
__device__ inline void expandRow(const WeightView &w, int64_t n, float *dst) {
  if (w.sparse != SparsityKind::None) {
    for (int64_t c = threadIdx.x; c < w.cols; c += kRowThreads)
      dst[c] = 0.0f;
    __syncthreads();
  }
  forEachStored(w, n, [&](int64_t col, int64_t stream, int64_t rowCode) {
    dst[col] = storedValue(w, n, stream, rowCode, col);
  });
  __syncthreads();
  if (w.isInt8())
    for (int64_t o = threadIdx.x; o < w.numOutliers; o += kRowThreads)
      dst[w.outlierColumns[o]] = halfBitsToFloat(w.outliers[n * w.numOutliers + o]);
  __syncthreads();
}

/// The larger of two values, for block reductions.
struct MaxOf {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

/// Sum of `v` over the block, valid in thread 0.
__device__ inline float blockSum(float v) {
  using Reduce = cub::BlockReduce<float, kRowThreads>;
  __shared__ typename Reduce::TempStorage storage;
  float s = Reduce(storage).Sum(v);
  __syncthreads(); // the storage is reused by the next call
  return s;
}

} // namespace midllama::rt::cuda

#endif // MIDLLAMA_RUNTIME_CUDA_KERNELS_ROWEXPAND_CUH
