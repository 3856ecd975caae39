//===- GraphEvalShape.cpp - Shape and layout ops of the bookkeeping evaluator -===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Shape, Size, ConstantOfShape, Range, (Un)Squeeze, Reshape, Flatten, Expand, Tile, Transpose and
// Concat, following the ONNX specification, every size checked before anything is built.
//
//===----------------------------------------------------------------------===//

#include "GraphEvalOps.h"
#include "Validate.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/Sequence.h"

#include <algorithm>
#include <cmath>
#include <limits>

using namespace midllama::onnx_import;
using namespace midllama::onnx_import::detail;
using namespace midllama::onnx_import::detail::eval;
using llvm::ArrayRef;
using llvm::SmallVector;

namespace {

bool evalShapeOf(OpContext &ctx) {
  const onnx::NodeProto &node = ctx.node;
  std::vector<EvalTensor> &in = ctx.in;
  EvalTensor &r = ctx.r;
  if (!ctx.need(1))
    return ctx.bad("missing input");
  int64_t rank = in[0].shape.size();
  int64_t start = intAttr(node, "start", 0), end = intAttr(node, "end", rank);
  start = std::clamp<int64_t>(start < 0 ? start + rank : start, 0, rank);
  end = std::clamp<int64_t>(end < 0 ? end + rank : end, 0, rank);
  r.dtype = int32_t(OnnxDType::Int64);
  for (int64_t i = start; i < end; ++i)
    r.data.push_back(double(in[0].shape[i]));
  r.shape = {int64_t(r.data.size())};
  return true;
}

bool evalSize(OpContext &ctx) {
  std::vector<EvalTensor> &in = ctx.in;
  EvalTensor &r = ctx.r;
  if (!ctx.need(1))
    return ctx.bad("missing input");
  r.dtype = int32_t(OnnxDType::Int64);
  r.data = {double(in[0].size())};
  return true;
}

bool evalConstantOfShape(OpContext &ctx) {
  const onnx::NodeProto &node = ctx.node;
  std::vector<EvalTensor> &in = ctx.in;
  EvalTensor &r = ctx.r;
  SmallVector<int64_t> shape;
  if (!ctx.need(1) || !intsOf(in[0], shape))
    return ctx.bad("its shape is not an integer vector");
  EvalTensor value;
  value.data = {0.0}; // default: a float 0
  if (const onnx::AttributeProto *a = findAttr(node, "value"); a && a->has_t()) {
    OnnxTensor t;
    std::string why;
    if (!ctx.model.decodeInline(a->t(), t, why) || !decodeTensor(t, value, why))
      return ctx.bad(why);
    if (value.size() != 1)
      return ctx.bad("its value is not one element");
  }
  if (!ctx.make(value.dtype, shape, r))
    return false;
  std::fill(r.data.begin(), r.data.end(), value.data[0]);
  return true;
}

bool evalRange(OpContext &ctx) {
  std::vector<EvalTensor> &in = ctx.in;
  EvalTensor &r = ctx.r;
  if (!ctx.need(3) || in[0].size() != 1 || in[1].size() != 1 || in[2].size() != 1)
    return ctx.bad("start, limit and delta must be scalars");
  double start = in[0].data[0], limit = in[1].data[0], delta = in[2].data[0];
  if (delta == 0 || !std::isfinite(start) || !std::isfinite(limit) || !std::isfinite(delta))
    return ctx.bad("a zero or non-finite delta or bound");
  double count = std::max(std::ceil((limit - start) / delta), 0.0);
  if (count > double(GraphEvaluator::kMaxElements))
    return ctx.bad("its result would be too large to evaluate");
  if (!ctx.make(in[0].dtype, {int64_t(count)}, r))
    return false;
  for (int64_t i = 0; i < int64_t(count); ++i)
    r.data[i] = start + i * delta;
  return true;
}

bool evalSqueezeOrUnsqueeze(OpContext &ctx) {
  if (!ctx.need(1))
    return ctx.bad("missing input");
  SmallVector<int64_t> axes;
  bool explicitAxes = false;
  if (!ctx.axes(axes, explicitAxes))
    return false;
  Shape shape;
  std::string why;
  if (!squeezedShape(ctx.node.op_type() == "Unsqueeze", ctx.in[0].shape, axes, explicitAxes,
                     shape, why))
    return ctx.bad(why);
  ctx.r = ctx.in[0];
  ctx.r.shape = shape;
  return true;
}

/// Flatten: [d0..d(axis-1)] and [d(axis)..] each multiplied into one dimension.
bool evalFlatten(OpContext &ctx) {
  if (!ctx.need(1))
    return ctx.bad("missing input");
  int64_t rank = ctx.in[0].shape.size(), axis = intAttr(ctx.node, "axis", 1);
  if (axis < 0)
    axis += rank;
  if (axis < 0 || axis > rank)
    return ctx.bad("its axis is out of range");
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < rank; ++i)
    (i < axis ? outer : inner) *= ctx.in[0].shape[i];
  ctx.r = ctx.in[0];
  ctx.r.shape = {outer, inner};
  return true;
}

