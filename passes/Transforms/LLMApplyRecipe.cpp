//===- LLMApplyRecipe.cpp - Compress each weight as a recipe says ----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// A recipe (Recipe.h) is run as a pipeline of the method passes, one per rule in order:
// rule i's pass takes the weights its expression matches and no earlier rule's expression
// does (include = its match, exclude = the earlier matches), so the first matching rule
// decides. Consecutive GPTQ rules that differ only in bits, group size, symmetry and
// column order run as one GPTQ pass with per-weight `formats` (first match decides there
// too): one calibration, sequential over all their weights, instead of one per rule. Each
// pass writes a parameter file; the last writes `output` and the ones before it are
// removed. The same pipeline, with its options, reproduces the compile from midllama-opt
// alone; the progress prints it.
//
//===----------------------------------------------------------------------===//

#include "Recipe.h"
#include "WeightRewriter.h"
#include "midllama/Params/ParamFiles.h"
#include "runtime/support/InputFile.h"
#include "runtime/support/OutputFile.h"

#include "OptionChecks.h"

#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Params/ParamFiles.h"
#include "midllama/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <regex>

namespace midllama {
#define GEN_PASS_DEF_LLMAPPLYRECIPE
#include "midllama/Transforms/Passes.h.inc"
} // namespace midllama

using namespace mlir;
using namespace midllama;

