//===- Pipelines.cpp - Named pass pipelines -------------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Every compile the tools run is a registered pipeline, so `midllama-opt` alone reproduces
// it (and its lit tests run it).
//
//===----------------------------------------------------------------------===//

#include "midllama/Pipelines/Pipelines.h"
#include "passes/Transforms/Recipe.h"

#include "midllama/Conversion/Passes.h"
#include "midllama/Dialect/Kern/Transforms/Passes.h"
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

namespace {

/// The options of every `midllama-recipe-<name>` pipeline: what a recipe leaves to the
/// user (its data and where the weights go).
struct RecipePipelineOptions : public PassPipelineOptions<RecipePipelineOptions> {
  Option<std::string> calib{*this, "calib",
                            llvm::cl::desc("Calibration data (text or .tokens), for calibrated "
                                           "methods")};
  Option<int64_t> samples{*this, "samples", llvm::cl::desc("Calibration windows"),
                          llvm::cl::init(0)};
  Option<int64_t> seqLen{*this, "seq-len", llvm::cl::desc("Tokens per calibration window"),
                         llvm::cl::init(0)};
  Option<uint64_t> seed{*this, "seed", llvm::cl::desc("Seed of the window sampling"),
                        llvm::cl::init(0)};
  Option<std::string> tokenizer{*this, "tokenizer",
                                llvm::cl::desc("Tokenizer for text calibration data")};
  Option<std::string> output{*this, "output",
                             llvm::cl::desc("Parameter file to write (required)")};
};

} // namespace

void midllama::registerMidllamaPipelines() {
  // One pipeline per built-in recipe: --midllama-recipe-gptq-w4g128="calib=... output=...".
  static std::vector<std::string> names, args, descriptions;
  if (names.empty()) {
    names = builtinRecipeNames();
    for (const std::string &n : names) {
      args.push_back("midllama-recipe-" + n);
      descriptions.push_back("Compress with the built-in recipe '" + n +
                             "' (llm-apply-recipe, then llm-verify-params)");
    }
  }
  for (size_t i = 0; i < names.size(); ++i) {
    std::string name = names[i];
    PassPipelineRegistration<RecipePipelineOptions>(
        args[i], descriptions[i], [name](OpPassManager &pm, const RecipePipelineOptions &o) {
          LLMApplyRecipeOptions options;
          options.recipe = name;
          options.calib = o.calib;
          options.samples = o.samples;
          options.seqLen = o.seqLen;
          options.seed = o.seed;
          options.tokenizer = o.tokenizer;
          options.output = o.output;
          pm.addPass(createLLMApplyRecipe(options));
          pm.addPass(createLLMVerifyParams());
        });
  }
  PassPipelineRegistration<>(
      "midllama-lower-cpu",
      "Lower an llm module to a planned kern program for the CPU runtime "
      "(convert-llm-to-kern, kern-fuse, canonicalize, kern-plan-buffers)",
      buildLowerToCPUPipeline);
}
