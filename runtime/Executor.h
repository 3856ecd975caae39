//===- Executor.h - Run a loaded model on the CPU or a GPU ------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// What the driver runs: forward() as the CPU Session (runtime/cpu/Session.h) defines it
// (tokens of `batch` sequences at positions start.., logits of every token or of each
// sequence's last), on the backend the artifact and the machine allow. An artifact
// compiled for a GPU (`--target=sm_XX`) carries its kernels; with `Device::Auto` it runs
// on the CUDA backend when a usable GPU is present and otherwise on the CPU backend,
// saying why in `notice`. The CPU backend runs every artifact.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_EXECUTOR_H
#define MIDLLAMA_RUNTIME_EXECUTOR_H

#include "runtime/Model.h"

#include <cstdint>
#include <memory>
#include <string>

namespace midllama::rt {

enum class Device { Auto, CPU, CUDA };

class Executor {
public:
  virtual ~Executor() = default;
  /// As Session::forward; the logits are in host memory.
  virtual const float *forward(const int32_t *tokens, int64_t count, int64_t start,
                               bool lastOnly, std::string &error) = 0;
  /// "cpu (2 threads)", "cuda: NVIDIA H100 80GB HBM3 (sm_90)".
  virtual std::string deviceName() const = 0;
  /// Bytes of device memory held (weights, KV cache, activations): the VRAM line of the
  /// report; 0 on the CPU.
  virtual int64_t deviceBytes() const { return 0; }
  /// Whether it runs on a GPU (whose kernels take fp32 activations: the CPU's int8
  /// activation setting does not apply there).
  virtual bool onGpu() const { return false; }
};

/// The executor for `model` on `device`; null with `error` when the device asked for
/// cannot run it (Device::CUDA without a usable GPU or kernels). `notice` gets a line for
/// the user when Device::Auto falls back to the CPU.
std::unique_ptr<Executor> makeExecutor(const Model &model, int64_t maxTokens, int64_t context,
                                       int64_t batch, Device device, std::string &notice,
                                       std::string &error);

/// Whether `model` carries GPU kernels (was compiled for a GPU target).
bool hasCudaKernels(const Model &model);

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_EXECUTOR_H
