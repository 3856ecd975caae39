//===- LLMPrune.cpp - Magnitude, Wanda and SparseGPT pruning ---------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The three pruning passes share their options (sparsity, pattern, tail, selection), the
// compressed storage (SparseEncoding) and, for Wanda and SparseGPT, the layer-by-layer
// calibration driver; the numerics are in lib/Sparsify. GBLM, which needs gradients, comes
// with the backward pass.
//
//===----------------------------------------------------------------------===//

#include "OptionChecks.h"
#include "SparseEncoding.h"
#include "WeightRewriter.h"
#include "midllama/Transforms/ParamFiles.h"

#include "midllama/Calibrate/Calibrator.h"
#include "midllama/Calibrate/GradientNorms.h"
#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Transforms/Passes.h"
#include "runtime/params/ParamFile.h"

#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <map>
#include <cstring>
#include <sstream>

namespace midllama {
#define GEN_PASS_DEF_LLMPRUNEMAGNITUDE
#define GEN_PASS_DEF_LLMPRUNEWANDA
#define GEN_PASS_DEF_LLMPRUNESPARSEGPT
#define GEN_PASS_DEF_LLMPRUNEGBLM
#include "midllama/Transforms/Passes.h.inc"
} // namespace midllama

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;

namespace {

/// Parses the shared options; false with `error` on a bad value.
bool parsePattern(const std::string &pass, double sparsity, const std::string &pattern,
                  const std::string &tail, sparse::Pattern &p, std::string &error) {
  auto fail = [&](const std::string &why) {
    error = pass + ": " + why;
    return false;
  };
  p = sparse::Pattern();
  p.ratio = sparsity;
  if (tail != "error" && tail != "proportional")
    return fail("tail must be error or proportional (got '" + tail + "')");
  p.proportionalTail = tail == "proportional";
  if (pattern != "unstructured") {
    long long n = 0, m = 0;
    char colon = 0, extra = 0;
    std::istringstream in(pattern);
    if (!(in >> n >> colon >> m) || colon != ':' || (in >> extra))
      return fail("pattern must be unstructured or N:M (got '" + pattern + "')");
    // Checked here, not by checkPattern: M = 0 would read as "not N:M" there and prune 50%
    // unstructured instead.
    if (n < 1 || m < 2 || n >= m || m > 32)
      return fail("N:M needs 1 <= N < M <= 32 (got " + std::to_string(n) + ":" +
                  std::to_string(m) + ")");
    p.n = n;
    p.m = m;
  }
  std::string why;
  if (!sparse::checkPattern(p, p.isNM() ? p.m : 1, why))
    return fail(why);
  return true;
}

/// The rules the pruning passes share, for checkOptions: a pattern that parses, and no
/// sparsity that an N:M pattern would ignore (N:M prunes 1 - N/M of each run).
std::string checkPruningOptions(const std::string &pass, double sparsity, bool sparsityGiven,
                                const std::string &pattern, const std::string &tail,
                                const std::string &comparison) {
  OptionChecker c(pass);
  c.inInterval("sparsity", sparsity, 0, /*loOpen=*/false, 1, /*hiOpen=*/true)
      .oneOf("comparison", comparison, {"row", "layer"})
      .oneOf("tail", tail, {"error", "proportional"});
  if (!c.ok())
    return c.message();
  sparse::Pattern p;
  std::string error;
  if (!parsePattern(pass, sparsity, pattern, tail, p, error))
    return error;
  if (p.isNM() && sparsityGiven && sparsity != 1.0 - double(p.n) / double(p.m))
    return pass + ": sparsity=" + formatOptionValue(sparsity) + " and pattern=" + pattern +
           " disagree: N:M prunes 1 - N/M = " + formatOptionValue(1.0 - double(p.n) / double(p.m)) +
           " of every run; give sparsity (unstructured) or pattern, not both";
  return "";
}

/// Describes the result of pruning one weight, for progress.
std::string describe(const sparse::Pattern &p, const std::vector<uint8_t> &mask) {
  int64_t kept = 0;
  for (uint8_t m : mask)
    kept += m;
  std::ostringstream os;
  if (p.isNM())
    os << p.n << ":" << p.m;
  else
    os << "unstructured";
  os << ", " << std::fixed;
  os.precision(1);
  os << 100.0 * double(int64_t(mask.size()) - kept) / double(mask.size()) << "% zero";
  return os.str();
}

/// Encodes a pruned weight, refusing a pattern the weight's K does not allow.
bool encodePruned(WeightType type, const std::vector<float> &values,
                  const std::vector<uint8_t> &mask, const sparse::Pattern &p,
                  EncodedWeight &out, std::string &error) {
  if (!sparse::checkPattern(p, type.getShape()[1], error))
    return false;
  encodeSparse(type, values, mask, p, out);
  out.description = describe(p, mask);
  return true;
}

struct LLMPruneMagnitudePass
    : CheckedOptionsPass<LLMPruneMagnitudePass, midllama::impl::LLMPruneMagnitudeBase> {
  using CheckedOptionsPass::CheckedOptionsPass;

  std::string checkOptions() const {
    const std::string name = "llm-prune-magnitude";
    if (std::string bad = checkPruningOptions(name, sparsity, given(sparsity), pattern, tail, comparison);
        !bad.empty())
      return bad;
    OptionChecker c(name);
    c.regex("include", include)
        .regex("exclude", exclude)
        .nonEmpty("output", output, "the parameter file to write");
    return c.message();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::string error;
    sparse::Pattern p;
    if (comparison != "row" && comparison != "layer")
      error = "llm-prune-magnitude: comparison must be row or layer (got '" + comparison + "')";
    if (error.empty() && parsePattern("llm-prune-magnitude", sparsity, pattern, tail, p, error)) {
      auto cmp = comparison == "row" ? sparse::Comparison::Row : sparse::Comparison::Layer;
      auto encode = [&](const std::string &, WeightType type, const std::vector<float> &values,
                        EncodedWeight &out, std::string &why) {
        int64_t n = type.getShape()[0], k = type.getShape()[1];
        if (!sparse::checkPattern(p, k, why))
          return false;
        std::vector<uint8_t> mask =
            sparse::selectMask(sparse::magnitudeScores(values.data(), n, k), n, k, p, cmp);
        return encodePruned(type, sparse::applyMask(values.data(), mask), mask, p, out, why);
      };
      if (rewriteWeights(module, "llm-prune-magnitude", include, exclude, output, encode, error))
        return;
    }
    // No operation attached: the diagnostic would print the whole module with it.
    mlir::emitError(module.getLoc()) << error;
    signalPassFailure();
  }
};

/// What Wanda and SparseGPT share of their options.
struct CalibratedPruning {
  ModuleOp module;
  std::string name, include, exclude, output;
  calib::CalibrationOptions options;
};

/// Wanda and SparseGPT: calibrated, layer by layer.
bool runCalibratedPruning(const CalibratedPruning &s,
                          const std::function<bool(const std::string &weight,
                                                   const std::vector<float> &w, int64_t n,
                                                   int64_t k, const calib::InputStats &,
                                                   std::vector<float> &, std::vector<uint8_t> &,
                                                   std::string &)> &prune,
                          const sparse::Pattern &p, std::string &error) {
  ModuleOp module = s.module;
  const std::string &name = s.name;
  if (!checkPassOutput(module, s.output, error)) { // before calibrating
    error = name + ": " + error;
    return false;
  }
  if (s.options.batch < 1) {
    error = name + ": calib-batch must be at least 1";
    return false;
  }
  std::vector<std::string> selected;
  if (!selectWeights(module, name, s.include, s.exclude, selected, error))
    return false;
  llvm::StringMap<EncodedWeight> encoded;
  auto compress = [&](const std::vector<std::string> &names, const calib::InputStats &stats,
                      std::vector<std::vector<float>> &compressed, std::string &why) {
    for (const std::string &weight : names) {
      auto start = std::chrono::steady_clock::now();
      std::vector<float> w;
      if (!readWeightF32(module, weight, w, why))
        return false;
      int64_t k = stats.k, n = int64_t(w.size()) / k;
      auto param = SymbolTable::lookupNearestSymbolFrom<ParamOp>(
          module, StringAttr::get(module.getContext(), weight));
      std::vector<float> pruned;
      std::vector<uint8_t> mask;
      EncodedWeight e;
      if (!sparse::checkPattern(p, k, why) || !prune(weight, w, n, k, stats, pruned, mask, why) ||
          !encodePruned(param.getWeightType(), pruned, mask, p, e, why)) {
        why = "weight '" + weight + "': " + why;
        return false;
      }
      e.millis = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                           start)
                     .count();
      encoded[weight] = std::move(e);
      compressed.push_back(std::move(pruned));
    }
    return true;
  };
  if (!calib::calibrateLayerwise(module, s.options, selected, /*trueSequential=*/false, name,
                                 compress, error))
    return false;
  WeightEncoder encode = precomputedEncoder(encoded);
  return rewriteWeights(module, name, s.include, s.exclude, s.output, encode, error);
}

