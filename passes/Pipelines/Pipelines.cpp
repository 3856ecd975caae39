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

/// `midllama-search-recipe`: the options of --llm-search-recipe a user sets; the others
/// keep the pass's defaults (only options written in the pipeline's text are passed on).
struct SearchPipelineOptions : public PassPipelineOptions<SearchPipelineOptions> {
  Option<std::string> budget{*this, "budget", llvm::cl::desc("The model's weight bytes at "
                                                             "most (60MB, 4.25bpp; required)")};
  Option<std::string> candidates{*this, "candidates",
                                 llvm::cl::desc("Comma-separated candidates (the pass's)")};
  Option<std::string> calib{*this, "calib", llvm::cl::desc("Calibration data (required)")};
  Option<int64_t> samples{*this, "samples", llvm::cl::desc("Calibration windows")};
  Option<int64_t> seqLen{*this, "seq-len", llvm::cl::desc("Tokens per calibration window")};
  Option<uint64_t> seed{*this, "seed", llvm::cl::desc("Seed of the window sampling")};
  Option<std::string> tokenizer{*this, "tokenizer",
                                llvm::cl::desc("Tokenizer for text calibration data")};
  Option<std::string> weighting{*this, "weighting",
                                llvm::cl::desc("A candidate's cost: fisher or output")};
  Option<int64_t> fisherSamples{*this, "fisher-samples",
                                llvm::cl::desc("Calibration windows of the Fisher")};
  Option<int64_t> kvTokens{*this, "kv-tokens",
                           llvm::cl::desc("Tokens of KV cache the budget must hold too")};
  Option<std::string> measurements{*this, "measurements",
                                   llvm::cl::desc("An earlier search's report to solve from")};
  Option<std::string> report{*this, "report", llvm::cl::desc("JSON of the choice per weight")};
  Option<std::string> output{*this, "output", llvm::cl::desc("Recipe JSON to write (required)")};
  Option<std::string> outputParams{*this, "output-params",
                                   llvm::cl::desc("Parameter file of the compressed weights "
                                                  "(required)")};
};

/// The search pass with the options the pipeline's text set, applying its recipe.
std::unique_ptr<Pass> searchRecipePass(const SearchPipelineOptions &o) {
  midllama::LLMSearchRecipeOptions s;
  auto pass = [](const auto &from, auto &to) {
    if (from.hasValue())
      to = from;
  };
  pass(o.budget, s.budget);
  pass(o.candidates, s.candidates);
  pass(o.calib, s.calib);
  pass(o.samples, s.samples);
  pass(o.seqLen, s.seqLen);
  pass(o.seed, s.seed);
  pass(o.tokenizer, s.tokenizer);
  pass(o.weighting, s.weighting);
  pass(o.fisherSamples, s.fisherSamples);
  pass(o.kvTokens, s.kvTokens);
  pass(o.measurements, s.measurements);
  pass(o.report, s.report);
  pass(o.output, s.output);
  s.apply = true;
  s.outputParams = o.outputParams;
  return midllama::createLLMSearchRecipe(s);
}

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
  PassPipelineRegistration<SearchPipelineOptions>(
      "midllama-search-recipe",
      "Search the recipe that fits a memory budget with the least measured error and apply "
      "it (llm-search-recipe with apply=true, then llm-verify-params)",
      [](OpPassManager &pm, const SearchPipelineOptions &o) {
        pm.addPass(searchRecipePass(o));
        pm.addPass(createLLMVerifyParams());
      });
  PassPipelineRegistration<>(
      "midllama-lower-cpu",
      "Lower an llm module to a planned kern program for the CPU runtime "
      "(convert-llm-to-kern, kern-fuse, canonicalize, kern-plan-buffers)",
      buildLowerToCPUPipeline);
}
