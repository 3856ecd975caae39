//===- Recipe.h - Per-layer compression recipes ------------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// A recipe says, weight by weight, which compression method and options to use: an ordered
// list of rules, each a regular expression over parameter names (Hugging Face's), a method
// and its options; the first rule whose expression matches a weight decides for it, and
// `keep` leaves it as it is. Calibration settings are shared by the calibrated methods.
// Recipes are JSON (docs/quantization.md); a few are built in by name.
//
//   {"name": "mixed",
//    "calibration": {"samples": 128, "seq-len": 256},
//    "rules": [{"match": "lm_head", "method": "keep"},
//              {"match": "^model\\.layers\\.0\\.mlp\\.down_proj\\.", "method": "rtn", "bits": 8},
//              {"match": "^model\\.layers\\.", "method": "gptq", "bits": 4, "group-size": 128}]}
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_PASSES_TRANSFORMS_RECIPE_H
#define MIDLLAMA_PASSES_TRANSFORMS_RECIPE_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace midllama {

struct RecipeRule {
  std::string match;  // ECMAScript regular expression over parameter names
  std::string method; // rtn, gptq, awq, nf4, int8, cast or keep
  std::vector<std::pair<std::string, std::string>> options; // the method pass's options
};

struct Recipe {
  std::string name;
  std::vector<std::pair<std::string, std::string>> calibration; // calib, samples, seq-len, ...
  std::vector<RecipeRule> rules;
};

/// Parses recipe JSON; `what` names it in errors. False with a one-line `error` on bad
/// JSON, a missing or bad key, an unknown method or an invalid regular expression.
bool parseRecipe(const std::string &text, const std::string &what, Recipe &recipe,
                 std::string &error);

/// The JSON of built-in recipe `name`, or empty.
std::string builtinRecipe(const std::string &name);
std::vector<std::string> builtinRecipeNames();

/// Runs a pipeline on the module from inside the running pass (Pass::runPipeline).
using PipelineRunner = std::function<mlir::LogicalResult(mlir::OpPassManager &)>;

/// Runs recipe `r` on `module` (--llm-apply-recipe's work; `what` names the recipe in
/// errors): every rule must take a weight; `calibration` goes to the calibrated methods;
/// the weights go to `output`, relative to the module. False with `error` on failure.
bool runRecipe(mlir::ModuleOp module, const PipelineRunner &runPipeline, const Recipe &r,
               const std::string &what,
               const std::vector<std::pair<std::string, std::string>> &calibration,
               const std::string &output, std::string &error);

/// The pass implementing `method` (empty for keep), and whether it calibrates.
std::string recipeMethodPass(const std::string &method);
bool recipeMethodCalibrates(const std::string &method);

} // namespace midllama

#endif // MIDLLAMA_PASSES_TRANSFORMS_RECIPE_H
