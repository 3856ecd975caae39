//===- midllama-compile.cpp - Compile llm IR into a runnable artifact -----===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// midllama-compile IN.mlir --target=cpu|sm_80|sm_86|sm_89|sm_90 -o MODEL.mlm [--tokenizer tok.bin] [--max-context N]
//
// Runs the registered `midllama-lower-cpu` pipeline (so `midllama-opt
// --midllama-lower-cpu` shows exactly what is compiled) and serializes the planned kern
// program, the weights its kernels read and the tokenizer into one mmap-able, checksummed
// file, written atomically (runtime/support/OutputFile.h: never over a device or an input). Without --tokenizer, a llama2.c tokenizer (tok512.bin or
// tokenizer.bin) beside the input IR or beside its parameter file is embedded.
//
//===----------------------------------------------------------------------===//

#include "midllama/InitAll.h"
#include "midllama/Support/FatalErrors.h"
#include "midllama/Support/InputGuard.h"
#include "midllama/Target/Artifact.h"
#include "midllama/Params/ParamFiles.h"
#include "midllama/Pipelines/Pipelines.h"
#include "midllama/Transforms/Passes.h"
#include "midllama/Dialect/LLM/IR/LLMDialect.h"
#include "runtime/support/InputFile.h"
#include "runtime/support/OutputFile.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

static cl::OptionCategory category("midllama-compile options");
static cl::opt<std::string> inputPath(cl::Positional, cl::desc("<input.mlir>"), cl::Required,
                                      cl::cat(category));
static cl::opt<std::string> outputPath("o", cl::desc("Output artifact (.mlm)"),
                                       cl::value_desc("file"), cl::Required, cl::cat(category));
static cl::opt<std::string> target("target",
                                   cl::desc("cpu, or a GPU: sm_80, sm_86, sm_89, sm_90 (the "
                                            "artifact embeds that GPU's kernels and runs "
                                            "on the CPU where no GPU is usable)"),
                                   cl::init("cpu"), cl::cat(category));
static cl::opt<std::string> tokenizer("tokenizer",
                                      cl::desc("Tokenizer to embed: tokenizer.json, "
                                               "tokenizer.model or llama2.c .bin (default: "
                                               "found beside the input, its parameter file "
                                               "or the imported model)"),
                                      cl::value_desc("file"), cl::cat(category));
static cl::opt<int64_t> maxContext("max-context",
                                   cl::desc("Context length the KV cache is sized for "
                                            "(default: the model's, else 2048)"),
                                   cl::init(0), cl::cat(category));
static cl::opt<bool> syntheticWeights(
    "synthetic-weights",
    cl::desc("Write the program and a manifest of the weight tensors, not their bytes (speed "
             "benchmarks of shapes whose weights are not at hand; run with midllama-run "
             "--synthetic-weights, which fills them with random values)"),
    cl::cat(category));
static cl::opt<bool> noMemoryCheck(
    "no-memory-check",
    cl::desc("Do not refuse a max context whose KV cache exceeds this machine's available "
             "memory (the artifact is for a larger machine)"),
    cl::cat(category));
static cl::opt<std::string>
    activations("activations",
                cl::desc("The runtime's default activations: fp32, int8, bf16 or int8+bf16 "
                         "(runs --llm-set-activations; default: what the IR says, else fp32)"),
                cl::value_desc("kind"), cl::cat(category));
static cl::opt<std::string>
    kvCache("kv-cache",
            cl::desc("The KV cache the CPU runtime keeps by default: f32 or f16 (runs "
                     "--llm-set-kv-cache; default: what the IR says, else f32)"),
            cl::value_desc("kind"), cl::cat(category));
static cl::opt<bool> noTokenizer("no-tokenizer", cl::desc("Embed no tokenizer"),
                                 cl::cat(category));

static cl::opt<int64_t> maxInputMB("max-input-mb",
                                   cl::desc("Raise the size limit of every file read whole "
                                            "(IR, tokenizer) to this many MiB"),
                                   cl::init(0), cl::cat(category));

static int fail(const Twine &message) {
  errs() << "midllama-compile: " << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  midllama::installFatalExceptionHandler("midllama-compile");
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, "midllama: compile llm IR into a runnable model\n");

  if (maxContext < 0 || maxContext > (int64_t(1) << 24))
    return fail("--max-context must be between 1 and 16777216");
  if (maxInputMB < 0)
    return fail("--max-input-mb must not be negative");
  if (activations.getNumOccurrences() &&
      !llvm::is_contained({"fp32", "int8", "bf16", "int8+bf16"}, StringRef(activations)))
    return fail("--activations must be fp32, int8, bf16 or int8+bf16, not '" + activations +
                "'");
  if (kvCache.getNumOccurrences() && !llvm::is_contained({"f32", "f16"}, StringRef(kvCache)))
    return fail("--kv-cache must be f32 or f16, not '" + kvCache + "'");
  midllama::rt::setInputLimitOverride(maxInputMB * midllama::rt::kMiB);

  // One run, one transaction (runtime/support/OutputFile.h): the artifact replaces its path
  // only when complete, and never replaces a file this run reads.
  midllama::rt::OutputTransaction transaction;
  std::string error;
  if (!midllama::rt::checkInputFile(inputPath, "input IR", midllama::rt::kIRInputLimit, error) ||
      !midllama::rt::checkOutputPath(outputPath, "-o", error, /*declare=*/true) ||
      (!tokenizer.empty() && !midllama::rt::checkInputFile(tokenizer, "tokenizer",
                                                           midllama::rt::kTokenizerInputLimit,
                                                           error)))
    return fail(error);

  if (std::string bad = midllama::checkMLIRInputFile(inputPath); !bad.empty())
    return fail(bad);

  mlir::DialectRegistry registry;
  midllama::registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  SourceMgr sources;
  auto module = mlir::parseSourceFile<mlir::ModuleOp>(inputPath, sources, &context);
  if (!module)
    return fail("cannot parse '" + inputPath + "'");

  midllama::ArtifactOptions options;
  options.target = target;
  options.maxContext = maxContext;
  options.syntheticWeights = syntheticWeights;
  options.checkMemory = !noMemoryCheck;
  if (!noTokenizer) {
    options.tokenizerPath = tokenizer;
    if (options.tokenizerPath.empty())
      options.tokenizerPath = midllama::findTokenizerFor(*module, inputPath);
    if (!options.tokenizerPath.empty())
      outs() << "midllama-compile: tokenizer " << options.tokenizerPath << "\n";
    if (options.tokenizerPath.empty())
      errs() << "midllama-compile: warning: no tokenizer found beside '" << inputPath
             << "'; the model will take token ids only (give --tokenizer)\n";
  }

  mlir::PassManager pm(&context);
  if (activations.getNumOccurrences())
    pm.addPass(midllama::createLLMSetActivations({activations}));
  if (kvCache.getNumOccurrences())
    pm.addPass(midllama::createLLMSetKVCache({kvCache}));
  midllama::buildLowerToCPUPipeline(pm);
  if (failed(pm.run(*module)))
    return fail("lowering '" + inputPath + "' failed (see the errors above)");
  if (!midllama::writeArtifact(*module, outputPath, options, error) ||
      !transaction.commit(error))
    return fail(error);
  return 0;
}
