//===- Calibrator.cpp - Layer-by-layer calibration of an llm module -------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Calibrate/Calibrator.h"
#include "runtime/support/OutputFile.h"

#include "midllama/Calibrate/CalibrationData.h"
#include "midllama/Calibrate/LayerRunner.h"
#include "runtime/cpu/Session.h"
#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Target/Artifact.h"
#include "runtime/Model.h"
#include "runtime/support/Memory.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <climits>
#include <set>

using namespace mlir;
using namespace midllama;
using namespace midllama::calib;

namespace {

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Adds the pass or pipeline registered as `name` to `pm`. Calibration names what it runs
/// instead of including the passes' headers, so lib/ depends on no pass library; the tool
/// (midllama::registerAllPasses) registers them.
LogicalResult addRegisteredPipeline(PassManager &pm, llvm::StringRef name, std::string &error) {
  std::string diagnostics;
  llvm::raw_string_ostream os(diagnostics);
  if (succeeded(parsePassPipeline(name, pm, os)))
    return success();
  error = "cannot run '" + name.str() + "' on the model to calibrate: it is not registered "
          "(midllama::registerAllPasses registers it): " + llvm::StringRef(diagnostics).trim().str();
  return failure();
}

} // namespace

std::unique_ptr<rt::Model> calib::compileForCalibration(ModuleOp module,
                                                        const std::string &tokenizer,
                                                        std::vector<int64_t> &layerOfWeight,
                                                        std::string &error) {
  llvm::StringMap<int64_t> layerOf;
  OwningOpRef<ModuleOp> copy(cast<ModuleOp>(module->clone()));
  bool outlined = false;
  copy->walk([&](llm::DecoderLayerOp) { outlined = true; });
  if (!outlined) {
    PassManager pm(module.getContext());
    if (failed(addRegisteredPipeline(pm, "llm-outline-decoder-layers", error)))
      return nullptr;
    if (failed(pm.run(*copy))) {
      error = "cannot find the decoder layers of the module (see the errors above)";
      return nullptr;
    }
  }
  copy->walk([&](llm::DecoderLayerOp layer) {
    layer.walk([&](llm::WeightOp read) { layerOf[read.getName()] = int64_t(layer.getIndex()); });
  });
  PassManager pm(module.getContext());
  if (failed(addRegisteredPipeline(pm, "midllama-lower-cpu", error)))
    return nullptr;
  if (failed(pm.run(*copy))) {
    error = "cannot compile the module for the CPU runtime (see the errors above)";
    return nullptr;
  }
  llvm::SmallString<128> path;
  if (llvm::sys::fs::createTemporaryFile("midllama-calibration", "mlm", path)) {
    error = "cannot create a temporary file for the compiled model";
    return nullptr;
  }
  ArtifactOptions options;
  options.tokenizerPath = tokenizer;
  bool written = writeArtifact(*copy, std::string(path), options, error);
  // Streamed: the layers read their weights one after the other (LayerRunner::releaseLayer).
  std::unique_ptr<rt::Model> model =
      written ? rt::Model::load(std::string(path), error, /*syntheticWeights=*/false,
                                /*streamWeights=*/true)
              : nullptr;
  // A scratch file: its copy staged in the run's transaction goes too. The mapping stays.
  rt::discardOutput(std::string(path));
  llvm::sys::fs::remove(path);
  if (!model)
    return nullptr;
  const rt::Program &prog = model->program();
  layerOfWeight.assign(prog.weights.size(), -1);
  for (size_t i = 0; i < prog.weights.size(); ++i)
    if (auto it = layerOf.find(prog.weights[i].name); it != layerOf.end())
      layerOfWeight[i] = it->second;
  return model;
}

