//===- GateUpSwiGLU.cu - silu(x Wgᵀ) ⊙ (x Wuᵀ) in one kernel ---------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The MLP's gate and up projections fused with SwiGLU: one block per output feature n
// decodes row n of both weights into shared memory (any format, as midllama_matmul does)
// and writes silu(g)·u; the [rows, ffn] gate and up activations never reach global memory.
// LLM.int8() weights, whose inputs are quantized per call, take the unfused path.
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/kernels/RowExpand.cuh"

using namespace midllama::rt::cuda;

extern "C" __global__ void __launch_bounds__(kRowThreads)
    midllama_gate_up_swiglu(const float *in, float *out, int64_t rows, WeightView gate,
                            WeightView up) {
  extern __shared__ float rowsOf[]; // gate row n, then up row n: 2K floats
  const int64_t n = blockIdx.x, k = gate.cols;
  float *g = rowsOf, *u = rowsOf + k;
  expandRow(gate, n, g);
  expandRow(up, n, u);
  __shared__ float gateSum;
  for (int64_t m = 0; m < rows; ++m) {
    const float *x = in + m * k;
    float pg = 0.0f, pu = 0.0f;
    for (int64_t c = threadIdx.x; c < k; c += kRowThreads) {
      pg = fmaf(g[c], x[c], pg);
      pu = fmaf(u[c], x[c], pu);
    }
    float sg = blockSum(pg);
    if (threadIdx.x == 0)
      gateSum = sg;
    float su = blockSum(pu);
    if (threadIdx.x == 0)
      out[m * gate.rows + n] = gateSum / (1.0f + expf(-gateSum)) * su;
  }
}
