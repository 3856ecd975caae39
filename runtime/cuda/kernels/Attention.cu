//===- Attention.cu - Rotary + KV-cache write, then causal GQA attention ---===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// As the CPU kernel: the new tokens' q and k are rotated in fp32 (rotary on the first
// rotaryDim features of each head, halves or interleaved pairs), k and v written into the
// layer's cache at their positions (one fused kernel), then every query attends over
// cache positions 0..its own. Prefill and decode share the attention kernel: one block per
// (token, query head); a query head reads the cache of its KV head (GQA). Scores live in
// shared memory (one float per position); contexts longer than shared memory allows need
// the split-along-the-sequence variant, which the host refuses until it exists.
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/kernels/AttentionParams.h"
#include "runtime/cuda/kernels/RowExpand.cuh" // MaxOf

#include <cub/block/block_reduce.cuh>

using namespace midllama::rt::cuda;

namespace {
constexpr int kAttentionThreads = 128;

__device__ void rotateHeads(float *x, int64_t heads, const DeviceAttentionParams &p,
                            int64_t pos) {
  int64_t half = p.rotaryDim / 2;
  for (int64_t t = threadIdx.x; t < heads * half; t += blockDim.x) {
    int64_t h = t / half, i = t % half;
    float freq = 1.0f / powf(p.theta, float(2 * i) / float(p.rotaryDim));
    float angle = float(pos) * freq, c = cosf(angle), s = sinf(angle);
    float *head = x + h * p.headDim;
    float *a = p.interleaved ? head + 2 * i : head + i;
    float *b = p.interleaved ? head + 2 * i + 1 : head + i + half;
    float a0 = *a, b0 = *b;
    *a = a0 * c - b0 * s;
    *b = a0 * s + b0 * c;
  }
}
} // namespace

/// Token r of the chunk sits at position start + r. One block per token.
extern "C" __global__ void midllama_rotary_cache_write(float *q, float *k, const float *v,
                                                       int64_t start, float *kCache,
                                                       float *vCache, DeviceAttentionParams p) {
  const int64_t r = blockIdx.x, pos = start + r;
  const int64_t qw = p.heads * p.headDim, kvw = p.kvHeads * p.headDim;
  rotateHeads(q + r * qw, p.heads, p, pos);
  rotateHeads(k + r * kvw, p.kvHeads, p, pos);
  __syncthreads();
  for (int64_t i = threadIdx.x; i < kvw; i += blockDim.x) {
    kCache[pos * kvw + i] = k[r * kvw + i];
    vCache[pos * kvw + i] = v[r * kvw + i];
  }
}

/// out[r, h, :] = softmax_j(scale · q[r, h] · k[j, h / group]) · v[j, h / group] over
/// j = 0 .. start + r. Grid (tokens, heads), kAttentionThreads threads, shared memory
/// (start + tokens) floats.
extern "C" __global__ void __launch_bounds__(kAttentionThreads)
    midllama_attention(const float *q, float *out, int64_t start, const float *kCache,
                       const float *vCache, DeviceAttentionParams p) {
  extern __shared__ float scores[];
  using Reduce = cub::BlockReduce<float, kAttentionThreads>;
  __shared__ typename Reduce::TempStorage storage;
  __shared__ float maxScore, total;
  const int64_t r = blockIdx.x, h = blockIdx.y;
  const int64_t group = p.heads / p.kvHeads, kvh = h / group;
  const int64_t qw = p.heads * p.headDim, kvw = p.kvHeads * p.headDim;
  const int64_t length = start + r + 1;
  const float *qh = q + r * qw + h * p.headDim;
  float localMax = -INFINITY;
  for (int64_t j = threadIdx.x; j < length; j += kAttentionThreads) {
    const float *kj = kCache + j * kvw + kvh * p.headDim;
    float s = 0.0f;
    for (int64_t d = 0; d < p.headDim; ++d)
      s = fmaf(qh[d], kj[d], s);
    s *= p.scale;
    scores[j] = s;
    localMax = fmaxf(localMax, s);
  }
  float m = Reduce(storage).Reduce(localMax, MaxOf());
  if (threadIdx.x == 0)
    maxScore = m;
  __syncthreads();
  float localSum = 0.0f;
  for (int64_t j = threadIdx.x; j < length; j += kAttentionThreads) {
    float e = expf(scores[j] - maxScore);
    scores[j] = e;
    localSum += e;
  }
  float s = Reduce(storage).Sum(localSum);
  if (threadIdx.x == 0)
    total = s;
  __syncthreads();
  for (int64_t d = threadIdx.x; d < p.headDim; d += kAttentionThreads) {
    float acc = 0.0f;
    for (int64_t j = 0; j < length; ++j)
      acc = fmaf(scores[j], vCache[j * kvw + kvh * p.headDim + d], acc);
    out[r * qw + h * p.headDim + d] = acc / total;
  }
}
