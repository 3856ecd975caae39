//===- GraphEvalOps.h - The op implementations of GraphEval -----*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Private to GraphEval*.cpp: what an op implementation sees, the helpers they share, and
// one entry point per family of ops (elementwise, shape and layout, indexing and
// reductions), each in its own file.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_LIB_IMPORT_ONNX_GRAPHEVALOPS_H
#define MIDLLAMA_LIB_IMPORT_ONNX_GRAPHEVALOPS_H

#include "GraphEval.h"

namespace midllama::onnx_import::detail::eval {

using Shape = llvm::SmallVector<int64_t, 4>;

/// One node being evaluated: its evaluated inputs (`has[i]` false for an omitted optional
/// input) and its first result.
struct OpContext {
  const onnx::NodeProto &node;
  std::vector<EvalTensor> &in;
  const std::vector<bool> &has;
  EvalTensor &r;
  OnnxModel &model;
  std::string &error;

  /// Sets `error` to `why`, naming the node, and returns false.
  bool bad(const std::string &why);
  /// Whether the first `n` inputs are present.
  bool need(int n) const;
  /// The axes of Squeeze, Unsqueeze and the reductions: input 1 (opset 13 and later) or
  /// the `axes` attribute (before); `given` false when neither is there. False (with the
  /// error set) when the input is not an integer vector.
  bool axes(llvm::SmallVectorImpl<int64_t> &axes, bool &given);
  /// Gives `t` type `dtype` and shape `shape`, zero-filled; false if too large.
  bool make(int32_t dtype, llvm::ArrayRef<int64_t> shape, EvalTensor &t);
};

/// An op's evaluation: false with `ctx.error` set when the node is refused.
using OpEvaluator = bool (*)(OpContext &);
using OpTable = llvm::StringMap<OpEvaluator>;

bool evalConstant(OpContext &ctx);
bool evalElementwise(OpContext &ctx);
/// The shape and layout ops (GraphEvalShape.cpp) and the indexing and reduction ops
/// (GraphEvalIndex.cpp), one function each, added to `table` by op type.
void registerShapeOps(OpTable &table);
void registerIndexOps(OpTable &table);

/// The evaluation of standard op `op`, or null.
OpEvaluator familyOf(llvm::StringRef op);

/// "node 'name' (domain::op)".
std::string describe(const onnx::NodeProto &node);
const onnx::AttributeProto *findAttr(const onnx::NodeProto &node, llvm::StringRef name);
int64_t intAttr(const onnx::NodeProto &node, llvm::StringRef name, int64_t def);
/// An index held as double, clamped into int64 range (Slice uses INT64_MAX as "to the end").
int64_t toIndex(double v);
/// Element count of `shape`, or -1 if negative, absurd or over the evaluator's limit.
int64_t checkedSize(llvm::ArrayRef<int64_t> shape);
/// `v` rounded to what an element of ONNX type `dtype` holds; `ok` false where ONNX leaves
/// the result undefined (inf or NaN cast to an integer) or the type is not evaluated.
double roundTo(int32_t dtype, double v, bool &ok);
bool broadcastShape(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b, Shape &out);
/// Row-major strides of `shape`.
Shape strides(llvm::ArrayRef<int64_t> shape);
/// `axis` in [-rank, rank) made non-negative; false if out of range.
bool normAxis(int64_t &axis, int64_t rank);
/// The result shape of Unsqueeze (`unsqueeze`) or Squeeze of a tensor of shape `in` with
/// `axes` (normalized and sorted here; `explicitAxes` false: Squeeze drops every size-1
/// axis); false with `why` for missing, repeated or out-of-range axes.
bool squeezedShape(bool unsqueeze, llvm::ArrayRef<int64_t> in,
                   llvm::SmallVectorImpl<int64_t> &axes, bool explicitAxes, Shape &out,
                   std::string &why);
/// Transpose's permutation for an input of `rank` (its `perm`, or the axes reversed);
/// false when it is not a permutation of 0..rank-1.
bool transposePerm(const onnx::NodeProto &node, int64_t rank,
                   llvm::SmallVectorImpl<int64_t> &perm);
/// An integer vector from a 0-D or 1-D integer tensor.
bool intsOf(const EvalTensor &t, llvm::SmallVectorImpl<int64_t> &out);
/// The values of a decoded tensor; false (with `why`) for element types not evaluated or
/// tensors too large.
bool decodeTensor(const OnnxTensor &t, EvalTensor &out, std::string &why);

} // namespace midllama::onnx_import::detail::eval

#endif // MIDLLAMA_LIB_IMPORT_ONNX_GRAPHEVALOPS_H
