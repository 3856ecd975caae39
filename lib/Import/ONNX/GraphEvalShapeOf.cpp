//===- GraphEvalShapeOf.cpp - Shapes without values for the bookkeeping evaluator -===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Exporters that trace Python (TorchScript, optimum) compute sizes from activations:
// the causal mask is sliced at Shape(key_states)[-2], rotate_half at Shape(q)[-1] // 2,
// the mask's length from Shape(inputs_embeds). Those activations derive from the weights,
// which the evaluator will not read (they are not bookkeeping), but their shapes follow
// from the ONNX shape rules of the ops in between. GraphEvaluator::shapeOf applies those
// rules, evaluating only the small size and axis operands, and evaluates a value in full
// only for ops outside them.
//
//===----------------------------------------------------------------------===//

#include "GraphEvalOps.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/Sequence.h"
#include "llvm/ADT/StringSet.h"

#include <algorithm>

using namespace midllama::onnx_import;
using namespace midllama::onnx_import::detail;
using namespace midllama::onnx_import::detail::eval;
using llvm::SmallVector;

namespace {

bool sameShapeOp(llvm::StringRef op) {
  static const llvm::StringSet<> ops = {
      "Cast",   "Identity", "Neg",  "Abs",     "Sqrt",    "Reciprocal", "Exp",
      "Log",    "Cos",      "Sin",  "Sigmoid", "Tanh",    "Erf",        "Relu",
      "Not",    "IsNaN",    "IsInf", "Floor",  "Ceil",    "Round",      "Sign",
      "Softmax", "LogSoftmax", "Trilu", "CumSum"};
  return ops.contains(op);
}

bool broadcastOp(llvm::StringRef op) {
  static const llvm::StringSet<> ops = {"Add",  "Sub",          "Mul",  "Div",     "Pow",
                                        "Max",  "Min",          "Mod",  "Equal",   "Less",
                                        "Greater", "LessOrEqual", "GreaterOrEqual", "And",
                                        "Or",   "Xor",          "Where"};
  return ops.contains(op);
}

} // namespace

std::optional<Shape> GraphEvaluator::shapeOf(const std::string &name, std::string &error) {
  if (auto it = memo.find(name); it != memo.end())
    return it->second.shape;
  if (const OnnxTensor *init = model.initializer(name))
    return Shape(init->dims.begin(), init->dims.end());
  auto it = producers.find(name);
  const onnx::NodeProto *node = it == producers.end() ? nullptr : it->second.first;
  bool standard = node && (node->domain().empty() || node->domain() == "ai.onnx");
  if (!standard || it->second.second != 0 || depth > kMaxDepth) {
    EvalTensor t; // graph inputs, other domains, second results: evaluated in full
    if (!eval(name, t, error))
      return std::nullopt;
    return t.shape;
  }
  // Memoized: the residual stream reaches each layer by two paths, so without it the
  // walk up a 30-layer decoder would take 2^30 steps.
  if (auto known = shapeMemo.find(name); known != shapeMemo.end())
    return Shape(known->second);
  ++depth;
  std::optional<Shape> result = inferShape(*node, error);
  --depth;
  if (result)
    shapeMemo[name] = *result;
  return result;
}

