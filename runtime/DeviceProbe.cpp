//===- DeviceProbe.cpp - GPU probe entry point ----------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/DeviceProbe.h"

namespace midllama::rt {

#ifdef MIDLLAMA_HAVE_CUDA
GpuProbe probeCudaDevice(); // runtime/cuda/DeviceProbe.cu
bool builtWithCuda() { return true; }
GpuProbe probeGpu() { return probeCudaDevice(); }
#else
bool builtWithCuda() { return false; }
GpuProbe probeGpu() {
  GpuProbe probe;
  probe.reason = "midllama was built without CUDA (no nvcc, or MIDLLAMA_ENABLE_CUDA=OFF)";
  return probe;
}
#endif

} // namespace midllama::rt