bool evalReshape(OpContext &ctx) {
  const onnx::NodeProto &node = ctx.node;
  std::vector<EvalTensor> &in = ctx.in;
  EvalTensor &r = ctx.r;
  SmallVector<int64_t> target;
  if (!ctx.need(2) || !intsOf(in[1], target))
    return ctx.bad("its shape is not an integer vector");
  bool allowZero = intAttr(node, "allowzero", 0) != 0;
  int64_t known = 1, inferred = -1;
  Shape shape;
  for (size_t i = 0; i < target.size(); ++i) {
    int64_t d = target[i];
    if (d == 0 && !allowZero) {
      if (i >= in[0].shape.size())
        return ctx.bad("copies a dimension the input does not have");
      d = in[0].shape[i];
    }
    if (d == -1) {
      if (inferred >= 0)
        return ctx.bad("more than one -1 in its shape");
      inferred = i;
      shape.push_back(1);
      continue;
    }
    if (d < 0)
      return ctx.bad("a negative dimension in its shape");
    shape.push_back(d);
    known *= d;
    if (known > GraphEvaluator::kMaxElements)
      return ctx.bad("its result would be too large to evaluate");
  }
  int64_t n = in[0].size();
  if (inferred >= 0) {
    if (known == 0 || n % known != 0)
      return ctx.bad("its -1 dimension cannot be inferred");
    shape[inferred] = n / known;
  } else if (known != n) {
    return ctx.bad("its shape does not hold the input's elements");
  }
  r = in[0];
  r.shape = shape;
  return true;
}

bool evalExpand(OpContext &ctx) {
  std::vector<EvalTensor> &in = ctx.in;
  EvalTensor &r = ctx.r;
  SmallVector<int64_t> target;
  if (!ctx.need(2) || !intsOf(in[1], target))
    return ctx.bad("its shape is not an integer vector");
  Shape shape;
  if (!broadcastShape(in[0].shape, target, shape))
    return ctx.bad("its shape does not broadcast with the input");
  if (!ctx.make(in[0].dtype, shape, r))
    return false;
  std::vector<int64_t> idx;
  broadcastIndices(shape, in[0].shape, idx);
  for (int64_t k = 0; k < r.size(); ++k)
    r.data[k] = in[0].data[idx[k]];
  return true;
}

bool evalTile(OpContext &ctx) {
  std::vector<EvalTensor> &in = ctx.in;
  EvalTensor &r = ctx.r;
  SmallVector<int64_t> repeats;
  if (!ctx.need(2) || !intsOf(in[1], repeats) || repeats.size() != in[0].shape.size())
    return ctx.bad("its repeats do not match the input's rank");
  Shape shape;
  for (size_t i = 0; i < repeats.size(); ++i) {
    if (repeats[i] < 0)
      return ctx.bad("a negative repeat");
    if (in[0].shape[i] && repeats[i] > GraphEvaluator::kMaxElements / in[0].shape[i])
      return ctx.bad("its result would be too large to evaluate");
    shape.push_back(in[0].shape[i] * repeats[i]);
  }
  if (!ctx.make(in[0].dtype, shape, r))
    return false;
  Shape os = strides(shape), is = strides(in[0].shape);
  for (int64_t k = 0; k < r.size(); ++k) {
    int64_t src = 0, rest = k;
    for (size_t d = 0; d < shape.size(); ++d) {
      int64_t c = rest / os[d];
      rest %= os[d];
      src += (c % in[0].shape[d]) * is[d];
    }
    r.data[k] = in[0].data[src];
  }
  return true;
}

} // namespace