namespace {

constexpr const char *kPass = "llm-apply-recipe";

/// A GPTQ rule's format options (bits, group size, symmetric, act-order) as a `formats`
/// value, and in `rest` its other options; empty when it lacks bits or group-size.
std::string gptqFormat(const RecipeRule &rule,
                              std::vector<std::pair<std::string, std::string>> &rest) {
  std::string bits, group;
  bool symmetric = false, act = false;
  rest.clear();
  for (const auto &[k, v] : rule.options) {
    if (k == "bits")
      bits = v;
    else if (k == "group-size")
      group = v;
    else if (k == "symmetric")
      symmetric = v == "true" || v == "1";
    else if (k == "act-order")
      act = v == "true" || v == "1";
    else
      rest.push_back({k, v});
  }
  if (rule.method != "gptq" || bits.empty() || group.empty() ||
      rule.match.find(';') != std::string::npos) // `formats` separates entries by ';'
    return "";
  llvm::sort(rest);
  return "w" + bits + "g" + group + (symmetric ? "-sym" : "") + (act ? "-act" : "");
}

/// The end of the run of rules from `i` that one GPTQ pass runs: i + 1, or past the
/// consecutive GPTQ rules with the same options apart from their formats.
size_t mergedGPTQEnd(const Recipe &r, size_t i, size_t last) {
  std::vector<std::pair<std::string, std::string>> first, rest;
  if (gptqFormat(r.rules[i], first).empty())
    return i + 1;
  size_t end = i + 1;
  while (end < last && !gptqFormat(r.rules[end], rest).empty() && rest == first)
    ++end;
  return end;
}

/// Rules [i, end) as one GPTQ rule: it matches any of them, `formats` gives each weight
/// the format of the first that matches it.
RecipeRule mergeGPTQRules(const Recipe &r, size_t i, size_t end) {
  RecipeRule merged;
  merged.method = "gptq";
  std::string formats;
  std::vector<std::pair<std::string, std::string>> rest;
  for (size_t j = i; j < end; ++j) {
    std::string format = gptqFormat(r.rules[j], rest);
    merged.match += (j == i ? "" : "|") + ("(?:" + r.rules[j].match + ")");
    formats += (j == i ? "" : ";") + r.rules[j].match + "=" + format;
  }
  merged.options = rest;
  merged.options.push_back({"formats", formats});
  return merged;
}

/// Every rule must take some weight: a rule naming a layer the model lacks is an error.
/// `excludes[i]`: the union of the rules before rule i (a weight goes to its first rule).
bool checkRules(ModuleOp module, const Recipe &r, const std::string &what,
                std::vector<std::string> &excludes, std::string &error) {
  std::vector<std::string> all;
  for (auto param : module.getOps<llm::ParamOp>())
    all.push_back(param.getSymName().str());
  std::string earlier;
  for (size_t i = 0; i < r.rules.size(); ++i) {
    const RecipeRule &rule = r.rules[i];
    std::regex include(rule.match, std::regex::ECMAScript);
    std::regex exclude(earlier.empty() ? "$^" : earlier, std::regex::ECMAScript);
    int64_t count = 0;
    if (rule.method == "keep") {
      for (const std::string &name : all)
        count += std::regex_search(name, include) && !std::regex_search(name, exclude);
    } else {
      std::vector<std::string> names;
      std::string ignored;
      if (selectWeights(module, kPass, rule.match, earlier, names, ignored))
        count = int64_t(names.size());
    }
    if (count == 0) {
      error = "recipe " + what + ", rule " + std::to_string(i + 1) + " (" + rule.method +
              ", match '" + rule.match + "'): no " +
              (rule.method == "keep" ? "parameter" : "linear weight") +
              " of the model matches it and no earlier rule (does the model have that "
              "layer?)";
      return false;
    }
    excludes.push_back(earlier);
    earlier += (earlier.empty() ? "" : "|") + ("(?:" + rule.match + ")");
  }
  return true;
}

/// Rule `i` as its pass, run on `module`, writing `out`.
bool runRule(ModuleOp module, const PipelineRunner &runPipeline, const RecipeRule &rule,
             size_t i, const std::string &what,
             const std::vector<std::pair<std::string, std::string>> &calibration,
             const std::string &exclude, const std::string &out, std::string &error) {
  std::string options;
  for (const auto &[k, v] : rule.options)
    options += k + "=" + v + " ";
  if (recipeMethodCalibrates(rule.method)) {
    bool haveData = false;
    for (const auto &[k, v] : calibration) {
      options += k + "=" + v + " ";
      haveData |= k == "calib";
    }
    if (!haveData) {
      error = "recipe " + what + ", rule " + std::to_string(i + 1) + " (" + rule.method +
              ") calibrates: give calib=FILE (or \"calibration\": {\"calib\": ...})";
      return false;
    }
  }
  options += "include=" + rule.match + " ";
  if (!exclude.empty())
    options += "exclude=" + exclude + " ";
  options += "output=" + out;
  std::string pipeline = recipeMethodPass(rule.method) + "{" + options + "}";
  llvm::errs() << kPass << ": rule " << i + 1 << ": --" << pipeline << "\n";
  OpPassManager pm(ModuleOp::getOperationName());
  std::string parseErrors;
  llvm::raw_string_ostream os(parseErrors);
  if (failed(parsePassPipeline(pipeline, pm, os))) {
    error = "recipe " + what + ", rule " + std::to_string(i + 1) + ": bad options: " +
            llvm::StringRef(parseErrors).trim().str();
    return false;
  }
  if (failed(runPipeline(pm))) {
    error = "recipe " + what + ", rule " + std::to_string(i + 1) + " (" + rule.method +
            ") failed (see the error above)";
    return false;
  }
  return true;
}

struct LLMApplyRecipePass
    : CheckedOptionsPass<LLMApplyRecipePass, midllama::impl::LLMApplyRecipeBase> {
  using CheckedOptionsPass::CheckedOptionsPass;

  std::string checkOptions() const {
    OptionChecker c(kPass);
    std::string names;
    for (const std::string &n : builtinRecipeNames())
      names += (names.empty() ? "" : ", ") + n;
    c.nonEmpty("recipe", recipe, "a recipe file, or one of " + names)
        .notGivenEmpty("calib", calib, given(calib), "calibration data")
        // 0 leaves the recipe's (or the methods') value.
        .atLeast("samples", int64_t(samples), 0)
        .require(seqLen == 0 || seqLen >= 2,
                 "seq-len must be 0 (the recipe's) or at least 2 (got " +
                     std::to_string(int64_t(seqLen)) + ")")
        .notGivenEmpty("tokenizer", tokenizer, given(tokenizer), "the tokenizer of text calibration data")
        .nonEmpty("output", output, "the parameter file to write");
    return c.message();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::string error;
    if (!run(module, error)) {
      // No operation attached: the diagnostic would print the whole module with it.
      mlir::emitError(module.getLoc()) << kPass << ": " << error;
      signalPassFailure();
    }
  }

  bool run(ModuleOp module, std::string &error) {
    if (recipe.empty()) {
      error = "recipe is required: a file, or one of";
      for (const std::string &n : builtinRecipeNames())
        error += " " + n;
      return false;
    }
    if (!checkPassOutput(module, output, error))
      return false;
    Recipe r;
    if (!loadRecipe(r, error))
      return false;
    auto runner = [&](OpPassManager &pm) { return runPipeline(pm, module); };
    return runRecipe(module, runner, r, "'" + recipe + "'", calibrationSettings(r), output,
                     error);
  }

  /// The recipe's text (built-in, or the file `recipe` names), parsed.
  bool loadRecipe(Recipe &r, std::string &error) {
    std::string text = builtinRecipe(recipe), what = "'" + recipe + "'";
    if (text.empty()) {
      bool exists = false;
      rt::describeNonRegular(recipe, exists);
      if (!exists) {
        error = "recipe '" + recipe + "' is neither a built-in recipe (";
        for (const std::string &n : builtinRecipeNames())
          error += (n == builtinRecipeNames().front() ? "" : ", ") + n;
        error += ") nor a readable file";
        return false;
      }
      if (!rt::readInputFile(recipe, "recipe", rt::kSmallJsonInputLimit, text, error))
        return false;
    }
    return parseRecipe(text, what, r, error);
  }

  /// Calibration settings: the recipe's, overridden by the pass options that are set.
  std::vector<std::pair<std::string, std::string>> calibrationSettings(const Recipe &r) const {
    std::vector<std::pair<std::string, std::string>> calibration = r.calibration;
    auto set = [&](const std::string &key, const std::string &value) {
      for (auto &[k, v] : calibration)
        if (k == key) {
          v = value;
          return;
        }
      calibration.push_back({key, value});
    };
    if (!calib.empty())
      set("calib", calib);
    if (samples > 0)
      set("samples", std::to_string(samples));
    if (seqLen > 0)
      set("seq-len", std::to_string(seqLen));
    if (seed.hasValue())
      set("seed", std::to_string(seed));
    if (!tokenizer.empty())
      set("tokenizer", tokenizer);
    return calibration;
  }
};

} // namespace

