//===- Embed.cu - Token embedding rows, decoded from any weight format -----===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/kernels/RowExpand.cuh"

using namespace midllama::rt::cuda;

/// out[r, :] = row tokens[r] of the table (one block per token).
extern "C" __global__ void __launch_bounds__(kRowThreads)
    midllama_embed(const int32_t *tokens, WeightView table, float *out) {
  const int64_t r = blockIdx.x;
  expandRow(table, tokens[r], out + r * table.cols);
}
