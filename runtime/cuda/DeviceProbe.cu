//===- DeviceProbe.cu - Find a usable CUDA device --------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Counts devices, reads device 0's properties, then runs a one-block kernel that writes
// i*i+1 to a small buffer and checks it on the host. cudaGetDeviceCount alone succeeds on
// machines where no kernel of ours can run (e.g. a GPU older than every embedded cubin, or
// a driver too old for the toolkit), and those must fall back to the CPU too.
//
//===----------------------------------------------------------------------===//

#include "runtime/DeviceProbe.h"

#include <cuda_runtime.h>

#include <string>
#include <vector>

namespace midllama::rt {
namespace {

__global__ void probeKernel(int *out, int n) {
  int i = threadIdx.x;
  if (i < n)
    out[i] = i * i + 1;
}

std::string describe(const char *what, cudaError_t err) {
  return std::string(what) + ": " + cudaGetErrorString(err);
}

} // namespace

GpuProbe probeCudaDevice() {
  GpuProbe probe;
  cudaError_t err = cudaGetDeviceCount(&probe.deviceCount);
  if (err != cudaSuccess) {
    probe.deviceCount = 0;
    probe.reason = describe("no CUDA device", err);
    return probe;
  }
  if (probe.deviceCount == 0) {
    probe.reason = "no CUDA device: the driver reports 0 devices";
    return probe;
  }
  cudaDeviceProp prop;
  if ((err = cudaGetDeviceProperties(&prop, 0)) != cudaSuccess) {
    probe.reason = describe("cannot read device 0 properties", err);
    return probe;
  }
  probe.name = prop.name;
  probe.computeMajor = prop.major;
  probe.computeMinor = prop.minor;
  probe.totalMemoryBytes = prop.totalGlobalMem;

  constexpr int kN = 32;
  int *device = nullptr;
  if ((err = cudaMalloc(&device, kN * sizeof(int))) != cudaSuccess) {
    probe.reason = describe("cannot allocate on device 0", err);
    return probe;
  }
  probeKernel<<<1, kN>>>(device, kN);
  err = cudaGetLastError();
  if (err == cudaSuccess)
    err = cudaDeviceSynchronize();
  std::vector<int> host(kN, 0);
  if (err == cudaSuccess)
    err = cudaMemcpy(host.data(), device, kN * sizeof(int), cudaMemcpyDeviceToHost);
  cudaFree(device);
  if (err != cudaSuccess) {
    probe.reason = describe("test kernel failed on device 0", err);
    return probe;
  }
  for (int i = 0; i < kN; ++i) {
    if (host[i] != i * i + 1) {
      probe.reason = "test kernel on device 0 returned wrong results";
      return probe;
    }
  }
  probe.usable = true;
  return probe;
}

} // namespace midllama::rt
