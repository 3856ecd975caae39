//===- SemanticChecks.cpp - Check the meaning of the exporter's bookkeeping -===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// llm.attention is causal and llm.rotary turns each token by its position; the ONNX graph
// says the same thing with a mask, positions, cos/sin factors or sequence lengths computed
// from its inputs. Structure alone cannot tell a causal mask from an anti-causal one, or
// positions from token ids, so each of those values is evaluated (GraphEval.h) at a few
// concrete sizes, with and without cached positions, and compared element by element with
// what the llm op will do. Whatever cannot be evaluated or does not match is refused.
//
//===----------------------------------------------------------------------===//

#include "Converter.h"

#include <cmath>
#include <cstdio>
#include <limits>

using namespace midllama::onnx_import;
using namespace midllama::onnx_import::detail;

namespace {
std::string sizes(const EvalConfig &c) {
  return "(" + std::to_string(c.past) + " cached position" + (c.past == 1 ? "" : "s") + ", " +
         std::to_string(c.seq) + " new token" + (c.seq == 1 ? "" : "s") + ")";
}

std::string shapeString(llvm::ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

/// A value as a person reads it: -inf, 0, -3.40282e+38, 0.540302.
std::string number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%g", v);
  return buffer;
}

/// The lowest finite value of a float ONNX type: what exporters use for "masked" when
/// they avoid -inf.
double lowest(int32_t dtype) {
  switch (OnnxDType(dtype)) {
  case OnnxDType::Float16:
    return -65504.0;
  case OnnxDType::BFloat16:
    return -3.3895313892515355e38;
  case OnnxDType::Double:
    return std::numeric_limits<double>::lowest();
  default:
    return double(std::numeric_limits<float>::lowest());
  }
}
} // namespace

llvm::ArrayRef<std::unique_ptr<GraphEvaluator>> Converter::evaluatorsFor() {
  if (evaluators.empty()) {
    // A prefill of 3 tokens and, with a KV cache, a decode step of 1 token after 4: enough
    // for a mask or positions that ignore the cache to show. (Not 2 cached + 3 new: some
    // exports, the GenAI builder's fp16 mask among them, cannot run that in ONNX Runtime
    // either.)
    bool cache = false;
    for (const onnx::ValueInfoProto &in : graph.input())
      if (!model.initializer(in.name()) && in.type().tensor_type().shape().dim_size() == 4)
        cache = true;
    SmallVector<EvalConfig> configs = {{0, 3}};
    if (cache)
      configs.push_back({4, 1});
    for (const EvalConfig &c : configs) {
      evaluators.push_back(std::make_unique<GraphEvaluator>(model, graph, producers, c));
      if (!positionsInput.empty())
        evaluators.back()->setPositionsInput(positionsInput);
    }
  }
  return evaluators;
}

bool Converter::evaluate(const onnx::NodeProto &at, const std::string &name, StringRef what,
                         GraphEvaluator &eval, EvalTensor &out) {
  std::string why;
  if (eval.eval(name, out, why))
    return true;
  return fail(where(at) + ": cannot check that " + what.str() + " '" + name +
              "' is what the import assumes: " + why),
         false;
}

bool Converter::checkCausalMask(const onnx::NodeProto &at, const std::string &mask,
                                int64_t heads) {
  for (const std::unique_ptr<GraphEvaluator> &eval : evaluatorsFor()) {
    const EvalConfig &c = eval->config();
    EvalTensor m;
    if (!evaluate(at, mask, "the attention mask", *eval, m))
      return false;
    SmallVector<int64_t> scores = {1, heads, c.seq, c.total()};
    std::vector<int64_t> idx;
    if (!m.isFloat() || !broadcastIndices(scores, m.shape, idx))
      return fail(where(at) + ": the attention mask '" + mask + "' " + sizes(c) + " is " +
                  onnxDTypeName(m.dtype).str() + " " + shapeString(m.shape) +
                  ", not a float mask of the scores' shape " + shapeString(scores)),
             false;
    double floor = lowest(m.dtype);
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < c.seq; ++i)
        for (int64_t j = 0; j < c.total(); ++j) {
          double v = m.data[idx[(h * c.seq + i) * c.total() + j]];
          bool visible = j <= c.past + i;
          if (visible ? v == 0 : (v == -std::numeric_limits<double>::infinity() || v <= floor))
            continue;
          return fail(where(at) + ": the attention mask '" + mask + "' is not causal: " +
                      sizes(c) + " query " + std::to_string(i) + " (position " +
                      std::to_string(c.past + i) + ") and key " + std::to_string(j) +
                      " get " + number(v) + ", not " +
                      (visible ? "0" : "-inf or the lowest value of its type")),
                 false;
        }
  }
  return true;
}

