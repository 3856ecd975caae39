//===- MatVecWarp.cu - y = x Wᵀ for a few rows of x, one warp per weight row -===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Decode (1 to kWarpMaxRows rows of x) is a matrix-vector product bound by the weight's
// bytes. midllama_matmul (MatMul.cu) gives each weight row a block of 256 threads that
// decodes it code by code into shared memory and then reduces across the block: short rows
// of work, a block-wide reduction per output, bytes read one at a time. Here one warp owns a
// weight row and each lane reads 8 consecutive weights per load (one 32-bit word of 4-bit
// codes, 16 bytes of fp16/bf16, 32 bytes of fp32), decodes them in registers with their
// group's scale hoisted (the group is a multiple of 8 columns), multiplies them with every
// x row (float4 loads, cached: x is small and shared by all warps), and the warp reduces
// with shuffles. Consecutive lanes read consecutive words: each load instruction of a warp
// covers 128 contiguous bytes of 4-bit codes (512 of fp16). Wider lanes (32 weights, one
// 16-byte load of codes) measured slower on an H200: a lane's 128 bytes of x make the
// warp's x loads touch 32 cache lines each; going wider needs the weights repacked so
// that a lane's codes meet x columns the warp reads together (docs/benchmarks.md).
//
// Which weights (MatVecWarp.h's matVecWarpReads): dense (not pruned) fp32/fp16/bf16 values,
// 4-bit affine (with zero points, symmetric, or with minimum) and NF4, K a multiple of 8;
// x rows 16-byte aligned (the arena's 256-byte alignment). CudaExecutor falls back to
// midllama_matmul otherwise and for prefill (more rows of x, where reading the weight once per row of x and the block's
// shared-memory row pays). midllama_gate_up_warp is the same with the MLP's two
// projections and SwiGLU fused, as GateUpSwiGLU.cu does for the block kernel.
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/kernels/MatVecWarp.h"
#include "runtime/cuda/kernels/RowExpand.cuh"

using namespace midllama::rt::cuda;

