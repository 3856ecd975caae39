//===- GraphEval.h - Evaluate small ONNX subgraphs on concrete inputs -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Private to lib/Import/ONNX. The importer replaces whole subgraphs by llm ops that carry
// their meaning implicitly (llm.attention is causal, llm.rotary turns by the positions it
// is given). Matching such a subgraph by structure alone imports an anti-causal mask or
// rotary angles of the wrong positions as a normal model, so the importer also *runs* the
// exporter's bookkeeping (the mask, the positions, the cos/sin factors, GroupQueryAttention's
// sequence lengths) on a few concrete sizes and compares the result with what the llm op
// means. Only the small, weight-free ops such bookkeeping uses are evaluated; anything else
// is an error naming the node, so an unrecognized subgraph is refused, never guessed at.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_LIB_IMPORT_ONNX_GRAPHEVAL_H
#define MIDLLAMA_LIB_IMPORT_ONNX_GRAPHEVAL_H

#include "midllama/Import/ONNX/OnnxModel.h"

#include <onnx/onnx_pb.h>

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace midllama::onnx_import::detail {

/// A small dense tensor. Every element type is held as double, which is exact for the
/// integers, booleans and fp16/fp32 values that masks and positions are made of.
struct EvalTensor {
  int32_t dtype = int32_t(OnnxDType::Float); // ONNX element type
  llvm::SmallVector<int64_t, 4> shape;
  std::vector<double> data;

  bool isFloat() const;
  bool isBool() const { return dtype == int32_t(OnnxDType::Bool); }
  int64_t size() const;
};

/// The concrete sizes a graph is evaluated at: batch 1, `past` cached positions and `seq`
/// new tokens at positions past .. past + seq - 1.
struct EvalConfig {
  int64_t past = 0, seq = 3;
  int64_t total() const { return past + seq; }
};

/// For each element of a tensor of shape `out`, the index of the element of a tensor of
/// shape `in` it broadcasts from (numpy rules); false if `in` does not broadcast to `out`.
bool broadcastIndices(llvm::ArrayRef<int64_t> out, llvm::ArrayRef<int64_t> in,
                      std::vector<int64_t> &idx);

using Producers = llvm::StringMap<std::pair<const onnx::NodeProto *, int>>;

/// Evaluates values of `graph` with its inputs bound by role: the token ids (the indices of
/// the embedding lookup) to ids that are not positions, 2-D integer inputs as long as the
/// ids to the positions, longer ones (attention_mask) to ones, 4-D float inputs (the KV
/// cache) to zeros of `past` positions. Results are memoized.
class GraphEvaluator {
public:
  GraphEvaluator(OnnxModel &model, const onnx::GraphProto &graph, const Producers &producers,
                 EvalConfig config);

  /// Evaluates `name`. On failure returns false and sets `error` to why, naming the node.
  bool eval(const std::string &name, EvalTensor &out, std::string &error);

  const EvalConfig &config() const { return config_; }

  /// The shape of `name`, by the ONNX shape rules where its values would need the weights
  /// (GraphEvalShapeOf.cpp); nullopt with `error` set when it cannot be found.
  std::optional<llvm::SmallVector<int64_t, 4>> shapeOf(const std::string &name,
                                                       std::string &error);

  /// Declares graph input `name` the positions (the rotary embedding reads it): the other
  /// 2-D integer inputs besides the ids are then the padding mask, all ones over the past
  /// and new tokens. Without a KV cache the mask and the positions have the same shape,
  /// so only their use tells them apart. Forgets what was evaluated before.
  void setPositionsInput(const std::string &name) {
    if (positionsInput != name)
      memo.clear(), shapeMemo.clear();
    positionsInput = name;
  }

  /// Largest tensor the evaluator builds: bookkeeping at these sizes is tiny, and a
  /// hostile graph must not make it allocate without bound.
  static constexpr int64_t kMaxElements = int64_t(1) << 18;

private:
  bool evalNode(const onnx::NodeProto &node, std::vector<EvalTensor> &outs, std::string &error);
  bool bindInput(const onnx::ValueInfoProto &in, EvalTensor &out, std::string &error);
  std::optional<llvm::SmallVector<int64_t, 4>> inferShape(const onnx::NodeProto &node,
                                                          std::string &error);
  static constexpr int kMaxDepth = 256;

  OnnxModel &model;
  const onnx::GraphProto &graph;
  const Producers &producers;
  EvalConfig config_;
  std::string idsInput; // the embedding lookup's indices, if found
  std::string positionsInput; // see setPositionsInput
  bool hasCache = false;
  llvm::StringMap<EvalTensor> memo;
  llvm::StringMap<llvm::SmallVector<int64_t, 4>> shapeMemo;
  llvm::StringMap<bool> active; // on the evaluation stack (cycle guard)
  int depth = 0;
};

} // namespace midllama::onnx_import::detail

#endif // MIDLLAMA_LIB_IMPORT_ONNX_GRAPHEVAL_H
