//===- LLMSearchRecipe.cpp - A recipe that fits a memory budget -----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Measures every candidate of every selected weight during one layer-by-layer
// calibration (lib/Calibrate: the Hessian XᵀX of each linear layer's input), weighs its
// output error by the outputs' diagonal Fisher (lib/Calibrate's backward pass), counts its
// bytes from the type it would give the weight, solves the allocation (lib/Search) and
// writes the recipe --llm-apply-recipe reads. Issue 19; docs/quantization.md.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Calibrated/CalibratedPass.h"
#include "passes/Transforms/Calibrated/SearchCandidates.h"
#include "passes/Transforms/OptionChecks.h"
#include "passes/Transforms/Recipe.h"
#include "passes/Transforms/WeightRewriter.h"

#include "midllama/Calibrate/Calibrator.h"
#include "midllama/Calibrate/GradientNorms.h"
#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Dialect/LLM/IR/WeightLayout.h"
#include "midllama/Params/ParamFiles.h"
#include "midllama/Search/Budget.h"
#include "midllama/Search/Knapsack.h"
#include "midllama/Transforms/Passes.h"
#include "runtime/support/InputFile.h"
#include "runtime/support/OutputFile.h"

#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

namespace midllama {
#define GEN_PASS_DEF_LLMSEARCHRECIPE
#include "midllama/Transforms/Passes.h.inc"
} // namespace midllama

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;

