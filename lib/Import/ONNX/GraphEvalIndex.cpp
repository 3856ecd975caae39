//===- GraphEvalIndex.cpp - Indexing and reductions of the bookkeeping evaluator -===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Gather, GatherND, Slice, ReduceSum/Max/Min, CumSum, Trilu and MatMul, following the ONNX
// specification; every index is checked against its dimension. MatMul is here for the
// rotary frequencies some exporters compute as inv_freq @ positions (transformers 4.5x).
//
//===----------------------------------------------------------------------===//

#include "GraphEvalOps.h"

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

bool evalGather(OpContext &ctx) {
  const onnx::NodeProto &node = ctx.node;
  std::vector<EvalTensor> &in = ctx.in;
  EvalTensor &r = ctx.r;
  if (!ctx.need(2) || in[1].isFloat())
    return ctx.bad("missing or non-integer indices");
  int64_t rank = in[0].shape.size(), axis = intAttr(node, "axis", 0);
  if (rank == 0 || !normAxis(axis, rank))
    return ctx.bad("its axis is out of range");
  Shape shape(in[0].shape.begin(), in[0].shape.begin() + axis);
  shape.append(in[1].shape.begin(), in[1].shape.end());
  shape.append(in[0].shape.begin() + axis + 1, in[0].shape.end());
  if (!ctx.make(in[0].dtype, shape, r))
    return false;
  int64_t outer = 1, inner = 1, dim = in[0].shape[axis];
  for (int64_t d = 0; d < axis; ++d)
    outer *= in[0].shape[d];
  for (int64_t d = axis + 1; d < rank; ++d)
    inner *= in[0].shape[d];
  int64_t k = 0;
  for (int64_t o = 0; o < outer; ++o)
    for (double iv : in[1].data) {
      int64_t i = toIndex(iv);
      if (i < -dim || i >= dim)
        return ctx.bad("an index out of range");
      if (i < 0)
        i += dim;
      for (int64_t c = 0; c < inner; ++c)
        r.data[k++] = in[0].data[(o * dim + i) * inner + c];
    }
  return true;
}

bool evalGatherND(OpContext &ctx) {
  const onnx::NodeProto &node = ctx.node;
  std::vector<EvalTensor> &in = ctx.in;
  EvalTensor &r = ctx.r;
  int64_t batchDims = intAttr(node, "batch_dims", 0);
  if (!ctx.need(2) || in[1].isFloat() || in[1].shape.empty())
    return ctx.bad("missing or non-integer indices");
  int64_t r0 = in[0].shape.size(), q = in[1].shape.size(), m = in[1].shape.back();
  if (batchDims < 0 || batchDims >= std::min(r0, q) || m < 1 || m > r0 - batchDims)
    return ctx.bad("its batch_dims or index depth do not fit the data");
  for (int64_t d = 0; d < batchDims; ++d)
    if (in[0].shape[d] != in[1].shape[d])
      return ctx.bad("its batch dimensions differ");
  Shape shape(in[1].shape.begin(), in[1].shape.end() - 1);
  shape.append(in[0].shape.begin() + batchDims + m, in[0].shape.end());
  if (!ctx.make(in[0].dtype, shape, r))
    return false;
  int64_t slice = 1;
  for (int64_t d = batchDims + m; d < r0; ++d)
    slice *= in[0].shape[d];
  int64_t batch = 1;
  for (int64_t d = 0; d < batchDims; ++d)
    batch *= in[0].shape[d];
  int64_t tuples = in[1].size() / m, perBatch = batch ? tuples / batch : 0;
  Shape ds = strides(in[0].shape);
  int64_t batchStride = batchDims ? ds[batchDims - 1] : 0;
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t src = perBatch ? (t / perBatch) * batchStride : 0;
    for (int64_t j = 0; j < m; ++j) {
      int64_t dim = in[0].shape[batchDims + j];
      int64_t i = toIndex(in[1].data[t * m + j]);
      if (i < -dim || i >= dim)
        return ctx.bad("an index out of range");
      src += (i < 0 ? i + dim : i) * ds[batchDims + j];
    }
    for (int64_t c = 0; c < slice; ++c)
      r.data[t * slice + c] = in[0].data[src + c];
  }
  return true;
}

