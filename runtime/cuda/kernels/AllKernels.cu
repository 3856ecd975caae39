//===- AllKernels.cu - The translation unit embedded in every artifact ----===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// nvcc compiles this file once per target (sm_80/86/89/90: cubin for it, and its PTX for
// newer GPUs) when midllama itself is built; midllama-compile --target=sm_XX copies the
// result into the artifact (docs/cuda.md). One op per file; this only gathers them.
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/kernels/Argmax.cu"
#include "runtime/cuda/kernels/Attention.cu"
#include "runtime/cuda/kernels/Elementwise.cu"
#include "runtime/cuda/kernels/Embed.cu"
#include "runtime/cuda/kernels/GateUpSwiGLU.cu"
#include "runtime/cuda/kernels/Int8MatMul.cu"
#include "runtime/cuda/kernels/MatMul.cu"
#include "runtime/cuda/kernels/MatVecWarp.cu"
#include "runtime/cuda/kernels/RMSNorm.cu"
