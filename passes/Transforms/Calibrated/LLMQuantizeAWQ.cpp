//===- LLMQuantizeAWQ.cpp - Activation-aware weight quantization ----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// AWQ as docs/algorithms.md gives it, decoder layer by decoder layer on the CPU
// runtime (lib/Calibrate), each layer fed by the already-quantized layers before it:
//   1. one pass over the calibration samples with the layer in full precision gives, per
//      group of projections reading one input, mean |x| per channel, a sample of input rows
//      for the clip search, and the reference output of the group's block: the attention
//      output for q/k/v, the MLP output for gate/up, the projection's own output otherwise;
//   2. for each group whose input comes from an op that can absorb 1/s (an RMSNorm, the up
//      projection before down, v before o when there are as many KV heads as heads), α is
//      searched on the grid by the block's output error with Q(W·diag(s))·diag(s)⁻¹ in
//      place of W (α = 0 is plain RTN, so the search never does worse on its data);
//   3. the scales are applied (W·diag(s), 1/s folded into the producer), the clip range of
//      every group of every row searched (q/k skipped), the weights quantized with RTN, and
//      the layer re-run with them to feed the next.
// Rescaled norms and projections that stay dense are written with their new values.
// A pruned weight keeps its mask: W·diag(s), 1/s on rows, clipping and rounding all map
// 0 to 0 (every quantization range holds 0 and the zero point is an integer code), GPTQ
// runs mask-aware, and only the kept values' codes are stored.
//
//===----------------------------------------------------------------------===//

#include "passes/Transforms/Calibrated/CalibratedPass.h"
#include "passes/Transforms/OptionChecks.h"
#include "passes/Transforms/SparseEncoding.h"
#include "passes/Transforms/WeightRewriter.h"
#include "midllama/Params/ParamFiles.h"

#include "midllama/Calibrate/Calibrator.h"
#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Quantize/AWQ.h"
#include "midllama/Quantize/GPTQ.h"
#include "midllama/Transforms/Passes.h"
#include "runtime/cpu/Kernels.h"

#include "mlir/IR/SymbolTable.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <map>
#include <set>

namespace midllama {
#define GEN_PASS_DEF_LLMQUANTIZEAWQ
#include "midllama/Transforms/Passes.h.inc"
} // namespace midllama

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;
using rt::OpCode;

namespace {

constexpr const char *kPass = "llm-quantize-awq";

/// y = x wᵀ for [rows, k] x and [n, k] w, on the runtime's matmul kernel.
std::vector<float> linearRows(const std::vector<float> &x, int64_t rows, const float *w,
                              int64_t n, int64_t k) {
  std::vector<float> panels(static_cast<size_t>((n + rt::kPanelWidth - 1) / rt::kPanelWidth *
                                                rt::kPanelWidth * k));
  rt::packPanel16(reinterpret_cast<const uint8_t *>(w), n, k, sizeof(float),
                  reinterpret_cast<uint8_t *>(panels.data()));
  rt::cpu::WeightRef ref;
  ref.data = panels.data();
  ref.rows = n;
  ref.cols = k;
  ref.panels = true;
  std::vector<float> y(static_cast<size_t>(rows * n));
  rt::cpu::matmul(x.data(), y.data(), rows, ref);
  return y;
}

double meanSquaredDiff(const std::vector<float> &a, const std::vector<float> &b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double d = double(a[i]) - double(b[i]);
    s += d * d;
  }
  return a.empty() ? 0 : s / double(a.size());
}