bool evalSlice(OpContext &ctx) {
  std::vector<EvalTensor> &in = ctx.in;
  const std::vector<bool> &has = ctx.has;
  EvalTensor &r = ctx.r;
  SmallVector<int64_t> starts, ends, axes, steps;
  if (!ctx.need(3) || !intsOf(in[1], starts) || !intsOf(in[2], ends) ||
      starts.size() != ends.size())
    return ctx.bad("its starts and ends are not integer vectors of one length");
  int64_t rank = in[0].shape.size();
  if (in.size() > 3 && has[3]) {
    if (!intsOf(in[3], axes) || axes.size() != starts.size())
      return ctx.bad("its axes do not match its starts");
  } else {
    for (size_t i = 0; i < starts.size(); ++i)
      axes.push_back(i);
  }
  if (in.size() > 4 && has[4]) {
    if (!intsOf(in[4], steps) || steps.size() != starts.size())
      return ctx.bad("its steps do not match its starts");
  } else {
    steps.assign(starts.size(), 1);
  }
  SmallVector<int64_t> begin(rank, 0), step(rank, 1);
  Shape shape(in[0].shape);
  SmallVector<bool> seen(rank, false);
  for (size_t i = 0; i < starts.size(); ++i) {
    int64_t a = axes[i];
    if (!normAxis(a, rank) || seen[a] || steps[i] == 0)
      return ctx.bad("an axis out of range, repeated, or a zero step");
    seen[a] = true;
    int64_t dim = in[0].shape[a], s = starts[i], e = ends[i];
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    if (steps[i] > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      shape[a] = e > s ? (e - s + steps[i] - 1) / steps[i] : 0;
    } else {
      s = std::clamp<int64_t>(s, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      shape[a] = s > e ? (s - e + (-steps[i]) - 1) / (-steps[i]) : 0;
    }
    begin[a] = s;
    step[a] = steps[i];
  }
  if (!ctx.make(in[0].dtype, shape, r))
    return false;
  Shape os = strides(shape), is = strides(in[0].shape);
  for (int64_t k = 0; k < r.size(); ++k) {
    int64_t src = 0, rest = k;
    for (int64_t d = 0; d < rank; ++d) {
      src += (begin[d] + (rest / os[d]) * step[d]) * is[d];
      rest %= os[d];
    }
    r.data[k] = in[0].data[src];
  }
  return true;
}

bool evalReduce(OpContext &ctx) {
  const onnx::NodeProto &node = ctx.node;
  const std::string &op = ctx.node.op_type();
  std::vector<EvalTensor> &in = ctx.in;
  EvalTensor &r = ctx.r;
  if (!ctx.need(1))
    return ctx.bad("missing input");
  SmallVector<int64_t> axes;
  bool given = false;
  if (!ctx.axes(axes, given))
    return false;
  int64_t rank = in[0].shape.size();
  bool keep = intAttr(node, "keepdims", 1) != 0;
  if (axes.empty() && intAttr(node, "noop_with_empty_axes", 0)) {
    r = in[0];
    return true;
  }
  SmallVector<bool> reduce(rank, axes.empty());
  for (int64_t a : axes) {
    if (!normAxis(a, rank))
      return ctx.bad("an axis out of range");
    reduce[a] = true;
  }
  Shape shape, kept;
  for (int64_t d = 0; d < rank; ++d) {
    kept.push_back(reduce[d] ? 1 : in[0].shape[d]);
    if (!reduce[d] || keep)
      shape.push_back(reduce[d] ? 1 : in[0].shape[d]);
  }
  if (!ctx.make(in[0].dtype, shape, r))
    return false;
  double init = op == "ReduceSum" ? 0
                : op == "ReduceMax" ? -std::numeric_limits<double>::infinity()
                                    : std::numeric_limits<double>::infinity();
  std::fill(r.data.begin(), r.data.end(), init);
  std::vector<int64_t> idx;
  // Each input element goes to the output element it broadcasts from.
  broadcastIndices(in[0].shape, kept, idx);
  for (int64_t k = 0; k < in[0].size(); ++k) {
    double &acc = r.data[idx[k]];
    double v = in[0].data[k];
    acc = op == "ReduceSum" ? acc + v : op == "ReduceMax" ? std::max(acc, v) : std::min(acc, v);
  }
  return true;
}

bool evalCumSum(OpContext &ctx) {
  const onnx::NodeProto &node = ctx.node;
  std::vector<EvalTensor> &in = ctx.in;
  EvalTensor &r = ctx.r;
  SmallVector<int64_t> axisV;
  if (!ctx.need(2) || !intsOf(in[1], axisV) || axisV.size() != 1)
    return ctx.bad("its axis is not one integer");
  int64_t rank = in[0].shape.size(), axis = axisV[0];
  if (!normAxis(axis, rank))
    return ctx.bad("its axis is out of range");
  bool exclusive = intAttr(node, "exclusive", 0), reverse = intAttr(node, "reverse", 0);
  r = in[0];
  Shape s = strides(in[0].shape);
  int64_t dim = in[0].shape[axis], stride = s[axis];
  for (int64_t k = 0; k < r.size(); ++k) {
    if ((k / stride) % dim != 0)
      continue; // start of each line along the axis
    double acc = 0;
    for (int64_t j = 0; j < dim; ++j) {
      int64_t pos = k + (reverse ? dim - 1 - j : j) * stride;
      double v = in[0].data[pos];
      if (exclusive) {
        r.data[pos] = acc;
        acc += v;
      } else {
        acc += v;
        r.data[pos] = acc;
      }
    }
  }
  return true;
}

bool evalTrilu(OpContext &ctx) {
  const onnx::NodeProto &node = ctx.node;
  std::vector<EvalTensor> &in = ctx.in;
  const std::vector<bool> &has = ctx.has;
  EvalTensor &r = ctx.r;
  if (!ctx.need(1) || in[0].shape.size() < 2)
    return ctx.bad("its input is not a matrix");
  int64_t k = 0;
  if (in.size() > 1 && has[1]) {
    SmallVector<int64_t> kv;
    if (!intsOf(in[1], kv) || kv.size() != 1)
      return ctx.bad("its k is not one integer");
    k = kv[0];
  }
  bool upper = intAttr(node, "upper", 1) != 0;
  r = in[0];
  int64_t rows = r.shape[r.shape.size() - 2], cols = r.shape.back();
  for (int64_t e = 0; e < r.size(); ++e) {
    int64_t j = e % cols, i = (e / cols) % rows;
    bool keep = upper ? j - i >= k : j - i <= k;
    if (!keep)
      r.data[e] = 0;
  }
  return true;
}

/// numpy.matmul: 1-D operands are promoted (and the added axis dropped again), leading
/// axes broadcast. Float only: the graphs use it on fp32/fp16 values.
bool evalMatMul(OpContext &ctx) {
  std::vector<EvalTensor> &in = ctx.in;
  if (!ctx.need(2) || !in[0].isFloat() || !in[1].isFloat() || in[0].dtype != in[1].dtype)
    return ctx.bad("its operands are not floats of one type");
  Shape a = in[0].shape, b = in[1].shape;
  if (a.empty() || b.empty())
    return ctx.bad("an operand is a scalar");
  bool vecA = a.size() == 1, vecB = b.size() == 1;
  if (vecA)
    a.insert(a.begin(), 1);
  if (vecB)
    b.push_back(1);
  int64_t m = a[a.size() - 2], k = a.back(), n = b.back();
  if (b[b.size() - 2] != k)
    return ctx.bad("its operands' inner dimensions differ (" + std::to_string(k) + " and " +
                   std::to_string(b[b.size() - 2]) + ")");
  Shape batchA(a.begin(), a.end() - 2), batchB(b.begin(), b.end() - 2), batch;
  if (!broadcastShape(batchA, batchB, batch))
    return ctx.bad("its operands' batch dimensions do not broadcast");
  std::vector<int64_t> ia, ib;
  if (!broadcastIndices(batch, batchA, ia) || !broadcastIndices(batch, batchB, ib))
    return ctx.bad("its operands' batch dimensions do not broadcast");
  Shape shape = batch;
  if (!vecA)
    shape.push_back(m);
  if (!vecB)
    shape.push_back(n);
  // Bounded work, not only a bounded result: a hostile graph could ask for a huge k.
  int64_t count = int64_t(ia.size());
  double work = double(count) * double(m) * double(n) * double(k);
  if (work > double(int64_t(1) << 28) || !ctx.make(in[0].dtype, shape, ctx.r))
    return ctx.bad("it is too large to evaluate (over 2^28 multiply-adds)");
  for (int64_t t = 0; t < count; ++t) {
    const double *x = in[0].data.data() + ia[t] * m * k;
    const double *y = in[1].data.data() + ib[t] * k * n;
    double *out = ctx.r.data.data() + t * m * n;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t l = 0; l < k; ++l)
          acc += x[i * k + l] * y[l * n + j];
        bool ok = true;
        out[i * n + j] = roundTo(ctx.r.dtype, acc, ok);
      }
  }
  return true;
}

} // namespace

void midllama::onnx_import::detail::eval::registerIndexOps(OpTable &table) {
  table["Gather"] = evalGather;
  table["GatherND"] = evalGatherND;
  table["Slice"] = evalSlice;
  table["ReduceSum"] = evalReduce;
  table["ReduceMax"] = evalReduce;
  table["ReduceMin"] = evalReduce;
  table["CumSum"] = evalCumSum;
  table["Trilu"] = evalTrilu;
  table["MatMul"] = evalMatMul;
}