namespace {

constexpr const char *kPass = "llm-search-recipe";

/// One searched weight: its candidates' bytes, measured output errors and costs (the
/// errors as `weighting` weighs them).
struct Measured {
  std::string name;
  std::vector<int64_t> bytes;
  std::vector<double> outputError, cost;
};

/// `name` with the regular expression metacharacters escaped.
std::string escaped(const std::string &name) {
  std::string re;
  for (char c : name) {
    if (std::strchr(".^$|()[]{}*+?\\", c))
      re += '\\';
    re += c;
  }
  return re;
}

struct LLMSearchRecipePass
    : CalibratedPass<LLMSearchRecipePass, midllama::impl::LLMSearchRecipeBase> {
  using CalibratedPass::CalibratedPass;

  std::string checkOptions() const {
    OptionChecker c(kPass);
    search::Budget b;
    std::vector<SearchCandidate> cs;
    std::string budgetError, candidatesError;
    bool budgetOk = budget.empty() || search::parseBudget(budget, b, budgetError);
    bool candidatesOk = parseSearchCandidates(candidates, cs, candidatesError);
    c.nonEmpty("budget", budget, "a size (60MB) or a width (4.25bpp)")
        .require(budgetOk, budgetError)
        .require(candidatesOk, "candidates: " + candidatesError)
        .atLeast("units", int64_t(units), 16)
        .require(units <= (int64_t(1) << 24), "units must be at most 16777216")
        .nonEmpty("output", output, "the recipe JSON to write")
        .oneOf("weighting", weighting, {"fisher", "output"})
        .oneOf("bytes", bytesCounted, {"stored", "mapped"})
        .atLeast("fisher-samples", int64_t(fisherSamples), 0)
        .inRange("kv-tokens", int64_t(kvTokens), 0, int64_t(1) << 32)
        .require(!apply || !outputParams.empty(),
                 "apply=true needs output-params (the parameter file of the compressed "
                 "weights)")
        .require(apply || outputParams.empty(),
                 "output-params is written only with apply=true");
    if (measurements.empty())
      checkCalibration(c);
    return c.message();
  }

  /// Every candidate of every weight in `names` (one input's readers), measured.
  bool measure(const std::vector<std::string> &names, const calib::InputStats &stats,
               const std::vector<SearchCandidate> &cs, std::vector<Measured> &measured,
               std::vector<std::vector<float>> &passOn, std::string &why) {
    ModuleOp module = getOperation();
    std::vector<float> h = stats.hessian();
    // The Hessian prepared once per column order the GPTQ candidates use.
    quant::GPTQHessian prepared[2];
    for (bool act : {false, true})
      if (llvm::any_of(cs, [&](const SearchCandidate &c) {
            return c.method == "gptq" && c.actOrder == act;
          }) &&
          !quant::prepareGPTQHessian(h.data(), stats.k, kSearchGPTQDamp, act, prepared[act],
                                     why))
        return false;
    for (const std::string &name : names) {
      std::vector<float> w, q;
      if (!readWeightF32(module, name, w, why))
        return false;
      auto param = SymbolTable::lookupNearestSymbolFrom<ParamOp>(
          module, StringAttr::get(module.getContext(), name));
      Measured m{name, {}, {}, {}};
      int64_t n = int64_t(w.size()) / stats.k;
      const std::vector<double> *f = nullptr;
      if (weighting == "fisher") {
        auto it = fisher.find(name);
        if (it == fisher.end() || int64_t(it->second.size()) != n) {
          why = "weight '" + name + "': the backward pass gives no Fisher for it (only "
                "decoder projections; use weighting=output)";
          return false;
        }
        f = &it->second;
      }
      for (const SearchCandidate &c : cs) {
        if (!candidateValues(c, w, n, stats.k, &prepared[c.actOrder], q, why)) {
          why = "weight '" + name + "', candidate " + c.name + ": " + why;
          return false;
        }
        m.bytes.push_back(countedBytes(candidateType(c, param.getWeightType())));
        std::vector<double> rows =
            c.method == "keep"
                ? std::vector<double>(size_t(n), 0.0)
                : quant::layerOutputErrorPerRow(w.data(), q.data(), n, stats.k, h.data());
        double error = 0, cost = 0;
        for (int64_t i = 0; i < n; ++i) {
          error += rows[size_t(i)];
          cost += f ? 0.5 * (*f)[size_t(i)] * rows[size_t(i)] : rows[size_t(i)];
        }
        m.outputError.push_back(error);
        m.cost.push_back(cost);
      }
      measured.push_back(std::move(m));
      // The next layers are measured on the uncompressed model's activations.
      passOn.push_back(std::move(w));
    }
    return true;
  }

  /// The calibration the errors come from: the options', or the measurements' report's.
  llvm::json::Value calibrationUsed = nullptr;
  /// The KV cache the budget holds besides the weights (kv-tokens), in bytes.
  int64_t kvBytes = 0;
  /// The calibration windows of the Fisher (null: not weighted; from the report with
  /// measurements=).
  llvm::json::Value fisherUsed = nullptr;
  /// weighting=fisher: each searched weight's output Fisher, by name.
  std::map<std::string, std::vector<double>> fisher;

  /// Every candidate of every selected weight measured in one calibration, in `selected`'s
  /// order.
  bool measureAll(const std::vector<std::string> &selected,
                  const std::vector<SearchCandidate> &cs, std::vector<Measured> &measured,
                  std::string &error) {
    double loss = 0;
    calib::CalibrationOptions fisherOptions = calibrationOptions(/*hessian=*/false);
    if (fisherSamples > 0)
      fisherOptions.samples = fisherSamples;
    if (weighting == "fisher" &&
        !calib::computeOutputFisher(getOperation(), fisherOptions, fisher, loss, error))
      return false;
    auto compress = [&](const std::vector<std::string> &names, const calib::InputStats &stats,
                        std::vector<std::vector<float>> &passOn, std::string &why) {
      return measure(names, stats, cs, measured, passOn, why);
    };
    if (!calib::calibrateLayerwise(getOperation(), calibrationOptions(/*hessian=*/true),
                                   selected, /*trueSequential=*/false, kPass, compress, error))
      return false;
    std::map<std::string, size_t> order;
    for (size_t i = 0; i < selected.size(); ++i)
      order[selected[i]] = i;
    llvm::sort(measured, [&](const Measured &a, const Measured &b) {
      return order[a.name] < order[b.name];
    });
    return true;
  }

  /// The errors of an earlier search's report (`measurements=`), to solve other budgets
  /// without calibrating again; the bytes are recounted from the types.
  bool loadMeasurements(const std::vector<std::string> &selected,
                        const std::vector<SearchCandidate> &cs,
                        std::vector<Measured> &measured, std::string &error) {
    std::string path = resolveAgainstModule(getOperation(), measurements), text;
    auto fail = [&](const std::string &why) {
      error = std::string(kPass) + ": measurements '" + path + "': " + why;
      return false;
    };
    if (!rt::readInputFile(path, "measurements", rt::kTextInputLimit, text, error))
      return fail(error);
    llvm::Expected<llvm::json::Value> root = llvm::json::parse(text);
    if (!root)
      return fail(llvm::toString(root.takeError()));
    const llvm::json::Array *weights =
        root->getAsObject() ? root->getAsObject()->getArray("weights") : nullptr;
    const llvm::json::Object *calibration =
        root->getAsObject() ? root->getAsObject()->getObject("calibration") : nullptr;
    if (!weights || !calibration)
      return fail("not a --llm-search-recipe report (no \"weights\" and \"calibration\")");
    std::optional<llvm::StringRef> measuredWeighting = root->getAsObject()->getString("weighting");
    if (!measuredWeighting || *measuredWeighting != weighting)
      return fail("its costs are weighted '" +
                  (measuredWeighting ? measuredWeighting->str() : std::string("output")) +
                  "', not '" + std::string(weighting) + "' (set weighting= to match, or "
                  "search again without measurements=)");
    calibrationUsed = llvm::json::Value(llvm::json::Object(*calibration)); // the errors' data
    if (const llvm::json::Value *f = root->getAsObject()->get("fisher_samples"))
      fisherUsed = *f;
    std::map<std::string, const llvm::json::Object *> byName;
    for (const llvm::json::Value &w : *weights)
      if (const llvm::json::Object *o = w.getAsObject())
        if (std::optional<llvm::StringRef> name = o->getString("name"))
          byName[name->str()] = o;
    ModuleOp module = getOperation();
    for (const std::string &name : selected) {
      auto it = byName.find(name);
      const llvm::json::Object *candidates =
          it == byName.end() ? nullptr : it->second->getObject("candidates");
      if (!candidates)
        return fail("no measurement of weight '" + name + "'");
      auto param = SymbolTable::lookupNearestSymbolFrom<ParamOp>(
          module, StringAttr::get(module.getContext(), name));
      Measured m{name, {}, {}, {}};
      for (const SearchCandidate &c : cs) {
        const llvm::json::Object *e = candidates->getObject(c.name);
        std::optional<double> cost = e ? e->getNumber("cost") : std::nullopt;
        std::optional<double> err = e ? e->getNumber("output_error") : std::nullopt;
        if (!cost || !err)
          return fail("no measurement of candidate " + c.name + " for weight '" + name +
                      "' (search again without measurements=)");
        m.bytes.push_back(countedBytes(candidateType(c, param.getWeightType())));
        m.outputError.push_back(*err);
        m.cost.push_back(*cost);
      }
      measured.push_back(std::move(m));
    }
    return true;
  }

  std::string recipeJSON(const std::vector<SearchCandidate> &cs,
                         const std::vector<Measured> &measured,
                         const search::KnapsackSolution &s, int64_t budgetBytes,
                         int64_t totalBytes) const {
    // One rule per chosen candidate, matching exactly its weights. The matches are
    // disjoint; the GPTQ rules come last and together, so that --llm-apply-recipe runs them
    // in one calibration, on the other rules' compressed weights.
    std::vector<size_t> order;
    for (bool gptq : {false, true})
      for (size_t c = 0; c < cs.size(); ++c)
        if ((cs[c].method == "gptq") == gptq)
          order.push_back(c);
    llvm::json::Array rules;
    for (size_t c : order) {
      std::string names;
      for (size_t i = 0; i < measured.size(); ++i)
        if (size_t(s.choice[i]) == c)
          names += (names.empty() ? "" : "|") + escaped(measured[i].name);
      if (names.empty())
        continue;
      llvm::json::Object rule{{"match", "^(?:" + names + ")$"}, {"method", cs[c].method}};
      for (const auto &[key, value] : cs[c].recipeOptions())
        rule[key] = value;
      rules.push_back(std::move(rule));
    }
    llvm::json::Object root{
        {"name", "searched"},
        {"description",
         llvm::formatv("--llm-search-recipe budget={0} ({1} bytes): weights {2} bytes, "
                       "{3} {4}",
                       budget, budgetBytes, totalBytes, costName(),
                       llvm::format("%.6g", s.cost))
             .str()},
        {"calibration", calibrationUsed},
        {"rules", std::move(rules)}};
    return llvm::formatv("{0:2}", llvm::json::Value(std::move(root))).str() + "\n";
  }

  std::string reportJSON(const std::vector<SearchCandidate> &cs,
                         const std::vector<Measured> &measured,
                         const search::KnapsackSolution &s, int64_t budgetBytes,
                         int64_t fixedBytes) const {
    llvm::json::Array weights;
    for (size_t i = 0; i < measured.size(); ++i) {
      llvm::json::Object candidates;
      for (size_t c = 0; c < cs.size(); ++c)
        candidates[cs[c].name] = llvm::json::Object{{"bytes", measured[i].bytes[c]},
                                                    {"output_error", measured[i].outputError[c]},
                                                    {"cost", measured[i].cost[c]}};
      weights.push_back(llvm::json::Object{{"name", measured[i].name},
                                           {"choice", cs[size_t(s.choice[i])].name},
                                           {"candidates", std::move(candidates)}});
    }
    llvm::json::Object root{{"calibration", calibrationUsed},
                            {"weighting", std::string(weighting)},
                            {"fisher_samples", fisherUsed},
                            {"cost", costName()},
                            {"budget_bytes", budgetBytes},
                            {"bytes_counted", std::string(bytesCounted)},
                            {"weight_bytes", fixedBytes - kvBytes + s.bytes},
                            {"unsearched_bytes", fixedBytes - kvBytes},
                            {"kv_cache_bytes", kvBytes},
                            {"total_cost", s.cost},
                            {"unit_bytes", s.unit},
                            {"slack_bytes", s.slackBytes},
                            {"weights", std::move(weights)}};
    return llvm::formatv("{0:2}", llvm::json::Value(std::move(root))).str() + "\n";
  }

  void printTable(const std::vector<SearchCandidate> &cs, const std::vector<Measured> &measured,
                  const search::KnapsackSolution &s, int64_t budgetBytes,
                  int64_t fixedBytes) const {
    llvm::raw_ostream &os = llvm::errs();
    os << kPass << ": the choice per weight (bytes, layer output error, " << costName()
       << ")\n";
    for (size_t i = 0; i < measured.size(); ++i) {
      size_t c = size_t(s.choice[i]);
      os << "  " << llvm::left_justify(measured[i].name, 44) << " "
         << llvm::left_justify(cs[c].name, 14) << llvm::right_justify(
                                                         std::to_string(measured[i].bytes[c]), 11)
         << "  " << llvm::format("%-12.6g", measured[i].outputError[c]) << " "
         << llvm::format("%.6g", measured[i].cost[c]) << "\n";
    }
    os << kPass << ": weights " << fixedBytes - kvBytes + s.bytes << " bytes "
       << (bytesCounted == "mapped" ? "mapped" : "stored") << " ("
       << fixedBytes - kvBytes << " not searched)";
    if (kvBytes)
      os << " + KV cache " << kvBytes << " bytes (" << kvTokens << " tokens)";
    os << " of a budget of " << budgetBytes << "; " << costName() << " "
       << llvm::format("%.6g", s.cost);
    if (s.slackBytes)
      os << "; sizes rounded up to units of " << s.unit << " bytes: optimal for any budget up to "
         << budgetBytes - s.slackBytes;
    else
      os << "; exact optimum";
    os << "\n";
  }

  /// A weight's bytes as the budget counts them: as the artifact stores its tensors, or
  /// (bytes=mapped) each tensor padded to the parameter alignment, as the runtime maps them.
  int64_t countedBytes(WeightType type) const {
    WeightLayout layout = getWeightLayout(type);
    return bytesCounted == "mapped" ? layout.getAlignedNumBytes() : layout.getNumBytes();
  }

  /// What a candidate's cost is, in words.
  std::string costName() const {
    return weighting == "fisher" ? "estimated loss increase (nats/token)"
                                 : "summed layer output error";
  }

  bool write(const std::string &path, const std::string &what, const std::string &text) {
    std::string error;
    if (rt::writeOutputFile(resolveAgainstModule(getOperation(), path), what, text, error))
      return true;
    failPass(std::string(kPass) + ": " + error);
    return false;
  }

  /// The budget in bytes, and what it holds besides the searched weights: every other
  /// weight as stored, and (kv-tokens) the KV cache, whose size goes to `kvBytes`.
  bool fixedCosts(const std::vector<std::string> &selected, const search::Budget &b,
                  int64_t &budgetBytes, int64_t &fixedBytes, std::string &error) {
    std::set<std::string> searched(selected.begin(), selected.end());
    int64_t parameters = 0;
    fixedBytes = 0;
    for (ParamOp p : getOperation().getOps<ParamOp>()) {
      parameters += p.getWeightType().getNumElements();
      if (!searched.count(p.getSymName().str()))
        fixedBytes += countedBytes(p.getWeightType());
    }
    budgetBytes = b.bytes(parameters);
    // The KV cache: K and V rows of each layer's k projection width, fp32, per token.
    int64_t kvWidths = 0;
    for (ParamOp p : getOperation().getOps<ParamOp>())
      if (p.getSymName().ends_with(".self_attn.k_proj.weight"))
        kvWidths += p.getWeightType().getShape()[0];
    if (kvTokens > 0 && kvWidths == 0) {
      error = std::string(kPass) + ": kv-tokens: the model has no weights named "
              "'*.self_attn.k_proj.weight' to size the KV cache from (run --llm-name-weights)";
      return false;
    }
    kvBytes = 2 * int64_t(kvTokens) * kvWidths * int64_t(sizeof(float));
    fixedBytes += kvBytes;
    return true;
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::vector<SearchCandidate> cs;
    search::Budget b;
    std::string error;
    (void)parseSearchCandidates(candidates, cs, error); // checked with the options
    (void)search::parseBudget(budget, b, error);
    if (!checkPassOutput(module, output, error) ||
        (!report.empty() && !checkPassOutput(module, report, error)) ||
        (apply && !checkPassOutput(module, outputParams, error)))
      return failPass(std::string(kPass) + ": " + error);
    std::vector<std::string> selected;
    Operation *culprit = nullptr;
    if (!selectWeights(module, kPass, include, exclude, selected, error, false, &culprit)) {
      emitError(culprit ? culprit->getLoc() : module.getLoc()) << error;
      return signalPassFailure();
    }
    int64_t budgetBytes = 0, fixedBytes = 0;
    if (!fixedCosts(selected, b, budgetBytes, fixedBytes, error))
      return failPass(error);

    calibrationUsed = llvm::json::Object{{"calib", calib},
                                         {"samples", int64_t(samples)},
                                         {"seq-len", int64_t(seqLen)},
                                         {"seed", int64_t(seed)}};
    fisherUsed = weighting == "fisher"
                     ? llvm::json::Value(fisherSamples > 0 ? int64_t(fisherSamples)
                                                           : int64_t(samples))
                     : llvm::json::Value(nullptr);
    std::vector<Measured> measured;
    if (!(measurements.empty() ? measureAll(selected, cs, measured, error)
                               : loadMeasurements(selected, cs, measured, error)))
      return failPass(error);

    std::vector<search::KnapsackItem> items;
    for (const Measured &m : measured)
      items.push_back({m.bytes, m.cost});
    int64_t smallest = 0;
    for (const Measured &m : measured)
      smallest += *std::min_element(m.bytes.begin(), m.bytes.end());
    if (budgetBytes < fixedBytes + smallest)
      return failPass(std::string(kPass) + ": budget " + budget + " (" +
                      std::to_string(budgetBytes) + " bytes) is infeasible: the smallest "
                      "choice takes " + std::to_string(fixedBytes + smallest) + " bytes (" +
                      std::to_string(fixedBytes - kvBytes) + " for the weights not searched, " +
                      (kvBytes ? std::to_string(kvBytes) + " for the KV cache, " : "") +
                      std::to_string(smallest) + " for the searched ones at their smallest "
                      "candidates)");
    search::KnapsackSolution s;
    if (!search::solveMultipleChoiceKnapsack(items, budgetBytes - fixedBytes, units, s, error))
      return failPass(std::string(kPass) + ": budget " + budget + ": " + error);
    printTable(cs, measured, s, budgetBytes, fixedBytes);
    std::string recipe = recipeJSON(cs, measured, s, budgetBytes, fixedBytes - kvBytes + s.bytes);
    if (!write(output, "llm-search-recipe output", recipe))
      return;
    if (!report.empty() && !write(report, "llm-search-recipe report",
                                  reportJSON(cs, measured, s, budgetBytes, fixedBytes)))
      return;
    if (apply)
      return applyRecipe(recipe);
    markAllAnalysesPreserved();
  }

  /// apply=true: the recipe just written (the file is committed when the tool ends), run
  /// as --llm-apply-recipe runs it, with the calibration the errors were measured on.
  void applyRecipe(const std::string &recipeText) {
    ModuleOp module = getOperation();
    Recipe r;
    std::string what = "'" + std::string(output) + "'", error;
    if (!parseRecipe(recipeText, what, r, error))
      return failPass(std::string(kPass) + ": " + error);
    if (llvm::all_of(r.rules, [](const RecipeRule &rule) { return rule.method == "keep"; })) {
      llvm::errs() << kPass << ": every weight keeps its storage: nothing to apply, "
                   << outputParams << " not written\n";
      return markAllAnalysesPreserved();
    }
    std::vector<std::pair<std::string, std::string>> calibration = r.calibration;
    if (!tokenizer.empty())
      calibration.push_back({"tokenizer", tokenizer});
    llvm::errs() << kPass << ": applying the recipe, weights to " << outputParams << "\n";
    auto runner = [&](OpPassManager &pm) { return runPipeline(pm, module); };
    if (!runRecipe(module, runner, r, what, calibration, outputParams, error))
      return failPass(std::string(kPass) + ": applying the recipe: " + error);
  }
};

} // namespace
