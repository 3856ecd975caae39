//===- LLMQuantizeGPTQ.cpp - GPTQ weight quantization ---------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Calibrates layer by layer (lib/Calibrate), quantizes every selected weight with GPTQ
// from its input's Hessian (lib/Quantize/GPTQ) and hands the result to the shared weight
// rewriter, which writes the #llm.affine layout RTN writes.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/SparseEncoding.h"
#include "passes/Transforms/Calibrated/CalibratedPass.h"
#include "passes/Transforms/Calibrated/SearchCandidates.h"
#include "passes/Transforms/OptionChecks.h"
#include "passes/Transforms/WeightRewriter.h"
#include "midllama/Params/ParamFiles.h"

#include "midllama/Calibrate/Calibrator.h"
#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Quantize/AWQ.h"
#include "midllama/Quantize/GPTQ.h"
#include "midllama/Transforms/Passes.h"

#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <regex>
#include <sstream>

namespace midllama {
#define GEN_PASS_DEF_LLMQUANTIZEGPTQ
#include "midllama/Transforms/Passes.h.inc"
} // namespace midllama

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;

namespace {

constexpr const char *kPass = "llm-quantize-gptq";

/// One `formats` entry: the weights its expression matches get its format.
struct FormatRule {
  std::string match;
  SearchCandidate format; // a gptq candidate: bits, group size, symmetric, act-order
};

/// Parses `formats` (REGEX=w<bits>g<group>[-sym][-act];...); false with `error`.
bool parseFormats(const std::string &text, std::vector<FormatRule> &rules, std::string &error) {
  rules.clear();
  std::stringstream in(text);
  std::string entry;
  while (std::getline(in, entry, ';')) {
    size_t eq = entry.rfind('=');
    std::vector<SearchCandidate> c;
    std::string why;
    if (eq == std::string::npos || eq == 0 ||
        !parseSearchCandidates("gptq-" + entry.substr(eq + 1), c, why)) {
      error = "formats: entry '" + entry + "' is not REGEX=w<bits 2-8>g<group>[-sym][-act]";
      return false;
    }
    try {
      std::regex check(entry.substr(0, eq), std::regex::ECMAScript);
    } catch (const std::regex_error &e) {
      error = "formats: entry '" + entry + "': not a regular expression: " + e.what();
      return false;
    }
    rules.push_back({entry.substr(0, eq), c.front()});
  }
  return true;
}

struct LLMQuantizeGPTQPass
    : CalibratedPass<LLMQuantizeGPTQPass, midllama::impl::LLMQuantizeGPTQBase> {
  using CalibratedPass::CalibratedPass;

  std::string checkOptions() const {
    OptionChecker c(kPass);
    checkAffine(c)
        .inInterval("damp", damp, 0, /*loOpen=*/true, 1, /*hiOpen=*/false)
        .atLeast("block-size", int64_t(blockSize), 1)
        .oneOf("group-params", groupParams, {"updated", "block-start"});
    std::vector<FormatRule> rules;
    std::string formatsError;
    c.require(parseFormats(formats, rules, formatsError), formatsError);
    checkWeightSelection(checkCalibration(c));
    return c.message();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto selected = selectBeforeCalibrating(/*allowPruned=*/true);
    if (failed(selected))
      return;

    std::vector<FormatRule> rules;
    std::string error;
    (void)parseFormats(formats, rules, error); // checked with the options
    std::vector<std::regex> matchers;
    for (const FormatRule &r : rules)
      matchers.emplace_back(r.match, std::regex::ECMAScript);
    // A weight's format: the first matching `formats` entry's, else the options'.
    auto formatOf = [&](const std::string &name) {
      for (size_t i = 0; i < rules.size(); ++i)
        if (std::regex_search(name, matchers[i]))
          return rules[i].format;
      SearchCandidate c;
      c.bits = int(bits);
      c.groupSize = groupSize;
      c.symmetric = symmetric;
      c.actOrder = actOrder;
      return c;
    };

    llvm::StringMap<EncodedWeight> encoded;
    EncodedSpill spill; // each layer's encodings on disk until the rewrite
    auto compress = [&](const std::vector<std::string> &names, const calib::InputStats &stats,
                        std::vector<std::vector<float>> &compressed, std::string &why) {
      std::vector<float> h = stats.hessian();
      // The Hessian's factor once for every weight reading this input (q/k/v, gate/up),
      // per column order.
      quant::GPTQHessian prepared[2];
      bool ready[2] = {false, false};
      for (const std::string &name : names) {
        SearchCandidate format = formatOf(name);
        bool act = format.actOrder;
        if (!ready[act] &&
            !quant::prepareGPTQHessian(h.data(), stats.k, damp, act, prepared[act], why)) {
          why = "weights '" + llvm::join(names, "', '") + "': " + why;
          return false;
        }
        ready[act] = true;
        auto start = std::chrono::steady_clock::now();
        std::vector<float> w;
        std::vector<uint8_t> keep;
        if (!readWeightF32(module, name, w, why, &keep))
          return false;
        auto param = SymbolTable::lookupNearestSymbolFrom<ParamOp>(
            module, StringAttr::get(module.getContext(), name));
        bool pruned = bool(param.getWeightType().getSparsity());
        int64_t k = stats.k, n = int64_t(w.size()) / k;
        quant::GPTQOptions o;
        o.affine = {format.bits, std::min<int64_t>(format.groupSize, k), format.symmetric};
        o.damp = damp;
        o.blockSize = blockSize;
        o.actOrder = act;
        o.groupsFromBlockStart = groupParams == "block-start";
        o.keep = pruned ? keep.data() : nullptr; // mask-aware: pruned weights stay zero
        quant::GPTQResult r;
        if (!quant::quantizeGPTQ(w.data(), n, k, prepared[act], o, r, why)) {
          why = "weight '" + name + "': " + why;
          return false;
        }
        std::vector<float> rtnValues = quant::roundTrip(w.data(), n, k, o.affine);
        double gptqError = quant::layerOutputError(w.data(), r.dequantized.data(), n, k, h.data());
        double rtnError = quant::layerOutputError(w.data(), rtnValues.data(), n, k, h.data());
        EncodedWeight e;
        if (pruned)
          encodeAffineSparse(param.getWeightType(), r.matrix, o.affine, keep, e);
        else
          encodeAffine(param.getWeightType(), r.matrix, o.affine, e);
        e.description = "int" + std::to_string(o.affine.bits) + " g" +
                        std::to_string(o.affine.groupSize) + (o.affine.symmetric ? " sym" : "") +
                        (act ? " act-order" : "") +
                        (o.groupsFromBlockStart ? " block-start groups" : "") + " gptq" +
                        (pruned ? ", pruned mask kept" : "");
        e.millis = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                             start)
                       .count();
        llvm::errs() << kPass << ": " << name << ": output error " << llvm::format("%.4g", gptqError)
                     << " (RTN " << llvm::format("%.4g", rtnError) << ")"
                     << (r.deadColumns ? ", " + std::to_string(r.deadColumns) + " dead inputs"
                                       : std::string())
                     << "\n";
        if (!spill.spill(e, why))
          return false;
        encoded[name] = std::move(e);
        compressed.push_back(std::move(r.dequantized));
      }
      return true;
    };
    if (!calib::calibrateLayerwise(module, calibrationOptions(/*hessian=*/true), *selected,
                                   trueSequential, kPass, compress, error))
      return failPass(error);
    (void)rewriteCalibrated(encoded, /*allowPruned=*/true);
  }
};

} // namespace
