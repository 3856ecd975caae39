//===- Argmax.cu - Greedy next token on the device ------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The index of each row's largest logit (the first one on ties, as the CPU sampler
// picks), so greedy decoding copies one int per sequence back instead of the vocabulary.
//
//===----------------------------------------------------------------------===//

#include <cub/block/block_reduce.cuh>

#include <cstdint>

namespace {
constexpr int kArgmaxThreads = 256;
struct Best {
  float value;
  int32_t index;
};
struct TakeBest {
  __device__ Best operator()(const Best &a, const Best &b) const {
    if (a.value != b.value)
      return a.value > b.value ? a : b;
    return a.index < b.index ? a : b;
  }
};
} // namespace

extern "C" __global__ void __launch_bounds__(kArgmaxThreads)
    midllama_argmax(const float *logits, int64_t vocab, int32_t *out) {
  using Reduce = cub::BlockReduce<Best, kArgmaxThreads>;
  __shared__ typename Reduce::TempStorage storage;
  const float *z = logits + int64_t(blockIdx.x) * vocab;
  Best best{-INFINITY, int32_t(vocab)};
  for (int64_t i = threadIdx.x; i < vocab; i += kArgmaxThreads)
    best = TakeBest()(best, Best{z[i], int32_t(i)});
  Best top = Reduce(storage).Reduce(best, TakeBest());
  if (threadIdx.x == 0)
    out[blockIdx.x] = top.index;
}