bool Converter::checkRotaryFactors(const onnx::NodeProto &at, const std::string &cosName,
                                   const std::string &sinName, double theta,
                                   int64_t rotaryDim, int64_t heads) {
  int64_t half = rotaryDim / 2;
  for (const std::unique_ptr<GraphEvaluator> &eval : evaluatorsFor()) {
    const EvalConfig &c = eval->config();
    for (bool isCos : {true, false}) {
      const std::string &name = isCos ? cosName : sinName;
      StringRef what = isCos ? "the rotary cos factor" : "the rotary sin factor";
      EvalTensor t;
      if (!evaluate(at, name, what, *eval, t))
        return false;
      // x is [batch, heads, seq, head]; each of its elements is multiplied by one factor.
      SmallVector<int64_t> x = {1, heads, c.seq, rotaryDim};
      std::vector<int64_t> idx;
      if (!t.isFloat() || !broadcastIndices(x, t.shape, idx))
        return fail(where(at) + ": " + what.str() + " '" + name + "' " + sizes(c) + " is " +
                    shapeString(t.shape) + ", which does not broadcast to the heads " +
                    shapeString(x)),
               false;
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t i = 0; i < c.seq; ++i)
          for (int64_t k = 0; k < rotaryDim; ++k) {
            double angle = double(c.past + i) * std::pow(theta, -2.0 * (k % half) / rotaryDim);
            double expected = isCos ? std::cos(angle) : std::sin(angle);
            double v = t.data[idx[(h * c.seq + i) * rotaryDim + k]];
            if (std::abs(v - expected) <= 2e-3)
              continue;
            return fail(where(at) + ": " + what.str() + " '" + name + "' " + sizes(c) +
                        " is " + number(v) + " at token " + std::to_string(i) +
                        ", dimension " + std::to_string(k) + ", not " + number(expected) +
                        " (rotary embedding of base " + number(theta) + " at position " +
                        std::to_string(c.past + i) + ")"),
                   false;
          }
    }
  }
  return true;
}

bool Converter::checkPositions(const onnx::NodeProto &at, const std::string &name) {
  for (const std::unique_ptr<GraphEvaluator> &eval : evaluatorsFor()) {
    const EvalConfig &c = eval->config();
    EvalTensor t;
    if (!evaluate(at, name, "the rotary positions", *eval, t))
      return false;
    SmallVector<int64_t> expected = {1, c.seq};
    std::vector<int64_t> idx;
    bool ok = !t.isFloat() && broadcastIndices(expected, t.shape, idx);
    for (int64_t i = 0; ok && i < c.seq; ++i)
      ok = t.data[idx[i]] == double(c.past + i);
    if (!ok)
      return fail(where(at) + ": the rotary positions '" + name + "' " + sizes(c) +
                  " are not the tokens' positions " + std::to_string(c.past) + ".." +
                  std::to_string(c.total() - 1)),
             false;
  }
  return true;
}

bool Converter::checkSequenceLengths(const onnx::NodeProto &gqa) {
  // GroupQueryAttention masks and positions by seqlens_k (per batch row: total length - 1)
  // and total_sequence_length; llm.attention assumes contiguous, unpadded sequences.
  if (gqa.input_size() < 7 || gqa.input(5).empty() || gqa.input(6).empty())
    return fail(where(gqa) + ": seqlens_k and total_sequence_length are required"), false;
  for (const std::unique_ptr<GraphEvaluator> &eval : evaluatorsFor()) {
    const EvalConfig &c = eval->config();
    EvalTensor lens, total;
    if (!evaluate(gqa, gqa.input(5), "seqlens_k", *eval, lens) ||
        !evaluate(gqa, gqa.input(6), "total_sequence_length", *eval, total))
      return false;
    if (lens.isFloat() || lens.size() != 1 || lens.data[0] != double(c.total() - 1))
      return fail(where(gqa) + ": seqlens_k '" + gqa.input(5) + "' " + sizes(c) + " is not " +
                  std::to_string(c.total() - 1) + " (the total sequence length minus one)"),
             false;
    if (total.isFloat() || total.size() != 1 || total.data[0] != double(c.total()))
      return fail(where(gqa) + ": total_sequence_length '" + gqa.input(6) + "' " + sizes(c) +
                  " is not " + std::to_string(c.total())),
             false;
  }
  return true;
}
