//===- MatVecWarp.h - Which products the warp-per-row kernel takes -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// midllama_matvec_warp and midllama_gate_up_warp (MatVecWarp.cu): their launch shape and
// the weights and calls they handle, for the kernels, CudaExecutor and the kernel bench.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_CUDA_KERNELS_MATVECWARP_H
#define MIDLLAMA_RUNTIME_CUDA_KERNELS_MATVECWARP_H

#include "runtime/format/WeightView.h"

#include <cstdint>

namespace midllama::rt::cuda {

constexpr int kWarpRowsPerBlock = 8; // warps per block, one weight row each
constexpr int kWarpMaxRows = 16;     // rows of x per launch: decode and small batches

/// Whether the warp kernels read `w`: dense rows (not pruned, not LLM.int8()) of fp32,
/// fp16 or bf16 values, or of 4-bit codes (affine with zero points, symmetric or with
/// minimum, groups a multiple of 8 columns; NF4 blocks a multiple of 8), K a multiple of 8.
inline bool matVecWarpReads(const WeightView &w) {
  if (w.sparse != SparsityKind::None || w.isInt8() || w.cols % 8 != 0 || w.panels)
    return false;
  if (w.isNF4() || w.hasCodeGroups())
    return w.bits == 4 && w.groupSize % 8 == 0 &&
           (!w.hasCodeGroups() || w.codeRowBytes % 4 == 0);
  return w.dtype == DType::F32 || w.dtype == DType::F16 || w.dtype == DType::BF16;
}

/// Whether a product of `rows` rows of x at `in` (16-byte aligned for float4 loads) with
/// `w` goes to the warp kernel.
inline bool matVecWarpApplies(const WeightView &w, const float *in, int64_t rows) {
  return rows >= 1 && rows <= kWarpMaxRows && reinterpret_cast<uintptr_t>(in) % 16 == 0 &&
         matVecWarpReads(w);
}

inline unsigned matVecWarpBlocks(const WeightView &w) {
  return unsigned((w.rows + kWarpRowsPerBlock - 1) / kWarpRowsPerBlock);
}

} // namespace midllama::rt::cuda

#endif // MIDLLAMA_RUNTIME_CUDA_KERNELS_MATVECWARP_H
