//===- Pipelines.cpp - Named pass pipelines -------------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Every compile the tools run is a registered pipeline, so `midllama-opt` alone reproduces
// it (and its lit tests run it).
//
//===----------------------------------------------------------------------===//

#include "midllama/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void midllama::buildLowerToCPUPipeline(OpPassManager &pm) {
  pm.addPass(createConvertLLMToKern());
  pm.addPass(createKernFuse());
  pm.addPass(createCanonicalizerPass()); // drops weight reads no kernel reads
  pm.addPass(createKernPlanBuffers());
}

void midllama::registerMidllamaPipelines() {
  PassPipelineRegistration<>(
      "midllama-lower-cpu",
      "Lower an llm module to a planned kern program for the CPU runtime "
      "(convert-llm-to-kern, kern-fuse, canonicalize, kern-plan-buffers)",
      buildLowerToCPUPipeline);
}