bool calib::openCalibration(ModuleOp module, const CalibrationOptions &options,
                            const std::string &passName, CalibrationContext &context,
                            std::string &error) {
  auto fail = [&](const std::string &why) {
    error = passName + ": " + why;
    return false;
  };
  if (options.data.empty())
    return fail("calibration data is required (calib=FILE: text, or a .tokens file)");
  if (options.samples < 1)
    return fail("samples must be at least 1 (got " + std::to_string(options.samples) + ")");
  if (options.length < 2)
    return fail("seq-len must be at least 2 (got " + std::to_string(options.length) + ")");

  std::string tokenizerPath = options.tokenizer;
  if (tokenizerPath.empty())
    tokenizerPath = findTokenizerFor(module, "");
  std::vector<int64_t> layerOfWeight;
  std::string why;
  context.model = compileForCalibration(module, tokenizerPath, layerOfWeight, why);
  if (!context.model)
    return fail(why);
  rt::Model &model = *context.model;
  if (options.length > model.maxContext())
    return fail("seq-len " + std::to_string(options.length) + " exceeds the model's context of " +
                std::to_string(model.maxContext()) + " tokens");
  // The memory the windows will take, checked before any is drawn: every window's token ids
  // and its residual stream (kept between layers for all windows), plus the session that
  // runs `batch` windows at a time. An option like samples=1000000000 is refused here with
  // the number instead of ending in an out-of-memory kill.
  {
    int64_t hidden = model.program().configInt("hidden_size", 0);
    int64_t tokens = rt::saturatingMul(options.samples, options.length);
    int64_t need = rt::saturatingMul(tokens, rt::saturatingMul(4, 1 + std::max<int64_t>(1, hidden)));
    int64_t session = rt::Session::plannedBytes(model, options.length, options.length, options.batch);
    need = session > INT64_MAX - need ? INT64_MAX : need + session;
    int64_t available = rt::availableMemoryBytes();
    // Without a figure from the system, a cap no calibration of ours comes near.
    int64_t limit = available >= 0 ? available : int64_t(1) << 40;
    if (need > limit)
      return fail("calibration needs " + rt::formatMemory(need) + " (samples=" +
                  std::to_string(options.samples) + " windows x seq-len=" +
                  std::to_string(options.length) + " tokens, each kept with its " +
                  std::to_string(hidden) + "-wide residual stream between layers, and a batch "
                  "of " + std::to_string(options.batch) + " windows in flight), but " +
                  (available >= 0 ? rt::formatMemory(available) + " are available"
                                  : std::string("the limit is 1024 GiB")) +
                  "; use fewer samples, a shorter seq-len or a smaller calib-batch");
  }
  std::unique_ptr<rt::Tokenizer> tokenizer;
  if (model.tokenizerSize() > 0) {
    tokenizer = rt::Tokenizer::fromBytes(
        std::string_view(reinterpret_cast<const char *>(model.tokenizerData()),
                         size_t(model.tokenizerSize())),
        tokenizerPath, why);
    if (!tokenizer)
      return fail(why);
  }
  std::vector<std::vector<int32_t>> samples;
  if (!sampleCalibrationTokens(options.data, tokenizer.get(), model.vocabSize(),
                               options.samples, options.length, options.seed, samples, why))
    return fail(why);
  context.runner =
      LayerRunner::create(model, std::move(samples), layerOfWeight, options.batch, why);
  if (!context.runner)
    return fail(why);
  llvm::errs() << passName << ": calibrating on " << options.samples << " x " << options.length
               << " tokens of " << options.data << " (seed " << options.seed << "), "
               << context.runner->numSegments() - 1 << " layers\n";
  return true;
}

