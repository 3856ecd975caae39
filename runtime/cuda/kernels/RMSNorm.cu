//===- RMSNorm.cu - RMSNorm, and the residual add fused into it -----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// out = w ⊙ x / sqrt(mean(x²) + eps), one block per row; the fused form first writes
// sum = in + residual (the residual stream) and normalizes it in the same pass, so the sum
// is read from registers rather than again from memory.
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/kernels/RowExpand.cuh"

using namespace midllama::rt::cuda;

namespace {
__device__ void normalizeRow(const float *x, float *out, int64_t width, const WeightView &w,
                             float eps) {
  float ss = 0.0f;
  for (int64_t c = threadIdx.x; c < width; c += kRowThreads)
    ss = fmaf(x[c], x[c], ss);
  __shared__ float inv;
  float total = blockSum(ss);
  if (threadIdx.x == 0)
    inv = 1.0f / sqrtf(total / float(width) + eps);
  __syncthreads();
  for (int64_t c = threadIdx.x; c < width; c += kRowThreads)
    out[c] = loadAs(w.data, w.dtype, c) * (x[c] * inv);
}
} // namespace

extern "C" __global__ void __launch_bounds__(kRowThreads)
    midllama_rmsnorm(const float *in, float *out, int64_t width, WeightView w, float eps) {
  const int64_t r = blockIdx.x;
  normalizeRow(in + r * width, out + r * width, width, w, eps);
}

extern "C" __global__ void __launch_bounds__(kRowThreads)
    midllama_add_rmsnorm(const float *in, const float *residual, float *sum, float *out,
                         int64_t width, WeightView w, float eps) {
  const int64_t r = blockIdx.x;
  for (int64_t c = threadIdx.x; c < width; c += kRowThreads)
    sum[r * width + c] = in[r * width + c] + residual[r * width + c];
  __syncthreads(); // each thread reads back only what it wrote, but keep the row complete
  normalizeRow(sum + r * width, out + r * width, width, w, eps);
}
