//===- LLMPrune.cpp - Wanda, GBLM and SparseGPT pruning -------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The calibrated pruning passes: options, storage and the shared rules as every pruning
// pass (../Pruning.h), the layer-by-layer driver as every calibrated pass
// (CalibratedPass.h); what is left here is each method's score. The numerics are in
// lib/Sparsify; GBLM's gradients come from lib/Calibrate's backward pass or a file.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Calibrated/CalibratedPass.h"
#include "passes/Transforms/OptionChecks.h"
#include "passes/Transforms/Pruning.h"
#include "passes/Transforms/WeightRewriter.h"

#include "midllama/Calibrate/Calibrator.h"
#include "midllama/Calibrate/GradientNorms.h"
#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Transforms/Passes.h"
#include "runtime/params/ParamFile.h"

#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>

namespace midllama {
#define GEN_PASS_DEF_LLMPRUNEWANDA
#define GEN_PASS_DEF_LLMPRUNESPARSEGPT
#define GEN_PASS_DEF_LLMPRUNEGBLM
#include "midllama/Transforms/Passes.h.inc"
} // namespace midllama

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;

namespace {

/// A method's pruning of one weight: `w` ([n, k], fp32) with its input's statistics into
/// the pruned values `out` and the mask (1 = kept). False with `why` to refuse.
using PruneWeight = std::function<bool(
    const std::string &weight, const std::vector<float> &w, int64_t n, int64_t k,
    const calib::InputStats &, std::vector<float> &out, std::vector<uint8_t> &mask,
    std::string &why)>;

/// What Wanda, GBLM and SparseGPT share around their scores.
template <typename Derived, template <typename> class GeneratedBase>
struct CalibratedPruningPass : CalibratedPass<Derived, GeneratedBase> {
  using CalibratedPass<Derived, GeneratedBase>::CalibratedPass;

  /// The pattern runPruning parsed, for the method's PruneWeight.
  sparse::Pattern parsedPattern;

  /// checkOptions: the pruning rules, then the method's own (`own`), then calibration and
  /// selection; the first broken rule is the message.
  std::string checkCalibratedPruning(const std::string &comparison,
                                     llvm::function_ref<void(OptionChecker &)> own) const {
    const std::string name = this->passName();
    if (std::string bad = checkPruningOptions(name, this->sparsity, this->given(this->sparsity),
                                              this->pattern, this->tail, comparison);
        !bad.empty())
      return bad;
    OptionChecker g(name);
    own(g);
    if (!g.ok())
      return g.message();
    OptionChecker c(name);
    this->checkWeightSelection(this->checkCalibration(c));
    return c.message();
  }

  /// The refusal of a `comparison` option other than row or layer, or empty.
  std::string comparisonError() const {
    const std::string &comparison = this->comparison;
    if (comparison == "row" || comparison == "layer")
      return "";
    return this->passName() + ": comparison must be row or layer (got '" + comparison + "')";
  }

  /// Parses the pattern, calibrates layer by layer with `prune` deciding each selected
  /// weight's mask, and rewrites the module. `error`: a refusal found by the pass before
  /// (the pass then fails with it and does nothing).
  void runPruning(std::string error, bool hessian, const PruneWeight &prune) {
    if (error.empty() && parsePattern(this->passName(), this->sparsity, this->pattern,
                                      this->tail, parsedPattern, error) &&
        succeeded(calibrateAndRewrite(hessian, prune)))
      return;
    if (!error.empty())
      this->failPass(error);
  }

private:
  /// Fails the pass itself (with its message) when it fails.
  LogicalResult calibrateAndRewrite(bool hessian, const PruneWeight &prune) {
    ModuleOp module = this->getOperation();
    if (this->calibBatch < 1) {
      this->failPass(this->passName() + ": calib-batch must be at least 1");
      return failure();
    }
    auto selected = this->selectBeforeCalibrating(/*allowPruned=*/false);
    if (failed(selected))
      return failure();
    const sparse::Pattern &p = parsedPattern;
    llvm::StringMap<EncodedWeight> encoded;
    EncodedSpill spill; // each layer's encodings on disk until the rewrite
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
        if (!spill.spill(e, why))
          return false;
        encoded[weight] = std::move(e);
        compressed.push_back(std::move(pruned));
      }
      return true;
    };
    std::string error;
    if (!calib::calibrateLayerwise(module, this->calibrationOptions(hessian), *selected,
                                   /*trueSequential=*/false, this->passName(), compress, error)) {
      this->failPass(error);
      return failure();
    }
    return this->rewriteCalibrated(encoded, /*allowPruned=*/false);
  }
};

struct LLMPruneWandaPass
    : CalibratedPruningPass<LLMPruneWandaPass, midllama::impl::LLMPruneWandaBase> {
  using CalibratedPruningPass::CalibratedPruningPass;

  std::string checkOptions() const {
    return checkCalibratedPruning(comparison, [](OptionChecker &) {});
  }

  void runOnOperation() override {
    auto cmp = comparisonOf(comparison);
    auto prune = [&](const std::string &, const std::vector<float> &w, int64_t n, int64_t k,
                     const calib::InputStats &stats, std::vector<float> &out,
                     std::vector<uint8_t> &mask, std::string &) {
      mask = sparse::selectMask(sparse::wandaScores(w.data(), n, k, stats.sumSq), n, k,
                                parsedPattern, cmp);
      out = sparse::applyMask(w.data(), mask);
      return true;
    };
    runPruning(comparisonError(), /*hessian=*/false, prune);
  }
};

