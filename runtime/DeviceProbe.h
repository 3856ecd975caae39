//===- DeviceProbe.h - Is there a GPU we can run on, and if not why -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The runtime falls back to the CPU backend when no usable GPU is present and prints why;
// this is where "why" comes from. Usable means more than "a device exists": the probe
// launches a small kernel from this binary and checks its result, which catches a missing
// driver, a GPU too old for the embedded code and a broken install alike.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_DEVICEPROBE_H
#define MIDLLAMA_RUNTIME_DEVICEPROBE_H

#include <cstddef>
#include <string>

namespace midllama::rt {

struct GpuProbe {
  bool usable = false;
  std::string reason;      // why not usable; empty when usable
  int deviceCount = 0;
  std::string name;        // device 0
  int computeMajor = 0, computeMinor = 0;
  std::size_t totalMemoryBytes = 0;
};

/// True when this binary was built with CUDA kernels.
bool builtWithCuda();

/// Probes device 0: count, properties, and a kernel launch whose result is checked.
GpuProbe probeGpu();

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_DEVICEPROBE_H