/// The settings of a calibrated pruning pass, from its options.
CalibratedPruning settingsOf(ModuleOp module, const std::string &name, bool hessian,
                             const std::string &include, const std::string &exclude,
                             const std::string &output, const std::string &calib,
                             int64_t samples, int64_t seqLen, uint64_t seed, int64_t batch,
                             const std::string &tokenizer) {
  CalibratedPruning s;
  s.module = module;
  s.name = name;
  s.include = include;
  s.exclude = exclude;
  s.output = output;
  s.options = calib::CalibrationOptions(calib, samples, seqLen, seed, batch, tokenizer, hessian);
  return s;
}

struct LLMPruneWandaPass
    : CheckedOptionsPass<LLMPruneWandaPass, midllama::impl::LLMPruneWandaBase> {
  using CheckedOptionsPass::CheckedOptionsPass;

  std::string checkOptions() const {
    const std::string name = "llm-prune-wanda";
    if (std::string bad = checkPruningOptions(name, sparsity, given(sparsity), pattern, tail, comparison);
        !bad.empty())
      return bad;
    OptionChecker c(name);
    c.calibration(calib, samples, seqLen, calibBatch)
        .notGivenEmpty("tokenizer", tokenizer, given(tokenizer), "the tokenizer of text calibration data")
        .regex("include", include)
        .regex("exclude", exclude)
        .nonEmpty("output", output, "the parameter file to write");
    return c.message();
  }

  void runOnOperation() override {
    std::string error;
    sparse::Pattern p;
    const std::string name = "llm-prune-wanda";
    if (comparison != "row" && comparison != "layer")
      error = name + ": comparison must be row or layer (got '" + comparison + "')";
    auto cmp = comparison == "row" ? sparse::Comparison::Row : sparse::Comparison::Layer;
    auto prune = [&](const std::string &, const std::vector<float> &w, int64_t n, int64_t k,
                     const calib::InputStats &stats, std::vector<float> &out,
                     std::vector<uint8_t> &mask, std::string &) {
      mask = sparse::selectMask(sparse::wandaScores(w.data(), n, k, stats.sumSq), n, k, p, cmp);
      out = sparse::applyMask(w.data(), mask);
      return true;
    };
    if (error.empty() && parsePattern(name, sparsity, pattern, tail, p, error) &&
        runCalibratedPruning(settingsOf(getOperation(), name, /*hessian=*/false, include,
                                        exclude, output, calib, samples, seqLen, seed,
                                        calibBatch, tokenizer),
                             prune, p, error))
      return;
    // No operation attached: the diagnostic would print the whole module with it.
    mlir::emitError(getOperation().getLoc()) << error;
    signalPassFailure();
  }
};

