//===- Elementwise.cu - SwiGLU, SiLU, add, multiply ------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// SiLU as the CPU kernel computes it, x / (1 + e^-x).
//
//===----------------------------------------------------------------------===//

#include <cstdint>

namespace {
__device__ inline float siluOf(float x) { return x / (1.0f + expf(-x)); }
} // namespace

#define MIDLLAMA_FOR_EACH(i, count)                                                          \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (count);              \
       i += int64_t(gridDim.x) * blockDim.x)

extern "C" __global__ void midllama_swiglu(const float *gate, const float *up, float *out,
                                           int64_t count) {
  MIDLLAMA_FOR_EACH(i, count) out[i] = siluOf(gate[i]) * up[i];
}

extern "C" __global__ void midllama_add(const float *a, const float *b, float *out,
                                        int64_t count) {
  MIDLLAMA_FOR_EACH(i, count) out[i] = a[i] + b[i];
}

extern "C" __global__ void midllama_mul(const float *a, const float *b, float *out,
                                        int64_t count) {
  MIDLLAMA_FOR_EACH(i, count) out[i] = a[i] * b[i];
}

extern "C" __global__ void midllama_silu(const float *in, float *out, int64_t count) {
  MIDLLAMA_FOR_EACH(i, count) out[i] = siluOf(in[i]);
}
