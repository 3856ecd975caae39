//===- GradientNorms.cpp - GBLM's gradient norms by a backward pass --------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Calibrate/GradientNorms.h"

#include "midllama/Calibrate/CalibrationData.h"
#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "midllama/Target/Artifact.h"
#include "midllama/Params/ParamFiles.h"
#include "midllama/Calibrate/Backward.h"
#include "runtime/params/Half.h"

#include "mlir/IR/SymbolTable.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <functional>
#include <cmath>
#include <cstring>

using namespace mlir;
using namespace midllama;
using namespace midllama::calib;
namespace cpu = midllama::rt::cpu;

namespace {

/// One decoder layer's weights, fp32 row-major.
struct Layer {
  std::vector<float> norm1, q, k, v, o, norm2, gate, up, down;
};

/// What the forward pass keeps of one layer for the backward pass.
struct Saved {
  std::vector<float> in, a, q, k, v, attn, h, b, gate, up, act;
};

const char *kProjections[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                              "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj",
                              "mlp.down_proj"};

cpu::WeightRef ref(const std::vector<float> &w, int64_t n, int64_t k) {
  return cpu::WeightRef{w.data(), rt::DType::F32, n, k};
}

/// The decoder's sizes and its attention and norm constants, from the compiled program.
struct Dims {
  int64_t layers = 0, vocab = 0, dim = 0, ffn = 0, qw = 0, kw = 0;
  cpu::AttentionParams ap{};
  float eps = 1e-5f;
};

Dims dimsOf(const rt::Model &model) {
  const rt::Program &prog = model.program();
  Dims d;
  d.layers = model.numLayers();
  d.vocab = model.vocabSize();
  d.dim = prog.configInt("hidden_size", 0);
  d.ap = cpu::AttentionParams{prog.configInt("num_heads", 0), prog.configInt("num_kv_heads", 0),
                              prog.configInt("head_dim", 0), 0, 0, 0, false};
  for (const rt::Call &c : prog.calls) {
    if (c.op == rt::OpCode::Attention) {
      auto at = rt::calls::Attention::decode(c);
      d.ap.scale = at.scale;
      d.ap.theta = at.theta;
      d.ap.rotaryDim = at.rotaryDim;
      d.ap.interleaved = at.interleaved;
    }
    if (c.op == rt::OpCode::RMSNorm)
      d.eps = rt::calls::RMSNorm::decode(c).eps;
    if (c.op == rt::OpCode::AddRMSNorm)
      d.eps = rt::calls::AddRMSNorm::decode(c).eps;
  }
  d.qw = d.ap.heads * d.ap.headDim;
  d.kw = d.ap.kvHeads * d.ap.headDim;
  return d;
}

/// The model's weights by their Hugging Face names, as fp32.
struct Weights {
  std::vector<float> embed, finalNorm;
  std::vector<float> untiedHead; // empty when the LM head is the embedding (not copied)
  std::vector<Layer> layers;
  const std::vector<float> &head() const { return untiedHead.empty() ? embed : untiedHead; }
};

/// Reads the dense weight `name` (F32 or F16) of `count` values into `out`.
bool readDense(SymbolTable &symbols, const rt::ParamFile &file, const std::string &name,
               int64_t count, std::vector<float> &out, std::string &error) {
  auto param = symbols.lookup<llm::ParamOp>(name);
  const rt::TensorView *t = param ? file.find(storedName(param)) : nullptr;
  if (!param || !param.getWeightType().isDense() || !t || t->numElements() != count ||
      (t->dtype != rt::DType::F32 && t->dtype != rt::DType::F16)) {
    error = "computing gradients needs the dense weight '" + name +
            "' (Hugging Face names: run --llm-name-weights; prune or quantize after)";
    return false;
  }
  out.resize(size_t(count));
  for (int64_t i = 0; i < count; ++i) {
    if (t->dtype == rt::DType::F32) {
      std::memcpy(&out[size_t(i)], t->data + 4 * i, 4);
    } else {
      uint16_t h;
      std::memcpy(&h, t->data + 2 * i, 2);
      out[size_t(i)] = rt::halfToFloat(h);
    }
  }
  file.evict(*t); // copied: the file's pages need not stay resident beside the copy
  return true;
}

bool readWeights(ModuleOp module, Dims &d, Weights &w, std::string &error) {
  std::unique_ptr<rt::ParamFile> file = openModuleParams(module, "", error);
  if (!file)
    return false;
  SymbolTable symbols(module);
  auto read = [&](const std::string &name, int64_t count, std::vector<float> &out) {
    return readDense(symbols, *file, name, count, out, error);
  };
  if (auto gate = symbols.lookup<llm::ParamOp>("model.layers.0.mlp.gate_proj.weight"))
    d.ffn = gate.getWeightType().getShape()[0];
  w.layers.resize(size_t(d.layers));
  if (!read("model.embed_tokens.weight", d.vocab * d.dim, w.embed) ||
      !read("model.norm.weight", d.dim, w.finalNorm))
    return false;
  if (symbols.lookup<llm::ParamOp>("lm_head.weight")) {
    if (!read("lm_head.weight", d.vocab * d.dim, w.untiedHead))
      return false;
  }
  int64_t dim = d.dim, qw = d.qw, kw = d.kw, ffn = d.ffn;
  for (int64_t l = 0; l < d.layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    Layer &L = w.layers[size_t(l)];
    if (!read(p + "input_layernorm.weight", dim, L.norm1) ||
        !read(p + "self_attn.q_proj.weight", qw * dim, L.q) ||
        !read(p + "self_attn.k_proj.weight", kw * dim, L.k) ||
        !read(p + "self_attn.v_proj.weight", kw * dim, L.v) ||
        !read(p + "self_attn.o_proj.weight", dim * qw, L.o) ||
        !read(p + "post_attention_layernorm.weight", dim, L.norm2) ||
        !read(p + "mlp.gate_proj.weight", ffn * dim, L.gate) ||
        !read(p + "mlp.up_proj.weight", ffn * dim, L.up) ||
        !read(p + "mlp.down_proj.weight", dim * ffn, L.down))
      return false;
  }
  return true;
}

/// One layer forward over `T` positions of `x` (updated in place), keeping in `S` what
/// the backward pass needs.
void forwardLayer(const Dims &d, const Layer &L, int64_t T, std::vector<float> &x, Saved &S) {
  int64_t dim = d.dim, qw = d.qw, kw = d.kw, ffn = d.ffn;
  const cpu::AttentionParams &ap = d.ap;
  cpu::AttentionParams noRotation = ap;
  noRotation.rotaryDim = 0; // the rotation is applied (and undone) here, not in the kernel
  S.in = x;
  S.a.resize(x.size());
  cpu::rmsNorm(x.data(), S.a.data(), T, dim, ref(L.norm1, 1, dim), d.eps);
  S.q.resize(size_t(T * qw));
  S.k.resize(size_t(T * kw));
  S.v.resize(size_t(T * kw));
  cpu::matmul(S.a.data(), S.q.data(), T, ref(L.q, qw, dim));
  cpu::matmul(S.a.data(), S.k.data(), T, ref(L.k, kw, dim));
  cpu::matmul(S.a.data(), S.v.data(), T, ref(L.v, kw, dim));
  backward::rotary(S.q.data(), T, ap.heads, ap, false);
  backward::rotary(S.k.data(), T, ap.kvHeads, ap, false);
  std::vector<float> qq = S.q, kk = S.k, kc(size_t(kw * cpu::keyCacheStride(T))),
      vc(S.v.size());
  std::vector<int64_t> pos(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t)
    pos[size_t(t)] = t;
  S.attn.resize(size_t(T * qw));
  cpu::attention(qq.data(), kk.data(), S.v.data(), S.attn.data(), pos.data(), T, kc.data(),
                 vc.data(), T, noRotation);
  std::vector<float> o(x.size());
  cpu::matmul(S.attn.data(), o.data(), T, ref(L.o, dim, qw));
  S.h.resize(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    S.h[i] = x[i] + o[i];
  S.b.resize(x.size());
  cpu::rmsNorm(S.h.data(), S.b.data(), T, dim, ref(L.norm2, 1, dim), d.eps);
  S.gate.resize(size_t(T * ffn));
  S.up.resize(size_t(T * ffn));
  S.act.resize(size_t(T * ffn));
  cpu::matmul(S.b.data(), S.gate.data(), T, ref(L.gate, ffn, dim));
  cpu::matmul(S.b.data(), S.up.data(), T, ref(L.up, ffn, dim));
  cpu::swiglu(S.gate.data(), S.up.data(), S.act.data(), T * ffn);
  std::vector<float> down(x.size());
  cpu::matmul(S.act.data(), down.data(), T, ref(L.down, dim, ffn));
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = S.h[i] + down[i];
}

/// One layer backward: `dx` (the gradient of the layer's output) becomes that of its
/// input; dW[p] gets the gradient of projection p (in the order of kProjections; none
/// where dW[p] is empty) and dY[p] the gradient of its output.
void backwardLayer(const Dims &d, const Layer &L, const Saved &S, int64_t T,
                   std::vector<float> &dx, std::vector<std::vector<float>> &dW,
                   std::vector<std::vector<float>> &dY) {
  auto w = [&](size_t p) { return dW[p].empty() ? nullptr : dW[p].data(); };
  int64_t dim = d.dim, qw = d.qw, kw = d.kw, ffn = d.ffn;
  const cpu::AttentionParams &ap = d.ap;
  // x_out = h + down(act): dh = dx, dact = dx · Wd.
  std::vector<float> dh = dx, dact(S.act.size(), 0.0f), dgate(S.act.size(), 0.0f),
                     dup(S.act.size(), 0.0f), db(dx.size(), 0.0f);
  backward::linear(S.act.data(), L.down.data(), dx.data(), T, dim, ffn, dact.data(), w(6));
  backward::swiglu(S.gate.data(), S.up.data(), dact.data(), T * ffn, dgate.data(), dup.data());
  backward::linear(S.b.data(), L.gate.data(), dgate.data(), T, ffn, dim, db.data(), w(4));
  backward::linear(S.b.data(), L.up.data(), dup.data(), T, ffn, dim, db.data(), w(5));
  backward::rmsNorm(S.h.data(), L.norm2.data(), db.data(), T, dim, d.eps, dh.data());
  dY[6] = dx;
  dY[4] = std::move(dgate);
  dY[5] = std::move(dup);
  // h = in + o(attn): din = dh, dattn = dh · Wo.
  std::vector<float> din = dh, dattn(S.attn.size(), 0.0f), dq(S.q.size(), 0.0f),
                     dk(S.k.size(), 0.0f), dv(S.v.size(), 0.0f), da(dx.size(), 0.0f);
  backward::linear(S.attn.data(), L.o.data(), dh.data(), T, dim, qw, dattn.data(), w(3));
  backward::attention(S.q.data(), S.k.data(), S.v.data(), dattn.data(), T, ap, dq.data(),
                      dk.data(), dv.data());
  backward::rotary(dq.data(), T, ap.heads, ap, true);
  backward::rotary(dk.data(), T, ap.kvHeads, ap, true);
  backward::linear(S.a.data(), L.q.data(), dq.data(), T, qw, dim, da.data(), w(0));
  backward::linear(S.a.data(), L.k.data(), dk.data(), T, kw, dim, da.data(), w(1));
  backward::linear(S.a.data(), L.v.data(), dv.data(), T, kw, dim, da.data(), w(2));
  backward::rmsNorm(S.in.data(), L.norm1.data(), da.data(), T, dim, d.eps, din.data());
  dY[3] = std::move(dh);
  dY[0] = std::move(dq);
  dY[1] = std::move(dk);
  dY[2] = std::move(dv);
  dx = std::move(din);
}

/// Called for projection `p` (kProjections' order) of `layer` after each sample's
/// backward pass: `dW` its weight's gradient (empty unless asked for), `dY` the [T, n]
/// gradient of its output, both of the sample's mean loss.
using ProjectionVisitor =
    std::function<void(int64_t layer, size_t p, const std::vector<float> &dW,
                       const std::vector<float> &dY, int64_t T)>;

/// The forward and backward pass over every calibration sample (`what` names the progress
/// lines), `visit` called with each projection's gradients. `meanLoss`: the samples' mean.
bool backpropagate(ModuleOp module, const CalibrationOptions &options, const char *what,
                   bool weightGradients, const ProjectionVisitor &visit, double &meanLoss,
                   std::string &error) {
  auto start = std::chrono::steady_clock::now();
  // The model's shape from its compiled program, the tokenizer and the samples.
  std::vector<int64_t> layerOfWeight;
  std::string tokenizerPath = options.tokenizer.empty() ? findTokenizerFor(module, "")
                                                        : options.tokenizer;
  std::unique_ptr<rt::Model> model =
      compileForCalibration(module, tokenizerPath, layerOfWeight, error);
  if (!model)
    return false;
  Dims d = dimsOf(*model);
  std::unique_ptr<rt::Tokenizer> tokenizer;
  if (model->tokenizerSize() > 0)
    tokenizer = rt::Tokenizer::fromBytes(
        std::string_view(reinterpret_cast<const char *>(model->tokenizerData()),
                         size_t(model->tokenizerSize())),
        tokenizerPath, error);
  std::vector<std::vector<int32_t>> samples;
  if (!sampleCalibrationTokens(options.data, tokenizer.get(), d.vocab, options.samples,
                               options.length, options.seed, samples, error))
    return false;
  Weights w;
  if (!readWeights(module, d, w, error))
    return false;
  int64_t dim = d.dim, vocab = d.vocab;
  const int64_t shapes[7][2] = {{d.qw, dim},  {d.kw, dim},  {d.kw, dim}, {dim, d.qw},
                                {d.ffn, dim}, {d.ffn, dim}, {dim, d.ffn}};
  double totalLoss = 0;
  // Reused from sample to sample (allocated afresh, their pages were faulted in and zeroed
  // by the kernel every time: a sixth of the pass).
  std::vector<Saved> saved(static_cast<size_t>(d.layers));
  std::vector<float> logits, dlogits;
  std::vector<std::vector<float>> dW(7), dY(7);
  for (size_t n = 0; n < samples.size(); ++n) {
    const std::vector<int32_t> &tokens = samples[n];
    int64_t T = int64_t(tokens.size());
    // Forward, keeping each layer's activations.
    std::vector<float> x(static_cast<size_t>(T * dim));
    for (int64_t t = 0; t < T; ++t)
      std::memcpy(&x[size_t(t * dim)], &w.embed[size_t(tokens[size_t(t)] * dim)],
                  size_t(dim) * 4);
    for (int64_t l = 0; l < d.layers; ++l)
      forwardLayer(d, w.layers[size_t(l)], T, x, saved[size_t(l)]);
    std::vector<float> f(x.size());
    logits.resize(static_cast<size_t>(T * vocab));
    cpu::rmsNorm(x.data(), f.data(), T, dim, ref(w.finalNorm, 1, dim), d.eps);
    cpu::matmul(f.data(), logits.data(), T, ref(w.head(), vocab, dim));
    std::vector<int32_t> labels(static_cast<size_t>(T), -1);
    for (int64_t t = 0; t + 1 < T; ++t)
      labels[size_t(t)] = tokens[size_t(t + 1)];
    dlogits.resize(logits.size());
    totalLoss += backward::crossEntropy(logits.data(), labels.data(), T, vocab, dlogits.data());

    // Backward.
    std::vector<float> df(x.size(), 0.0f), dx(x.size(), 0.0f);
    backward::linear(f.data(), w.head().data(), dlogits.data(), T, vocab, dim, df.data(),
                     nullptr);
    backward::rmsNorm(x.data(), w.finalNorm.data(), df.data(), T, dim, d.eps, dx.data());
    for (int64_t l = d.layers - 1; l >= 0; --l) {
      if (weightGradients)
        for (size_t p = 0; p < 7; ++p)
          dW[p].assign(size_t(shapes[p][0] * shapes[p][1]), 0.0f);
      backwardLayer(d, w.layers[size_t(l)], saved[size_t(l)], T, dx, dW, dY);
      for (size_t p = 0; p < 7; ++p)
        visit(l, p, dW[p], dY[p], T);
    }
    if ((n + 1) % 16 == 0 || n + 1 == samples.size())
      llvm::errs() << what << ": sample " << n + 1 << "/" << samples.size() << ", mean loss "
                   << llvm::format("%.4f", totalLoss / double(n + 1)) << "\n";
  }
  meanLoss = totalLoss / double(samples.size());
  llvm::errs() << what << ": " << samples.size() << " samples in "
               << llvm::format("%.2f", std::chrono::duration<double>(
                                           std::chrono::steady_clock::now() - start)
                                           .count())
               << " s\n";
  return true;
}

std::string projectionName(int64_t layer, size_t p) {
  return "model.layers." + std::to_string(layer) + "." + kProjections[p] + ".weight";
}

} // namespace

bool calib::computeGradientNorms(ModuleOp module, const CalibrationOptions &options,
                                 double alpha, GradientNorm norm,
                                 std::map<std::string, std::vector<float>> &norms,
                                 double &meanLoss, std::string &error) {
  // Σ (α g)² (L2) or Σ |α g| (L1) per weight, summed in fp32 as the reference
  // (GBLM-Pruner's gradient_computation.py: float32 L2 accumulators; its L1 ones are fp16,
  // ours fp32). One accumulator per projection weight is the pass's largest buffer (425 MB
  // on SmolLM2; doubles took twice that).
  const float a = float(alpha);
  std::map<std::string, std::vector<float>> sums;
  auto visit = [&](int64_t layer, size_t p, const std::vector<float> &dW,
                   const std::vector<float> &, int64_t) {
    std::vector<float> &sum = sums[projectionName(layer, p)];
    sum.resize(dW.size(), 0.0f);
    for (size_t i = 0; i < dW.size(); ++i) {
      float g = a * dW[i];
      sum[i] += norm == GradientNorm::L2 ? g * g : std::fabs(g);
    }
  };
  if (!backpropagate(module, options, "gradients", /*weightGradients=*/true, visit, meanLoss,
                     error))
    return false;
  norms.clear();
  for (auto &[name, sum] : sums) {
    if (norm == GradientNorm::L2)
      for (float &v : sum)
        v = std::sqrt(v);
    norms[name] = std::move(sum); // in place: no second copy of every weight's norms
  }
  return true;
}

bool calib::computeOutputFisher(ModuleOp module, const CalibrationOptions &options,
                                std::map<std::string, std::vector<double>> &fisher,
                                double &meanLoss, std::string &error) {
  // The visitor gets gradients of a sample's mean loss over its T - 1 predicted tokens;
  // times T - 1 they are those of the summed loss, whose per-token terms the Fisher needs.
  std::map<std::string, std::vector<double>> sums;
  int64_t tokens = 0;
  auto visit = [&](int64_t layer, size_t p, const std::vector<float> &,
                   const std::vector<float> &dY, int64_t T) {
    std::vector<double> &sum = sums[projectionName(layer, p)];
    size_t n = dY.size() / size_t(T);
    sum.resize(n, 0.0);
    double scale = double(T - 1);
    for (int64_t t = 0; t < T; ++t)
      for (size_t i = 0; i < n; ++i) {
        double g = scale * double(dY[size_t(t) * n + i]);
        sum[i] += g * g;
      }
    if (layer == 0 && p == 0)
      tokens += T;
  };
  if (!backpropagate(module, options, "fisher", /*weightGradients=*/false, visit, meanLoss,
                     error))
    return false;
  fisher.clear();
  for (auto &[name, sum] : sums) {
    for (double &v : sum)
      v /= double(tokens);
    fisher[name] = std::move(sum);
  }
  return true;
}