bool eval::squeezedShape(bool unsqueeze, llvm::ArrayRef<int64_t> in,
                         llvm::SmallVectorImpl<int64_t> &axes, bool explicitAxes,
                         Shape &out, std::string &why) {
  int64_t rank = int64_t(in.size());
  int64_t outRank = unsqueeze ? rank + int64_t(axes.size()) : rank;
  if (unsqueeze && !explicitAxes)
    return why = "no axes", false;
  if (outRank > kMaxTensorRank)
    return why = "too many axes", false;
  for (int64_t &a : axes)
    if (!normAxis(a, outRank))
      return why = "an axis out of range", false;
  llvm::sort(axes);
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
    return why = "a repeated axis", false;
  out.clear();
  for (int64_t i = 0, j = 0; i < outRank; ++i) {
    if (unsqueeze) {
      out.push_back(llvm::is_contained(axes, i) ? 1 : in[size_t(j++)]);
      continue;
    }
    bool squeeze = explicitAxes ? llvm::is_contained(axes, i) : in[size_t(i)] == 1;
    if (squeeze && in[size_t(i)] != 1)
      return why = "squeezes an axis whose size is not 1", false;
    if (!squeeze)
      out.push_back(in[size_t(i)]);
  }
  return true;
}

bool eval::transposePerm(const onnx::NodeProto &node, int64_t rank,
                         llvm::SmallVectorImpl<int64_t> &perm) {
  perm.clear();
  if (const onnx::AttributeProto *a = findAttr(node, "perm"))
    perm.assign(a->ints().begin(), a->ints().end());
  else
    for (int64_t i = rank - 1; i >= 0; --i)
      perm.push_back(i);
  SmallVector<int64_t> sorted(perm.begin(), perm.end());
  llvm::sort(sorted);
  return int64_t(perm.size()) == rank && llvm::equal(sorted, llvm::seq<int64_t>(0, rank));
}

namespace {

bool evalTranspose(OpContext &ctx) {
  const onnx::NodeProto &node = ctx.node;
  std::vector<EvalTensor> &in = ctx.in;
  EvalTensor &r = ctx.r;
  if (!ctx.need(1))
    return ctx.bad("missing input");
  int64_t rank = in[0].shape.size();
  SmallVector<int64_t> perm;
  if (!transposePerm(node, rank, perm))
    return ctx.bad("its perm is not a permutation of the input's axes");
  Shape shape;
  for (int64_t p : perm)
    shape.push_back(in[0].shape[p]);
  if (!ctx.make(in[0].dtype, shape, r))
    return false;
  Shape os = strides(shape), is = strides(in[0].shape);
  for (int64_t k = 0; k < r.size(); ++k) {
    int64_t src = 0, rest = k;
    for (int64_t d = 0; d < rank; ++d) {
      src += (rest / os[d]) * is[perm[d]];
      rest %= os[d];
    }
    r.data[k] = in[0].data[src];
  }
  return true;
}

bool evalConcat(OpContext &ctx) {
  const onnx::NodeProto &node = ctx.node;
  std::vector<EvalTensor> &in = ctx.in;
  const std::vector<bool> &has = ctx.has;
  EvalTensor &r = ctx.r;
  if (in.empty() || !llvm::all_of(has, [](bool h) { return h; }))
    return ctx.bad("missing input");
  int64_t rank = in[0].shape.size(), axis = intAttr(node, "axis", 0);
  if (rank == 0 || !normAxis(axis, rank))
    return ctx.bad("its axis is out of range");
  Shape shape = in[0].shape;
  shape[axis] = 0;
  for (const EvalTensor &t : in) {
    if (int64_t(t.shape.size()) != rank || t.dtype != in[0].dtype)
      return ctx.bad("its inputs differ in rank or type");
    for (int64_t d = 0; d < rank; ++d)
      if (d != axis && t.shape[d] != in[0].shape[d])
        return ctx.bad("its inputs differ in a dimension other than the axis");
    shape[axis] += t.shape[axis];
  }
  if (!ctx.make(in[0].dtype, shape, r))
    return false;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= shape[d];
  for (int64_t d = axis + 1; d < rank; ++d)
    inner *= shape[d];
  int64_t k = 0;
  for (int64_t o = 0; o < outer; ++o)
    for (const EvalTensor &t : in) {
      int64_t chunk = t.shape[axis] * inner;
      for (int64_t c = 0; c < chunk; ++c)
        r.data[k++] = t.data[o * chunk + c];
    }
  return true;
}

} // namespace

void midllama::onnx_import::detail::eval::registerShapeOps(OpTable &table) {
  table["Shape"] = evalShapeOf;
  table["Size"] = evalSize;
  table["ConstantOfShape"] = evalConstantOfShape;
  table["Range"] = evalRange;
  table["Unsqueeze"] = evalSqueezeOrUnsqueeze;
  table["Squeeze"] = evalSqueezeOrUnsqueeze;
  table["Reshape"] = evalReshape;
  table["Flatten"] = evalFlatten;
  table["Expand"] = evalExpand;
  table["Tile"] = evalTile;
  table["Transpose"] = evalTranspose;
  table["Concat"] = evalConcat;
}