std::optional<Shape> GraphEvaluator::inferShape(const onnx::NodeProto &node,
                                                std::string &error) {
  const std::string &op = node.op_type();
  auto bad = [&](const std::string &why) -> std::optional<Shape> {
    error = describe(node) + ": " + why;
    return std::nullopt;
  };
  auto shape = [&](int i) -> std::optional<Shape> {
    if (i >= node.input_size() || node.input(i).empty())
      return bad("missing input");
    return shapeOf(node.input(i), error);
  };
  // An integer vector operand (sizes, axes): bookkeeping, evaluated in full.
  auto ints = [&](int i, SmallVector<int64_t> &out) {
    EvalTensor t;
    if (i >= node.input_size() || node.input(i).empty())
      return bad("missing input"), false;
    if (!eval(node.input(i), t, error))
      return false;
    if (!intsOf(t, out))
      return bad("its input #" + std::to_string(i) + " is not an integer vector"), false;
    return true;
  };
  auto axesOf = [&](SmallVector<int64_t> &axes) {
    if (node.input_size() > 1 && !node.input(1).empty())
      return ints(1, axes);
    if (const onnx::AttributeProto *a = findAttr(node, "axes"))
      axes.assign(a->ints().begin(), a->ints().end());
    return true;
  };

  if (sameShapeOp(op))
    return shape(0);
  if (broadcastOp(op)) {
    Shape out;
    for (int i = 0; i < node.input_size(); ++i) {
      std::optional<Shape> s = shape(i);
      if (!s)
        return std::nullopt;
      if (!broadcastShape(Shape(out), *s, out))
        return bad("its operands' shapes do not broadcast");
    }
    return out;
  }
  if (op == "MatMul") {
    std::optional<Shape> a = shape(0), b = a ? shape(1) : std::nullopt;
    if (!b)
      return std::nullopt;
    if (a->empty() || b->empty())
      return bad("an operand is a scalar");
    Shape x = *a, y = *b, out;
    if (x.size() == 1)
      x.insert(x.begin(), 1);
    if (y.size() == 1)
      y.push_back(1);
    if (x.back() != y[y.size() - 2] ||
        !broadcastShape(Shape(x.begin(), x.end() - 2), Shape(y.begin(), y.end() - 2), out))
      return bad("its operands' shapes do not multiply");
    if (a->size() > 1)
      out.push_back(x[x.size() - 2]);
    if (b->size() > 1)
      out.push_back(y.back());
    return out;
  }
  if (op == "Transpose") {
    std::optional<Shape> in = shape(0);
    if (!in)
      return std::nullopt;
    int64_t rank = in->size();
    SmallVector<int64_t> perm;
    if (const onnx::AttributeProto *p = findAttr(node, "perm"))
      perm.assign(p->ints().begin(), p->ints().end());
    else
      for (int64_t i = rank - 1; i >= 0; --i)
        perm.push_back(i);
    SmallVector<int64_t> sorted(perm);
    llvm::sort(sorted);
    if (int64_t(perm.size()) != rank ||
        !llvm::equal(sorted, llvm::seq<int64_t>(0, rank)))
      return bad("its perm is not a permutation of its input's axes");
    Shape out;
    for (int64_t p : perm)
      out.push_back((*in)[p]);
    return out;
  }
  if (op == "Reshape") {
    std::optional<Shape> in = shape(0);
    SmallVector<int64_t> target;
    if (!in || !ints(1, target))
      return std::nullopt;
    int64_t total = checkedSize(*in), known = 1, inferred = -1;
    if (total < 0)
      return bad("its input is too large");
    bool allowZero = intAttr(node, "allowzero", 0) != 0;
    Shape out;
    for (size_t i = 0; i < target.size(); ++i) {
      int64_t d = target[i];
      if (d == 0 && !allowZero) {
        if (i >= in->size())
          return bad("copies a dimension the input does not have");
        d = (*in)[i];
      }
      if (d == -1 && inferred < 0) {
        inferred = i;
        out.push_back(1);
        continue;
      }
      if (d < 0 || (d > 0 && known > total / d + 1))
        return bad("its target shape is invalid");
      out.push_back(d);
      known *= d;
    }
    if (inferred >= 0) {
      if (known == 0 || total % known != 0)
        return bad("its -1 cannot be inferred");
      out[inferred] = total / known;
    } else if (known != total) {
      return bad("its target shape holds a different number of elements");
    }
    return out;
  }
  if (op == "Unsqueeze" || op == "Squeeze") {
    std::optional<Shape> in = shape(0);
    SmallVector<int64_t> axes;
    if (!in || !axesOf(axes))
      return std::nullopt;
    int64_t outRank = op == "Unsqueeze" ? int64_t(in->size() + axes.size()) : in->size();
    for (int64_t &a : axes)
      if (!normAxis(a, outRank))
        return bad("an axis out of range");
    llvm::sort(axes);
    if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
      return bad("a repeated axis");
    Shape out;
    if (op == "Unsqueeze") {
      for (int64_t i = 0, j = 0; i < outRank; ++i)
        out.push_back(llvm::is_contained(axes, i) ? 1 : (*in)[j++]);
      return out;
    }
    for (int64_t i = 0; i < outRank; ++i) {
      bool squeezed = axes.empty() ? (*in)[i] == 1 : llvm::is_contained(axes, i);
      if (squeezed && (*in)[i] != 1)
        return bad("it squeezes an axis of size " + std::to_string((*in)[i]));
      if (!squeezed)
        out.push_back((*in)[i]);
    }
    return out;
  }
  if (op == "Expand") {
    std::optional<Shape> in = shape(0);
    SmallVector<int64_t> target;
    Shape out;
    if (!in || !ints(1, target))
      return std::nullopt;
    if (!broadcastShape(*in, Shape(target.begin(), target.end()), out))
      return bad("its shape does not broadcast with its input's");
    return out;
  }
  if (op == "Concat") {
    std::optional<Shape> out = shape(0);
    int64_t axis = intAttr(node, "axis", 0);
    if (!out)
      return std::nullopt;
    if (!normAxis(axis, out->size()))
      return bad("its axis is out of range");
    for (int i = 1; i < node.input_size(); ++i) {
      std::optional<Shape> s = shape(i);
      if (!s)
        return std::nullopt;
      if (s->size() != out->size())
        return bad("its operands differ in rank");
      (*out)[axis] += (*s)[axis];
    }
    return out;
  }
  if (op == "Gather") {
    std::optional<Shape> data = shape(0), indices = data ? shape(1) : std::nullopt;
    int64_t axis = intAttr(node, "axis", 0);
    if (!indices)
      return std::nullopt;
    if (!normAxis(axis, data->size()))
      return bad("its axis is out of range");
    Shape out(data->begin(), data->begin() + axis);
    out.append(indices->begin(), indices->end());
    out.append(data->begin() + axis + 1, data->end());
    return out;
  }
  if (op == "Slice") {
    std::optional<Shape> in = shape(0);
    SmallVector<int64_t> starts, ends, axes, steps;
    if (!in || !ints(1, starts) || !ints(2, ends))
      return std::nullopt;
    int64_t rank = in->size();
    if (node.input_size() > 3 && !node.input(3).empty()) {
      if (!ints(3, axes))
        return std::nullopt;
    } else {
      for (size_t i = 0; i < starts.size(); ++i)
        axes.push_back(i);
    }
    if (node.input_size() > 4 && !node.input(4).empty()) {
      if (!ints(4, steps))
        return std::nullopt;
    } else {
      steps.assign(starts.size(), 1);
    }
    if (ends.size() != starts.size() || axes.size() != starts.size() ||
        steps.size() != starts.size())
      return bad("its starts, ends, axes and steps differ in length");
    Shape out(*in);
    for (size_t i = 0; i < starts.size(); ++i) {
      int64_t a = axes[i];
      if (!normAxis(a, rank) || steps[i] == 0)
        return bad("an axis out of range or a zero step");
      int64_t dim = (*in)[a], s = starts[i], e = ends[i];
      if (s < 0) s += dim;
      if (e < 0) e += dim;
      if (steps[i] > 0) {
        s = std::clamp<int64_t>(s, 0, dim);
        e = std::clamp<int64_t>(e, 0, dim);
        out[a] = e > s ? (e - s + steps[i] - 1) / steps[i] : 0;
      } else {
        s = std::clamp<int64_t>(s, 0, dim - 1);
        e = std::clamp<int64_t>(e, -1, dim - 1);
        out[a] = s > e ? (s - e - steps[i] - 1) / -steps[i] : 0;
      }
    }
    return out;
  }
  if (op.rfind("Reduce", 0) == 0) {
    std::optional<Shape> in = shape(0);
    SmallVector<int64_t> axes;
    if (!in || !axesOf(axes))
      return std::nullopt;
    int64_t rank = in->size();
    if (axes.empty() && intAttr(node, "noop_with_empty_axes", 0))
      return in;
    for (int64_t &a : axes)
      if (!normAxis(a, rank))
        return bad("an axis out of range");
    bool keep = intAttr(node, "keepdims", 1) != 0;
    Shape out;
    for (int64_t i = 0; i < rank; ++i) {
      bool reduced = axes.empty() || llvm::is_contained(axes, i);
      if (!reduced)
        out.push_back((*in)[i]);
      else if (keep)
        out.push_back(1);
    }
    return out;
  }
  EvalTensor t; // any other op: its value, in full
  if (!eval(node.output(0), t, error))
    return std::nullopt;
  return t.shape;
}
