//===- Executor.cpp - Backend choice, and the CPU backend's executor ------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/Executor.h"

#include "runtime/DeviceProbe.h"
#include "runtime/cpu/Session.h"
#include "runtime/cuda/CudaExecutor.h"

using namespace midllama::rt;

namespace {

class CPUExecutor final : public Executor {
public:
  CPUExecutor(const Model &model, int64_t maxTokens, int64_t context, int64_t batch)
      : session_(model, maxTokens, context, batch) {}
  const float *forward(const int32_t *tokens, int64_t count, int64_t start, bool lastOnly,
                       std::string &error) override {
    return session_.forward(tokens, count, start, lastOnly, error);
  }
  std::string deviceName() const override {
    int threads = cpu::threadCount();
    return "cpu (" + std::to_string(threads) + " thread" + (threads == 1 ? ")" : "s)");
  }

private:
  Session session_;
};

} // namespace

#ifndef MIDLLAMA_HAVE_CUDA
std::unique_ptr<Executor> midllama::rt::makeCudaExecutor(const Model &, int64_t, int64_t,
                                                         int64_t, std::string &error) {
  error = "midllama was built without CUDA (no nvcc, or MIDLLAMA_ENABLE_CUDA=OFF)";
  return nullptr;
}
#endif

bool midllama::rt::hasCudaKernels(const Model &model) {
  return model.file().find(kCudaKernelsTensor) != nullptr;
}

std::unique_ptr<Executor> midllama::rt::makeExecutor(const Model &model, int64_t maxTokens,
                                                     int64_t context, int64_t batch,
                                                     Device device, std::string &notice,
                                                     std::string &error) {
  notice.clear();
  if (device == Device::CPU || (device == Device::Auto && !hasCudaKernels(model)))
    return std::make_unique<CPUExecutor>(model, maxTokens, context, batch);
  std::string why;
  if (!hasCudaKernels(model)) {
    why = "the artifact was compiled for the CPU (recompile with midllama-compile "
          "--target=sm_80|sm_86|sm_89|sm_90)";
  } else if (GpuProbe probe = probeGpu(); !probe.usable) {
    why = probe.reason;
  } else if (std::unique_ptr<Executor> gpu =
                 makeCudaExecutor(model, maxTokens, context, batch, why)) {
    return gpu;
  }
  if (device == Device::CUDA) {
    error = "cannot run on the GPU: " + why;
    return nullptr;
  }
  notice = "no GPU run: " + why + "; running on the CPU backend";
  return std::make_unique<CPUExecutor>(model, maxTokens, context, batch);
}
