//===- AttentionParams.h - The attention kernels' shape arguments -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Passed by value to the CUDA attention kernels; the host fills it from an Attention
// call of the program (runtime/artifact/Program.h) exactly as the CPU backend does.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_CUDA_KERNELS_ATTENTIONPARAMS_H
#define MIDLLAMA_RUNTIME_CUDA_KERNELS_ATTENTIONPARAMS_H

#include <cstdint>

namespace midllama::rt::cuda {

struct DeviceAttentionParams {
  int64_t heads = 0, kvHeads = 0, headDim = 0, rotaryDim = 0;
  float scale = 0, theta = 0;
  int32_t interleaved = 0;
  int64_t context = 0; // positions each cache holds
};

} // namespace midllama::rt::cuda

#endif // MIDLLAMA_RUNTIME_CUDA_KERNELS_ATTENTIONPARAMS_H