bool calib::calibrateLayerwise(ModuleOp module, const CalibrationOptions &options,
                               const std::vector<std::string> &selected, bool trueSequential,
                               const std::string &passName, const GroupCompressor &compress,
                               std::string &error) {
  auto fail = [&](const std::string &why) {
    error = passName + ": " + why;
    return false;
  };
  auto start = std::chrono::steady_clock::now();
  CalibrationContext context;
  if (!openCalibration(module, options, passName, context, error))
    return false;
  rt::Model *model = context.model.get();
  LayerRunner *runner = context.runner.get();
  const rt::Program &prog = model->program();
  std::set<int64_t> wanted;
  for (const std::string &name : selected) {
    int64_t index = model->weightIndex(name);
    if (index < 0)
      return fail("weight '" + name + "' is not in the compiled model");
    wanted.insert(index);
  }
  std::set<int64_t> done;
  // Until every selected weight is done: the layers after the last one need not run.
  for (int64_t s = 0; s < runner->numSegments() && done.size() < wanted.size(); ++s) {
    auto layerStart = std::chrono::steady_clock::now();
    const std::vector<std::vector<int64_t>> &groups = runner->inputGroups(s);
    std::vector<int64_t> todo; // groups with selected weights
    for (size_t g = 0; g < groups.size(); ++g)
      for (int64_t w : groups[g])
        if (wanted.count(w) && !done.count(w)) {
          todo.push_back(int64_t(g));
          break;
        }
    if (todo.empty()) {
      if (s + 1 < runner->numSegments())
        runner->advance(s);
      continue;
    }
    std::vector<int64_t> replacedHere; // weights of this layer replaced by compressed ones
    // Observes `batch` of groups in one pass over the samples, then compresses each.
    auto handle = [&](const std::vector<int64_t> &batch) -> bool {
      std::vector<std::unique_ptr<InputStats>> stats(groups.size());
      for (int64_t g : batch)
        stats[size_t(g)] = std::make_unique<InputStats>(prog.weights[size_t(groups[size_t(g)][0])].shape[1],
                                                        options.hessian);
      runner->observe(
          s,
          [&](int64_t g, const float *x, int64_t rows) {
            if (stats[size_t(g)])
              stats[size_t(g)]->add(x, rows);
          },
          batch.back());
      for (int64_t g : batch) {
        std::vector<std::string> names;
        std::vector<int64_t> indices;
        for (int64_t w : groups[size_t(g)])
          if (wanted.count(w) && !done.count(w)) {
            names.push_back(prog.weights[size_t(w)].name);
            indices.push_back(w);
          }
        std::vector<std::vector<float>> compressed;
        std::string methodError;
        if (!compress(names, *stats[size_t(g)], compressed, methodError)) {
          error = passName + ": " + methodError;
          return false;
        }
        if (compressed.size() != indices.size()) {
          error = passName + ": the method returned " + std::to_string(compressed.size()) +
                  " weights for " + std::to_string(indices.size());
          return false;
        }
        for (size_t i = 0; i < indices.size(); ++i) {
          const std::vector<int64_t> &shape = prog.weights[size_t(indices[i])].shape;
          if (int64_t(compressed[i].size()) != shape[0] * shape[1] ||
              !model->replaceWeight(indices[i], compressed[i].data(), shape[0], shape[1])) {
            error = passName + ": the method returned a weight of the wrong size for '" +
                    names[i] + "'";
            return false;
          }
          done.insert(indices[i]);
          replacedHere.push_back(indices[i]);
        }
      }
      return true;
    };
    if (trueSequential) {
      for (int64_t g : todo)
        if (!handle({g}))
          return false;
    } else if (!handle(todo)) {
      return false;
    }
    if (s + 1 < runner->numSegments())
      runner->advance(s);
    // The layer has fed the next one and will not run again: its replacements can go, so
    // memory holds one layer's compressed weights at a time.
    for (int64_t w : replacedHere)
      model->releaseReplacement(w);
    std::string what = s + 1 < runner->numSegments() ? "layer " + std::to_string(s) : "head";
    llvm::errs() << passName << ": " << what << ": " << todo.size() << " input group"
                 << (todo.size() == 1 ? "" : "s") << " calibrated in "
                 << llvm::format("%.2f", secondsSince(layerStart)) << " s\n";
  }
  if (done.size() != wanted.size())
    return fail("some selected weights are not read by any linear layer of the compiled model");
  llvm::errs() << passName << ": calibration done in "
               << llvm::format("%.2f", secondsSince(start)) << " s\n";
  return true;
}