namespace {

using midllama::rt::bf16BitsToFloat;
using midllama::rt::DType;
using midllama::rt::nf4Code;

/// The NF4 code book in shared memory: 16 floats in 16 banks, so any 32 lookups are
/// conflict-free (a switch in registers costs a branch tree per code).
__device__ inline void loadNF4Book(float *book) {
  if (threadIdx.x < 16)
    book[threadIdx.x] = nf4Code(int(threadIdx.x));
  __syncthreads();
}

/// Weights (n, 8j) .. (n, 8j + 7) of `w` as fp32.
__device__ __forceinline__ void decode8(const WeightView &w, int64_t n, int64_t j,
                                        const float *nf4Book, float v[8]) {
  const int64_t k = w.cols;
  if (w.isNF4()) { // one stream over all rows, high nibble first
    const int64_t at = n * k + 8 * j;
    uint32_t word = __ldg(reinterpret_cast<const uint32_t *>(w.codes + at / 2));
    float absmax = __ldg(static_cast<const float *>(w.scales) + at / w.groupSize);
#pragma unroll
    for (int b = 0; b < 4; ++b) {
      uint32_t byte = word >> (8 * b) & 0xff;
      v[2 * b] = nf4Book[byte >> 4] * absmax;
      v[2 * b + 1] = nf4Book[byte & 0xf] * absmax;
    }
    return;
  }
  if (w.hasCodeGroups()) { // 4-bit codes, little-endian: code i in bits 4i..4i+3
    uint32_t word = __ldg(reinterpret_cast<const uint32_t *>(w.codes + n * w.codeRowBytes) + j);
    const int64_t g = n * w.groups + 8 * j / w.groupSize;
    float scale = loadAs(w.scales, w.dtype, g), offset;
    if (w.isAffineMin()) {
      offset = loadAs(w.mins, w.dtype, g);
    } else {
      float zero = w.zeros ? float(w.zeros[g]) : 8.0f;
      offset = -zero * scale;
    }
#pragma unroll
    for (int i = 0; i < 8; ++i)
      v[i] = fmaf(float(word >> (4 * i) & 0xf), scale, offset);
    return;
  }
  if (w.dtype == DType::F32) {
    const float4 *p = reinterpret_cast<const float4 *>(static_cast<const float *>(w.data) +
                                                       n * k + 8 * j);
    float4 a = __ldg(p), b = __ldg(p + 1);
    v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z,
    v[7] = b.w;
    return;
  }
  uint4 h = __ldg(reinterpret_cast<const uint4 *>(static_cast<const uint16_t *>(w.data) +
                                                  n * k + 8 * j));
  uint32_t words[4] = {h.x, h.y, h.z, h.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    uint16_t lo = uint16_t(words[i] & 0xffff), hi = uint16_t(words[i] >> 16);
    v[2 * i] = w.dtype == DType::F16 ? halfBitsToFloat(lo) : bf16BitsToFloat(lo);
    v[2 * i + 1] = w.dtype == DType::F16 ? halfBitsToFloat(hi) : bf16BitsToFloat(hi);
  }
}

/// The dot products of weight row n with x rows 0..rows-1 (x row m at
/// in + (m * inStride + inOffset) * K), reduced over the warp: valid in every lane.
__device__ __forceinline__ void warpRowDots(const WeightView &w, int64_t n, const float *in,
                                            int64_t inStride, int64_t inOffset, int rows,
                                            const float *nf4Book, float (&acc)[kWarpMaxRows]) {
  const int lane = threadIdx.x & 31;
  const int64_t k = w.cols, words = k / 8;
#pragma unroll
  for (int m = 0; m < kWarpMaxRows; ++m)
    acc[m] = 0.0f;
#pragma unroll 2
  for (int64_t j = lane; j < words; j += 32) {
    float v[8];
    decode8(w, n, j, nf4Book, v);
#pragma unroll
    for (int m = 0; m < kWarpMaxRows; ++m) {
      if (m >= rows)
        break;
      const float4 *x = reinterpret_cast<const float4 *>(in + (m * inStride + inOffset) * k) +
                        2 * j;
      float4 a = __ldg(x), b = __ldg(x + 1);
      float s = acc[m];
      s = fmaf(v[0], a.x, s), s = fmaf(v[1], a.y, s), s = fmaf(v[2], a.z, s);
      s = fmaf(v[3], a.w, s), s = fmaf(v[4], b.x, s), s = fmaf(v[5], b.y, s);
      s = fmaf(v[6], b.z, s), s = fmaf(v[7], b.w, s);
      acc[m] = s;
    }
  }
  // Only the rows of x there are: at batch 1, 5 shuffles instead of 80 (`rows` is the same
  // in every lane, so the whole warp leaves the loop together).
#pragma unroll
  for (int m = 0; m < kWarpMaxRows; ++m) {
    if (m >= rows)
      break;
    for (int d = 16; d > 0; d >>= 1)
      acc[m] += __shfl_xor_sync(0xffffffffu, acc[m], d);
  }
}

} // namespace

extern "C" __global__ void __launch_bounds__(kWarpRowsPerBlock * 32)
    midllama_matvec_warp(const float *in, int64_t inStride, int64_t inOffset, float *out,
                         int64_t rows, WeightView w) {
  __shared__ float nf4Book[16];
  loadNF4Book(nf4Book);
  const int64_t n = int64_t(blockIdx.x) * kWarpRowsPerBlock + threadIdx.x / 32;
  if (n >= w.rows)
    return;
  float acc[kWarpMaxRows];
  warpRowDots(w, n, in, inStride, inOffset, int(rows), nf4Book, acc);
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int m = 0; m < kWarpMaxRows; ++m)
    if (m == lane && m < rows)
      out[m * w.rows + n] = acc[m];
}

extern "C" __global__ void __launch_bounds__(kWarpRowsPerBlock * 32)
    midllama_gate_up_warp(const float *in, float *out, int64_t rows, WeightView gate,
                          WeightView up) {
  __shared__ float nf4Book[16];
  loadNF4Book(nf4Book);
  const int64_t n = int64_t(blockIdx.x) * kWarpRowsPerBlock + threadIdx.x / 32;
  if (n >= gate.rows)
    return;
  float g[kWarpMaxRows], u[kWarpMaxRows];
  warpRowDots(gate, n, in, 1, 0, int(rows), nf4Book, g);
  warpRowDots(up, n, in, 1, 0, int(rows), nf4Book, u);
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int m = 0; m < kWarpMaxRows; ++m)
    if (m == lane && m < rows)
      out[m * gate.rows + n] = g[m] / (1.0f + expf(-g[m])) * u[m];
}
