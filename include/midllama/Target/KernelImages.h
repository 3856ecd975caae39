//===- KernelImages.h - The CUDA kernels compiled for each target -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// nvcc compiles runtime/cuda/kernels/AllKernels.cu when midllama is built, once per
// target GPU architecture: a fatbin holding the cubin for sm_XX and the PTX of
// compute_XX (which the driver JIT-compiles only on a newer GPU). They are linked into the
// compiler, which copies the target's image into each artifact: compiling a model needs
// no CUDA toolkit, and loading one compiles nothing.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_TARGET_KERNELIMAGES_H
#define MIDLLAMA_TARGET_KERNELIMAGES_H

#include <cstddef>
#include <string>
#include <vector>

namespace midllama::target {

/// The GPU targets midllama-compile offers.
const std::vector<std::string> &cudaTargets();

/// The kernel image (fatbin) for `target` ("sm_80", ...), or null with `size` 0 when this
/// build has none (no nvcc when midllama was built).
const void *cudaKernelImage(const std::string &target, size_t &size);

} // namespace midllama::target

#endif // MIDLLAMA_TARGET_KERNELIMAGES_H
