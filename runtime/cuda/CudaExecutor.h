//===- CudaExecutor.h - The CUDA backend ------------------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Runs a model compiled for a GPU target: the artifact's kernel image (fatbin) is loaded
// as it is (cudaLibraryLoadData: the cubin, or the driver JIT-compiles its PTX only on a
// GPU newer than the target); the weights are copied once, as stored (packed codes, kept
// values), into one device arena with the KV cache and the activation slots; each call of
// the program launches its kernel on one stream. Built only with CUDA; without it the
// factory says so.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_CUDA_CUDAEXECUTOR_H
#define MIDLLAMA_RUNTIME_CUDA_CUDAEXECUTOR_H

#include "runtime/Executor.h"

namespace midllama::rt {

/// Null with `error` (one line: the CUDA call or the limit at fault) when the model cannot
/// run on device 0.
std::unique_ptr<Executor> makeCudaExecutor(const Model &model, int64_t maxTokens,
                                           int64_t context, int64_t batch, std::string &error);

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_CUDA_CUDAEXECUTOR_H