struct LLMPruneGBLMPass
    : CheckedOptionsPass<LLMPruneGBLMPass, midllama::impl::LLMPruneGBLMBase> {
  using CheckedOptionsPass::CheckedOptionsPass;

  std::string checkOptions() const {
    const std::string name = "llm-prune-gblm";
    if (std::string bad = checkPruningOptions(name, sparsity, given(sparsity), pattern, tail, comparison);
        !bad.empty())
      return bad;
    OptionChecker g(name);
    g.require(std::isfinite(double(alpha)) && alpha > 0,
              "alpha must be a finite positive number (got " + formatOptionValue(alpha) + ")")
        .oneOf("norm", norm, {"l1", "l2"})
        .notGivenEmpty("gradients", gradients, given(gradients), "a safetensors file of gradient norms");
    if (!g.ok())
      return g.message();
    OptionChecker c(name);
    c.calibration(calib, samples, seqLen, calibBatch)
        .notGivenEmpty("tokenizer", tokenizer, given(tokenizer), "the tokenizer of text calibration data")
        .regex("include", include)
        .regex("exclude", exclude)
        .nonEmpty("output", output, "the parameter file to write");
    return c.message();
  }

  void runOnOperation() override {
    std::string error;
    sparse::Pattern p;
    const std::string name = "llm-prune-gblm";
    std::unique_ptr<rt::ParamFile> grads;
    if (comparison != "row" && comparison != "layer")
      error = name + ": comparison must be row or layer (got '" + comparison + "')";
    else if (!(alpha > 0))
      error = name + ": alpha must be positive";
    else if (norm != "l1" && norm != "l2")
      error = name + ": norm must be l1 or l2 (got '" + norm + "')";
    else if (!gradients.empty() && !(grads = rt::ParamFile::open(gradients, error)))
      error = name + ": " + error;
    // Without a file, the norms come from a backward pass over the calibration samples on
    // the dense model, as the reference computes them.
    std::map<std::string, std::vector<float>> computed;
    if (error.empty() && gradients.empty()) {
      calib::CalibrationOptions o(calib, samples, seqLen, seed, calibBatch, tokenizer, false);
      double loss = 0;
      if (calib.empty())
        error = name + ": calibration data is required (calib=FILE: text, or a .tokens file)";
      else if (!calib::computeGradientNorms(getOperation(), o, alpha,
                                            norm == "l1" ? calib::GradientNorm::L1
                                                         : calib::GradientNorm::L2,
                                            computed, loss, error))
        error = name + ": " + error;
    }
    auto cmp = comparison == "row" ? sparse::Comparison::Row : sparse::Comparison::Layer;
    auto prune = [&](const std::string &weight, const std::vector<float> &w, int64_t n,
                     int64_t k, const calib::InputStats &stats, std::vector<float> &out,
                     std::vector<uint8_t> &mask, std::string &why) {
      std::vector<float> norms(static_cast<size_t>(n * k));
      if (grads) {
        const rt::TensorView *g = grads->find(weight);
        if (!g || g->dtype != rt::DType::F32 || g->shape != std::vector<int64_t>{n, k}) {
          why = "no F32[" + std::to_string(n) + ", " + std::to_string(k) +
                "] gradient norm for it in " + std::string(gradients);
          return false;
        }
        std::memcpy(norms.data(), g->data, norms.size() * 4);
      } else {
        auto it = computed.find(weight);
        if (it == computed.end() || int64_t(it->second.size()) != n * k) {
          why = "the backward pass gives no gradient for it (only decoder projections)";
          return false;
        }
        norms = it->second;
      }
      int64_t windows = stats.rows / std::max<int64_t>(1, int64_t(seqLen));
      mask = sparse::selectMask(
          sparse::gblmScores(w.data(), n, k, stats.sumSq, windows, norms.data()), n, k, p, cmp);
      out = sparse::applyMask(w.data(), mask);
      // How much the gradient term weighs against the activation term, and how far the mask
      // moved from Wanda's on the same statistics: what decides whether GBLM helps (α and
      // the window length set the balance; docs/pruning.md).
      double gradTerm = 0, actTerm = 0;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < k; ++j) {
          double a = std::fabs(double(w[size_t(i * k + j)]));
          gradTerm += a * double(norms[size_t(i * k + j)]);
          actTerm += a * std::sqrt(stats.sumSq[size_t(j)] / double(std::max<int64_t>(1, windows)));
        }
      std::vector<uint8_t> wanda =
          sparse::selectMask(sparse::wandaScores(w.data(), n, k, stats.sumSq), n, k, p, cmp);
      int64_t differ = 0, pruned = 0;
      for (size_t i = 0; i < mask.size(); ++i) {
        pruned += !mask[i];
        differ += !mask[i] && wanda[i];
      }
      llvm::errs() << "llm-prune-gblm: " << weight << ": gradient/activation term "
                   << llvm::format("%.3g", actTerm > 0 ? gradTerm / actTerm : 0.0) << ", "
                   << llvm::format("%.1f", pruned ? 100.0 * double(differ) / double(pruned) : 0.0)
                   << "% of the pruned weights differ from Wanda's choice\n";
      return true;
    };
    if (error.empty() && parsePattern(name, sparsity, pattern, tail, p, error) &&
        runCalibratedPruning(settingsOf(getOperation(), name, /*hessian=*/false, include,
                                        exclude, output, calib, samples, seqLen, seed,
                                        calibBatch, tokenizer),
                             prune, p, error))
      return;
    // No operation attached: the diagnostic would print the whole module with it.
    mlir::emitError(getOperation().getLoc()) << error;
    signalPassFailure();
  }
};