struct LLMQuantizeAWQPass
    : CalibratedPass<LLMQuantizeAWQPass, midllama::impl::LLMQuantizeAWQBase> {
  using CalibratedPass::CalibratedPass;

  bool useGPTQ = false;

  // What a group's block is, for the scale search.
  enum class Block { Attention, MLP, Linear };

  std::string checkOptions() const {
    OptionChecker c(kPass);
    checkAffine(c)
        .inRange("grid", grid, 1, 1000)
        .atLeast("clip-tokens", int64_t(clipTokens), 0)
        .atLeast("search-samples", int64_t(searchSamples), 0)
        // clip=true with no rows to measure the clip error on would clip nothing, silently.
        .require(!clip || clipTokens > 0,
                 "clip-tokens must be at least 1 when clip=true (got " +
                     std::to_string(int64_t(clipTokens)) + "); give clip=false to not clip")
        .oneOf("quantizer", quantizer, {"rtn", "gptq"})
        .inInterval("damp", damp, 0, /*loOpen=*/true, 1, /*hiOpen=*/false);
    checkWeightSelection(checkCalibration(c));
    return c.message();
  }

  void runOnOperation() override {
    useGPTQ = quantizer == "gptq";
    auto selected = selectBeforeCalibrating(/*allowPruned=*/true);
    if (failed(selected))
      return;
    std::string error;
    if (!run(getOperation(), *selected, error))
      return rewriteReported ? signalPassFailure() : failPass(error);
  }

  // --- State of one run (run() sets it up; the steps below read and update it). ---
  ModuleOp module;
  rt::Model *model = nullptr;
  calib::LayerRunner *runner = nullptr;
  const rt::Program *prog = nullptr;
  std::set<int64_t> selected, foldable; // program weight indices
  /// The fp32 values of every weight this pass changes, by program index, and the masks
  /// of the pruned ones (absent for dense weights), read with their values.
  std::map<int64_t, std::vector<float>> current;
  std::set<int64_t> replacedInLayer; // weights the model computes with replacements of
  std::map<int64_t, std::vector<uint8_t>> keepOf;
  llvm::StringMap<EncodedWeight> encoded;
  std::shared_ptr<EncodedSpill> spill; // (copyable: passes are cloned) each layer's encodings on disk until the rewrite
  std::set<int64_t> done;
  std::map<std::string, std::string> notes; // llm.rescaled, by parameter
  std::string error;
  bool rewriteReported = false; // writeResults' rewrite failed and emitted its own error

  /// One decoder layer (segment) being calibrated: its input groups, their statistics,
  /// clip samples and (for lone projections) whole inputs, and what block each feeds.
  struct Layer {
    int64_t segment = 0;
    std::string where; // "layer N" or "head", for messages
    const std::vector<std::vector<int64_t>> *groups = nullptr;
    std::vector<int64_t> selectedGroups; // groups with a selected weight
    std::vector<calib::InputStats> stats;
    std::vector<std::vector<float>> clipRows, inputs, scales;
    std::vector<Block> kind;
    std::set<int64_t> qk; // weights producing attention queries and keys: no clip search
  };

  const std::string &nameOf(int64_t w) const { return prog->weights[size_t(w)].name; }
  const std::vector<int64_t> &shapeOf(int64_t w) const { return prog->weights[size_t(w)].shape; }

  /// The current fp32 values of weight `w` (read on first use); null with `error`.
  std::vector<float> *values(int64_t w) {
    auto it = current.find(w);
    if (it != current.end())
      return &it->second;
    std::vector<float> v;
    std::vector<uint8_t> keep;
    if (!readWeightF32(module, nameOf(w), v, error, &keep))
      return nullptr;
    auto param = SymbolTable::lookupNearestSymbolFrom<ParamOp>(
        module, StringAttr::get(module.getContext(), nameOf(w)));
    if (param && param.getWeightType().getSparsity())
      keepOf[w] = std::move(keep);
    return &(current[w] = std::move(v));
  }

  /// The model computes with current[w] from now on.
  void push(int64_t w) {
    const std::vector<int64_t> &sh = shapeOf(w);
    int64_t rows = sh.size() == 2 ? sh[0] : 1;
    model->replaceWeight(w, current[w].data(), rows, sh.back());
    replacedInLayer.insert(w);
  }

  void note(int64_t w, const std::string &what) {
    std::string &n = notes[nameOf(w)];
    n += (n.empty() ? "" : "; ") + what;
  }

  quant::AffineParams paramsFor(int64_t k) const {
    quant::AffineParams p{int(bits), int64_t(groupSize), symmetric};
    p.groupSize = std::min<int64_t>(p.groupSize, k);
    return p;
  }

  std::string groupName(const Layer &l, size_t g) const {
    const std::vector<int64_t> &group = (*l.groups)[g];
    return nameOf(group[0]) +
           (group.size() > 1 ? " (+" + std::to_string(group.size() - 1) + ")" : "");
  }

  bool run(ModuleOp m, const std::vector<std::string> &selectedNames, std::string &err) {
    auto start = std::chrono::steady_clock::now();
    module = m;
    selected.clear(), foldable.clear(), current.clear(), keepOf.clear(), encoded.clear();
    spill = std::make_shared<EncodedSpill>();
    done.clear(), notes.clear(), error.clear();
    std::vector<std::string> projectionNames;
    std::string ignored;
    selectWeights(module, kPass, ".", "", projectionNames, ignored, /*allowPruned=*/true);
    calib::CalibrationOptions options = calibrationOptions(/*hessian=*/false);
    calib::CalibrationContext context;
    if (!calib::openCalibration(module, options, kPass, context, err))
      return false;
    model = context.model.get();
    runner = context.runner.get();
    prog = &model->program();
    for (const std::string &n : selectedNames)
      selected.insert(model->weightIndex(n));
    for (const std::string &n : projectionNames)
      foldable.insert(model->weightIndex(n));
    for (size_t i = 0; i < prog->weights.size(); ++i)
      if (prog->weights[i].shape.size() == 1)
        foldable.insert(int64_t(i)); // norm weights
    selected.erase(-1);
    foldable.erase(-1);
    for (int64_t s = 0; s < runner->numSegments(); ++s)
      if (!calibrateLayer(s)) {
        err = error;
        return false;
      }
    if (done.size() != selected.size()) {
      err = prefix() + "some selected weights are not read by any linear layer of the "
                       "compiled model";
      return false;
    }
    llvm::errs() << kPass << ": calibration done in "
                 << llvm::format("%.2f", std::chrono::duration<double>(
                                             std::chrono::steady_clock::now() - start)
                                             .count())
                 << " s\n";
    return writeResults(err);
  }

  /// Steps 1 to 3 on decoder layer `s`, then the layer runs with its quantized weights.
  bool calibrateLayer(int64_t s) {
    auto layerStart = std::chrono::steady_clock::now();
    Layer l;
    l.segment = s;
    l.groups = &runner->inputGroups(s);
    for (size_t g = 0; g < l.groups->size(); ++g)
      for (int64_t w : (*l.groups)[g])
        if (selected.count(w)) {
          l.selectedGroups.push_back(int64_t(g));
          break;
        }
    if (l.selectedGroups.empty()) {
      if (s + 1 < runner->numSegments())
        runner->advance(s);
      return true;
    }
    l.where = s + 1 < runner->numSegments() ? "layer " + std::to_string(s) : "head";
    observeLayer(l);
    l.scales.resize(l.groups->size());
    for (int64_t g : l.selectedGroups)
      if (!searchAndApplyScales(l, size_t(g)))
        return false;
    for (int64_t g : l.selectedGroups)
      if (!quantizeGroup(l, size_t(g)))
        return false;
    if (s + 1 < runner->numSegments())
      runner->advance(s);
    // The layer has fed the next one and will not run again: the model's copies of its
    // weights go (`current` keeps what the output needs).
    for (int64_t w : replacedInLayer)
      model->releaseReplacement(w);
    replacedInLayer.clear();
    // Nor will its quantized weights change again (scales fold only into this layer's
    // weights): their encoding is kept, the fp32 copies go, so AWQ holds one layer's
    // weights in fp32 at a time. What stays dense (norms, rescaled unselected projections)
    // is kept for writeResults.
    for (int64_t g : l.selectedGroups)
      for (int64_t w : (*l.groups)[size_t(g)])
        if (encoded.count(nameOf(w)))
          current.erase(w);
    llvm::errs() << kPass << ": " << l.where << ": " << l.selectedGroups.size() << " input group"
                 << (l.selectedGroups.size() == 1 ? "" : "s") << " searched and quantized in "
                 << llvm::format("%.2f", std::chrono::duration<double>(
                                             std::chrono::steady_clock::now() - layerStart)
                                             .count())
                 << " s\n";
    return true;
  }

  /// 1. Statistics, clip samples and inputs of every group, in full precision, and the
  /// kind of block each group feeds.
  void observeLayer(Layer &l) {
    const std::vector<std::vector<int64_t>> &groups = *l.groups;
    size_t n = groups.size();
    int64_t total = runner->rows(),
            stride = std::max<int64_t>(1, total / std::max<int64_t>(1, clipTokens));
    l.clipRows.resize(n);
    l.inputs.resize(n);
    l.kind.assign(n, Block::Linear);
    for (size_t g = 0; g < n; ++g) {
      l.stats.emplace_back(shapeOf(groups[g][0])[1], /*hessian=*/useGPTQ);
      if (g + 1 >= n)
        continue;
      int64_t p = runner->inputProducer(l.segment, int64_t(g + 1));
      if (p >= 0 && prog->calls[size_t(p)].op == OpCode::Attention) {
        l.kind[g] = Block::Attention;
        auto at = rt::calls::Attention::decode(prog->calls[size_t(p)]);
        for (int64_t slot : {at.q, at.k}) {
          int64_t writer = runner->lastWriter(slot, size_t(p));
          if (writer >= 0 && prog->calls[size_t(writer)].op == OpCode::MatMul)
            l.qk.insert(rt::calls::MatMul::decode(prog->calls[size_t(writer)]).weight);
        }
      }
      if (p >= 0 && (prog->calls[size_t(p)].op == OpCode::GateUpSwiGLU ||
                     prog->calls[size_t(p)].op == OpCode::SwiGLU))
        l.kind[g] = Block::MLP;
    }
    std::vector<int64_t> seen(n, 0);
    const int64_t searchRows =
        searchSamples > 0 ? std::min(total, searchSamples * runner->sampleLength()) : total;
    runner->observe(l.segment, [&](int64_t g, const float *x, int64_t rows) {
      size_t gi = size_t(g);
      int64_t k = l.stats[gi].k;
      l.stats[gi].add(x, rows);
      for (int64_t r = 0; r < rows; ++r, ++seen[gi])
        if (seen[gi] % stride == 0 && int64_t(l.clipRows[gi].size()) < clipTokens * k)
          l.clipRows[gi].insert(l.clipRows[gi].end(), x + r * k, x + (r + 1) * k);
      // Inputs kept whole: those a lone projection's output is computed from, as far as
      // the search reads them (search-samples: the first samples' rows; the down
      // projection's input of every sample would be 200 MB on SmolLM2).
      if (l.kind[gi] == Block::Linear) {
        int64_t kept = int64_t(l.inputs[gi].size()) / k;
        int64_t take = std::min(rows, std::max<int64_t>(0, searchRows - kept));
        l.inputs[gi].insert(l.inputs[gi].end(), x, x + take * k);
      }
    });
  }

  /// The block output of group `g` with the weights the model has now (`candidate`: the
  /// group's weights, for a lone projection, which is computed here rather than run).
  std::vector<float> blockOutput(Layer &l, size_t g,
                                 const std::vector<std::vector<float>> *candidate) {
    const std::vector<std::vector<int64_t>> &groups = *l.groups;
    if (l.kind[g] == Block::Linear) {
      // The kept inputs: the first search-samples' rows (observeLayer keeps no more).
      int64_t rows = int64_t(l.inputs[g].size()) / shapeOf(groups[g][0])[1];
      std::vector<float> out;
      for (size_t i = 0; i < groups[g].size(); ++i) {
        int64_t w = groups[g][i];
        const std::vector<int64_t> &sh = shapeOf(w);
        const float *wv = candidate ? (*candidate)[i].data() : values(w)->data();
        std::vector<float> y = linearRows(l.inputs[g], rows, wv, sh[0], sh[1]);
        out.insert(out.end(), y.begin(), y.end());
      }
      return out;
    }
    std::vector<float> next;
    int64_t k = l.stats[g + 1].k;
    runner->observe(
        l.segment,
        [&](int64_t h, const float *x, int64_t rows) {
          if (size_t(h) == g + 1)
            next.insert(next.end(), x, x + rows * k);
        },
        int64_t(g + 1), searchSamples > 0 ? int64_t(searchSamples) : -1);
    if (l.kind[g] == Block::Attention)
      return next;
    int64_t down = groups[g + 1][0]; // the MLP's output projection
    return linearRows(next, int64_t(next.size()) / k, values(down)->data(), shapeOf(down)[0],
                      shapeOf(down)[1]);
  }

  /// 2. The weight that can absorb 1/s for group `g` (a norm vector or a projection's
  /// rows), or -1 with `why` not.
  int64_t foldTarget(const Layer &l, size_t g, std::string &why) const {
    int64_t producer = runner->inputProducer(l.segment, int64_t(g));
    if (producer < 0) {
      why = "its input is computed in an earlier layer";
      return -1;
    }
    const rt::Call &c = prog->calls[size_t(producer)];
    int64_t target = -1;
    // The output is linear in the norm's weight, the up projection's rows (silu(gate)
    // * up), a projection's rows, or, through silu(gate) * up and attention (linear
    // in v), the rows of the up or v projection that wrote that input.
    int64_t through = -1; // a slot whose writer's rows may absorb the scale
    if (c.op == OpCode::RMSNorm)
      target = rt::calls::RMSNorm::decode(c).weight;
    else if (c.op == OpCode::AddRMSNorm)
      target = rt::calls::AddRMSNorm::decode(c).weight;
    else if (c.op == OpCode::GateUpSwiGLU)
      target = rt::calls::GateUpSwiGLU::decode(c).up;
    else if (c.op == OpCode::MatMul)
      target = rt::calls::MatMul::decode(c).weight;
    else if (c.op == OpCode::SwiGLU)
      through = rt::calls::SwiGLU::decode(c).up;
    else if (c.op == OpCode::Attention) {
      auto at = rt::calls::Attention::decode(c);
      if (at.heads != at.kvHeads)
        why = "v and o differ in shape (grouped-query attention)";
      else
        through = at.v;
    }
    if (through >= 0) {
      int64_t writer = runner->lastWriter(through, size_t(producer));
      if (writer >= 0 && prog->calls[size_t(writer)].op == OpCode::MatMul)
        target = rt::calls::MatMul::decode(prog->calls[size_t(writer)]).weight;
    }
    if (target >= 0 && foldable.count(target))
      return target;
    if (why.empty())
      why = std::string("its input comes from ") + rt::opName(c.op) +
            ", which cannot absorb a scale";
    return -1;
  }

  /// 2 and 3a for group `g`: α searched with Q(W·diag(s))·diag(s)⁻¹ in the model, then
  /// W·diag(s) on the group and 1/s into the producer's weight.
  bool searchAndApplyScales(Layer &l, size_t g) {
    const std::vector<int64_t> &group = (*l.groups)[g];
    std::string why;
    int64_t fold = foldTarget(l, g, why);
    int64_t k = l.stats[g].k;
    if (fold < 0) {
      l.scales[g].assign(size_t(k), 1.0f);
      llvm::errs() << kPass << ": " << l.where << ", " << groupName(l, g) << ": not scaled ("
                   << why << ")\n";
      return true;
    }
    std::vector<float> meanAbs = l.stats[g].meanAbs();
    std::vector<float> reference = blockOutput(l, g, nullptr);
    double bestLoss = INFINITY, rtnLoss = 0, bestAlpha = 0;
    for (double alpha : quant::awqAlphaGrid(grid)) {
      std::vector<float> sAlpha = quant::awqScales(meanAbs, alpha);
      std::vector<std::vector<float>> cand;
      for (int64_t w : group) {
        const std::vector<int64_t> &sh = shapeOf(w);
        cand.push_back(
            quant::quantizeScaled(values(w)->data(), sh[0], sh[1], sAlpha, paramsFor(k)));
        model->replaceWeight(w, cand.back().data(), sh[0], sh[1]);
        replacedInLayer.insert(w);
      }
      double loss = meanSquaredDiff(blockOutput(l, g, &cand), reference);
      if (alpha == 0)
        rtnLoss = loss;
      if (loss < bestLoss) {
        bestLoss = loss;
        bestAlpha = alpha;
        l.scales[g] = sAlpha;
      }
    }
    for (int64_t w : group)
      push(w); // back to full precision for the next group's search
    llvm::errs() << kPass << ": " << l.where << ", " << groupName(l, g) << ": alpha "
                 << llvm::format("%.2f", bestAlpha) << ", block error "
                 << llvm::format("%.4g", bestLoss) << " (RTN " << llvm::format("%.4g", rtnLoss)
                 << "), 1/s into " << nameOf(fold) << "\n";
    const std::vector<float> &sc = l.scales[g];
    std::string alphaText;
    llvm::raw_string_ostream(alphaText) << llvm::format("%.2f", bestAlpha);
    for (int64_t w : group)
      note(w, "awq: input channels scaled by s, alpha " + alphaText);
    note(fold, "awq: absorbs 1/s of " + nameOf(group[0]) +
                   (group.size() > 1 ? " and its group" : "") + ", alpha " + alphaText);
    for (int64_t w : group) {
      std::vector<float> *v = values(w);
      if (!v)
        return false;
      for (size_t i = 0; i < v->size(); ++i)
        (*v)[i] *= sc[i % size_t(k)];
    }
    std::vector<float> *f = values(fold);
    if (!f)
      return false;
    if (shapeOf(fold).size() == 1) {
      for (int64_t j = 0; j < k; ++j)
        (*f)[size_t(j)] /= sc[size_t(j)];
    } else { // rows of the producing projection
      int64_t fk = shapeOf(fold)[1];
      for (int64_t j = 0; j < k; ++j)
        for (int64_t c = 0; c < fk; ++c)
          (*f)[size_t(j * fk + c)] /= sc[size_t(j)];
    }
    for (int64_t w : group)
      push(w);
    push(fold);
    return true;
  }

  /// 3b. Clip search and RTN (or GPTQ) on group `g`'s scaled weights; the model computes
  /// with the quantized values from now on.
  bool quantizeGroup(Layer &l, size_t g) {
    int64_t k = l.stats[g].k;
    std::vector<float> x = l.clipRows[g];
    for (size_t i = 0; i < x.size(); ++i)
      x[i] /= l.scales[g][i % size_t(k)];
    // GPTQ sees the scaled inputs X·diag(s)⁻¹: H' = diag(s)⁻¹ H diag(s)⁻¹.
    std::vector<float> hScaled;
    if (useGPTQ) {
      hScaled = l.stats[g].hessian();
      for (int64_t i = 0; i < k; ++i)
        for (int64_t j = 0; j < k; ++j)
          hScaled[size_t(i * k + j)] /= l.scales[g][size_t(i)] * l.scales[g][size_t(j)];
    }
    for (int64_t w : (*l.groups)[g]) {
      if (!selected.count(w))
        continue; // rescaled only: written dense
      auto wStart = std::chrono::steady_clock::now();
      std::vector<float> *v = values(w);
      if (!v)
        return false;
      const std::vector<int64_t> &sh = shapeOf(w);
      quant::AffineParams p = paramsFor(k);
      int64_t clipped = 0;
      bool clipIt = clip && !l.qk.count(w);
      if (clipIt)
        clipped =
            quant::clipSearch(v->data(), sh[0], sh[1], x.data(), int64_t(x.size()) / k, p);
      auto keep = keepOf.find(w);
      const uint8_t *mask = keep != keepOf.end() ? keep->second.data() : nullptr;
      quant::AffineMatrix m;
      if (!roundWeight(w, *v, p, hScaled, mask, m))
        return false;
      EncodedWeight e;
      auto param = SymbolTable::lookupNearestSymbolFrom<ParamOp>(
          module, StringAttr::get(module.getContext(), nameOf(w)));
      if (mask)
        encodeAffineSparse(param.getWeightType(), m, p, keep->second, e);
      else
        encodeAffine(param.getWeightType(), m, p, e);
      e.description = "int" + std::to_string(p.bits) + " g" + std::to_string(p.groupSize) +
                      (p.symmetric ? " sym" : "") + (useGPTQ ? " awq+gptq" : " awq") +
                      (clipIt ? ", " + std::to_string(clipped) + " groups clipped" : "") +
                      (mask ? ", pruned mask kept" : "");
      push(w);
      e.millis = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                           wStart)
                     .count();
      if (std::string why; !spill->spill(e, why)) {
        error = prefix() + why;
        return false;
      }
      encoded[nameOf(w)] = std::move(e);
      done.insert(w);
    }
    return true;
  }

  /// Weight `w`'s values `v` quantized with `p` (GPTQ with `hessian`, mask-aware, or RTN):
  /// the codes in `m`, the dequantized values back in `v`.
  bool roundWeight(int64_t w, std::vector<float> &v, const quant::AffineParams &p,
                   const std::vector<float> &hessian, const uint8_t *mask,
                   quant::AffineMatrix &m) {
    const std::vector<int64_t> &sh = shapeOf(w);
    if (!useGPTQ) {
      m = quant::quantizeRTN(v.data(), sh[0], sh[1], p);
      v = quant::roundTrip(v.data(), sh[0], sh[1], p);
      return true;
    }
    quant::GPTQOptions o;
    o.affine = p;
    o.damp = damp;
    o.keep = mask;
    quant::GPTQResult r;
    std::string why;
    if (!quant::quantizeGPTQ(v.data(), sh[0], sh[1], hessian.data(), o, r, why)) {
      error = prefix() + "weight '" + nameOf(w) + "': " + why;
      return false;
    }
    m = std::move(r.matrix);
    v = std::move(r.dequantized);
    return true;
  }

  /// The quantized weights, the rescaled ones that stay dense (with their new values) and
  /// the llm.rescaled notes, into the module and its parameter file. False when the rewrite
  /// failed, which reported why itself (rewriteReported).
  bool writeResults(std::string &err) {
    std::map<std::string, std::vector<float>> dense;
    for (auto &[w, v] : current)
      if (!encoded.count(nameOf(w)))
        dense[nameOf(w)] = std::move(v);
    WeightEncoder encode = precomputedEncoder(encoded);
    if (failed(rewriteWeights(module, kPass, include, exclude, output, encode, &dense,
                              /*allowPruned=*/true))) {
      rewriteReported = true;
      return false;
    }
    for (ParamOp param : module.getOps<ParamOp>())
      if (auto it = notes.find(param.getSymName().str()); it != notes.end())
        param->setAttr(LLMDialect::kRescaledAttrName,
                       StringAttr::get(module.getContext(), it->second));
    return true;
  }

  static std::string prefix() { return std::string(kPass) + ": "; }
};

} // namespace
