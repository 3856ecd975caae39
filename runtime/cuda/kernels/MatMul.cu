//===- MatMul.cu - y = x Wᵀ for every weight format ------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// One block per output feature n: the block decodes row n of W once into shared memory
// (dequantization inside the matmul: no dequantized copy of a weight ever exists in
// global memory), then every input row's dot product with it. At batch 1 this is a GEMV
// that reads each weight byte once; the weight stays in its compressed form (int4 codes,
// NF4 codes, int8, kept values). Reference-first: correct for every format the CPU
// kernels read; the bandwidth-tuned W4A16/NF4 kernels (Marlin-style interleaved int4,
// vectorized loads, several rows per block) are measured against it on a GPU.
//
// Input row m is at in + (m * inStride + inOffset) * K: a stride of `count` and an offset of
// count - 1 project only each sequence's last token (the LM head while decoding).
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/kernels/RowExpand.cuh"

using namespace midllama::rt::cuda;

extern "C" __global__ void __launch_bounds__(kRowThreads)
    midllama_matmul(const float *in, int64_t inStride, int64_t inOffset, float *out,
                    int64_t rows, WeightView w) {
  extern __shared__ float row[]; // K floats
  const int64_t n = blockIdx.x, k = w.cols;
  expandRow(w, n, row);
  for (int64_t m = 0; m < rows; ++m) {
    const float *x = in + (m * inStride + inOffset) * k;
    float partial = 0.0f;
    for (int64_t c = threadIdx.x; c < k; c += kRowThreads)
      partial = fmaf(row[c], x[c], partial);
    float total = blockSum(partial);
    if (threadIdx.x == 0)
      out[m * w.rows + n] = total;
  }
}
