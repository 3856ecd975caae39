//===- KernelTargets.cpp - The GPU targets, and no images without nvcc ----===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Target/KernelImages.h"

const std::vector<std::string> &midllama::target::cudaTargets() {
  static const std::vector<std::string> targets = {"sm_80", "sm_86", "sm_89", "sm_90"};
  return targets;
}

#ifndef MIDLLAMA_HAVE_CUDA_IMAGES
const void *midllama::target::cudaKernelImage(const std::string &, size_t &size) {
  size = 0;
  return nullptr;
}
#endif