struct LLMPruneSparseGPTPass
    : CheckedOptionsPass<LLMPruneSparseGPTPass, midllama::impl::LLMPruneSparseGPTBase> {
  using CheckedOptionsPass::CheckedOptionsPass;

  std::string checkOptions() const {
    const std::string name = "llm-prune-sparsegpt";
    if (std::string bad = checkPruningOptions(name, sparsity, given(sparsity), pattern, tail, /*comparison=*/"row");
        !bad.empty())
      return bad;
    OptionChecker g(name);
    g.inInterval("damp", damp, 0, /*loOpen=*/true, 1, /*hiOpen=*/false)
        .atLeast("block-size", int64_t(blockSize), 1);
    if (!g.ok())
      return g.message();
    OptionChecker c(name);
    c.calibration(calib, samples, seqLen, calibBatch)
        .notGivenEmpty("tokenizer", tokenizer, given(tokenizer), "the tokenizer of text calibration data")
        .regex("include", include)
        .regex("exclude", exclude)
        .nonEmpty("output", output, "the parameter file to write");
    return c.message();
  }

  void runOnOperation() override {
    std::string error;
    sparse::Pattern p;
    const std::string name = "llm-prune-sparsegpt";
    if (!(damp > 0 && damp <= 1)) {
      std::ostringstream v;
      v << double(damp);
      error = name + ": damp must be in (0, 1] (got " + v.str() + ")";
    } else if (blockSize < 1) {
      error = name + ": block-size must be at least 1 (got " + std::to_string(blockSize) + ")";
    }
    auto prune = [&](const std::string &, const std::vector<float> &w, int64_t n, int64_t k,
                     const calib::InputStats &stats, std::vector<float> &out,
                     std::vector<uint8_t> &mask, std::string &why) {
      sparse::SparseGPTOptions o;
      o.pattern = p;
      o.damp = damp;
      o.blockSize = blockSize;
      std::vector<float> h = stats.hessian();
      return sparse::sparseGPT(w.data(), n, k, h.data(), o, out, mask, why);
    };
    if (error.empty() && parsePattern(name, sparsity, pattern, tail, p, error) &&
        runCalibratedPruning(settingsOf(getOperation(), name, /*hessian=*/true, include,
                                        exclude, output, calib, samples, seqLen, seed,
                                        calibBatch, tokenizer),
                             prune, p, error))
      return;
    // No operation attached: the diagnostic would print the whole module with it.
    mlir::emitError(getOperation().getLoc()) << error;
    signalPassFailure();
  }
};

} // namespace