bool midllama::runRecipe(ModuleOp module, const PipelineRunner &runPipeline, const Recipe &r,
                         const std::string &what,
                       const std::vector<std::pair<std::string, std::string>> &calibration,
                       const std::string &output, std::string &error) {
  std::vector<std::string> excludes;
  if (!checkRules(module, r, what, excludes, error))
    return false;
  size_t last = r.rules.size();
  while (last > 0 && r.rules[last - 1].method == "keep")
    --last;
  if (last == 0) {
    error = "recipe " + what + " only keeps weights: nothing to do";
    return false;
  }
  llvm::SmallString<128> stem(output);
  llvm::sys::path::replace_extension(stem, "");
  std::vector<std::string> intermediates;
  for (size_t i = 0, next = 0; i < last; i = next) {
    next = mergedGPTQEnd(r, i, last);
    if (r.rules[i].method == "keep")
      continue;
    std::string out = next == last ? std::string(output)
                                   : std::string(stem) + ".step" + std::to_string(i + 1) +
                                         ".safetensors";
    RecipeRule rule = next > i + 1 ? mergeGPTQRules(r, i, next) : r.rules[i];
    if (!runRule(module, runPipeline, rule, i, what, calibration, excludes[i], out, error)) {
      for (const std::string &path : intermediates) // the steps before leave nothing behind
        rt::discardOutput(path);
      return false;
    }
    if (next != last)
      intermediates.push_back(resolveAgainstModule(module, out));
  }
  for (const std::string &path : intermediates)
    rt::discardOutput(path);
  return true;
}