struct LLMPruneGBLMPass
    : CalibratedPruningPass<LLMPruneGBLMPass, midllama::impl::LLMPruneGBLMBase> {
  using CalibratedPruningPass::CalibratedPruningPass;

  std::string checkOptions() const {
    return checkCalibratedPruning(comparison, [&](OptionChecker &g) {
      g.require(std::isfinite(double(alpha)) && alpha > 0,
                "alpha must be a finite positive number (got " + formatOptionValue(alpha) + ")")
          .oneOf("norm", norm, {"l1", "l2"})
          .notGivenEmpty("gradients", gradients, given(gradients),
                         "a safetensors file of gradient norms")
          .notGivenEmpty("gradients-out", gradientsOut, given(gradientsOut),
                         "the safetensors file to write the gradient norms to")
          .require(gradients.empty() || gradientsOut.empty(),
                   "gradients-out writes the norms a backward pass computes; with gradients= "
                   "none is computed");
    });
  }

  /// `gradients-out` made absolute against the current directory, as `gradients=` is read
  /// (docs/files.md), so that the same relative name writes and reads one file.
  std::string gradientsOutPath() const {
    return std::filesystem::absolute(std::string(gradientsOut)).string();
  }

  /// Writes the computed norms to `gradients-out`, one F32 [N, K] tensor per weight. The
  /// refusal, or empty.
  std::string writeGradients(const std::map<std::string, std::vector<float>> &computed) {
    ModuleOp module = getOperation();
    std::string error;
    rt::ParamFileWriter writer;
    for (const auto &[name, norms] : computed) {
      auto param = SymbolTable::lookupNearestSymbolFrom<ParamOp>(
          module, StringAttr::get(module.getContext(), name));
      if (!param)
        return "gradients-out: no llm.param '" + name + "'";
      std::vector<int64_t> shape(param.getWeightType().getShape().begin(),
                                 param.getWeightType().getShape().end());
      if (!writer.addBorrowed(name, rt::DType::F32, shape, norms.data(),
                              int64_t(norms.size() * sizeof(float)), error))
        return "gradients-out: " + error;
    }
    writer.setMetadata("midllama", "llm-prune-gblm gradient norms (alpha " +
                                       formatOptionValue(alpha) + ", norm " + norm + ")");
    if (!writer.commit(gradientsOutPath(), error, "gradients-out file"))
      return "gradients-out: " + error;
    llvm::errs() << passName() << ": gradient norms of " << computed.size()
                 << " weights written to " << gradientsOut << "\n";
    return "";
  }

  /// The gradient norms: from `gradients` (into `grads`), or, without a file, from a
  /// backward pass over the calibration samples on the dense model, as the reference
  /// computes them (into `computed`). The refusal, or empty.
  std::string gatherGradients(std::unique_ptr<rt::ParamFile> &grads,
                              std::map<std::string, std::vector<float>> &computed) {
    const std::string name = passName();
    std::string error;
    if (!(alpha > 0))
      return name + ": alpha must be positive";
    if (norm != "l1" && norm != "l2")
      return name + ": norm must be l1 or l2 (got '" + norm + "')";
    if (!gradients.empty()) {
      if (!(grads = rt::ParamFile::open(gradients, error)))
        return name + ": " + error;
      return "";
    }
    double loss = 0;
    if (calib.empty())
      return name + ": calibration data is required (calib=FILE: text, or a .tokens file)";
    // Before the backward pass: a refusal after an hour of work helps nobody.
    if (!gradientsOut.empty() && !checkPassOutput(getOperation(), gradientsOutPath(), error))
      return name + ": gradients-out: " + error;
    if (!calib::computeGradientNorms(getOperation(), calibrationOptions(/*hessian=*/false),
                                     alpha,
                                     norm == "l1" ? calib::GradientNorm::L1
                                                  : calib::GradientNorm::L2,
                                     computed, loss, error))
      return name + ": " + error;
    if (!gradientsOut.empty())
      if (std::string bad = writeGradients(computed); !bad.empty())
        return name + ": " + bad;
    return "";
  }

  void runOnOperation() override {
    std::unique_ptr<rt::ParamFile> grads;
    std::map<std::string, std::vector<float>> computed;
    std::string error = comparisonError();
    if (error.empty())
      error = gatherGradients(grads, computed);
    auto cmp = comparisonOf(comparison);
    const sparse::Pattern &p = parsedPattern; // parsed by runPruning before it calibrates
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
        grads->evict(*g); // copied: a layer's norms at a time, not the file's
      } else {
        auto it = computed.find(weight);
        if (it == computed.end() || int64_t(it->second.size()) != n * k) {
          why = "the backward pass gives no gradient for it (only decoder projections)";
          return false;
        }
        // Each weight is pruned once: its norms leave the map, which holds fewer as the
        // layers go by (425 MB for SmolLM2 at the start).
        norms = std::move(it->second);
        computed.erase(it);
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
    runPruning(error, /*hessian=*/false, prune);
  }
};

struct LLMPruneSparseGPTPass
    : CalibratedPruningPass<LLMPruneSparseGPTPass, midllama::impl::LLMPruneSparseGPTBase> {
  using CalibratedPruningPass::CalibratedPruningPass;

  std::string checkOptions() const {
    return checkCalibratedPruning(/*comparison=*/"row", [&](OptionChecker &g) {
      g.inInterval("damp", damp, 0, /*loOpen=*/true, 1, /*hiOpen=*/false)
          .atLeast("block-size", int64_t(blockSize), 1)
          .oneOf("count", count, {"exact", "reference"});
    });
  }

  void runOnOperation() override {
    std::string error;
    const std::string name = passName();
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
      o.pattern = parsedPattern;
      o.damp = damp;
      o.blockSize = blockSize;
      o.referenceCount = count == "reference";
      std::vector<float> h = stats.hessian();
      return sparse::sparseGPT(w.data(), n, k, h.data(), o, out, mask, why);
    };
    runPruning(error, /*hessian=*/true, prune);
  }
};

} // namespace
