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
#include "llvm/ADT/StringMap.h"

#include <algorithm>

using namespace midllama::onnx_import;
using namespace midllama::onnx_import::detail;
using namespace midllama::onnx_import::detail::eval;
using llvm::SmallVector;


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

namespace {

/// What a shape rule sees: the node, its operands' shapes and small integer operands
/// (each found through the evaluator), and the error to set.
class ShapeRule {
public:
  ShapeRule(GraphEvaluator &eval, const onnx::NodeProto &node, std::string &error)
      : eval(eval), node(node), error(error) {}

  const onnx::NodeProto &proto() const { return node; }
  /// Sets the error, naming the node; returns nullopt.
  std::optional<Shape> bad(const std::string &why) {
    error = describe(node) + ": " + why;
    return std::nullopt;
  }
  std::optional<Shape> shape(int i) {
    if (i >= node.input_size() || node.input(i).empty())
      return bad("missing input");
    return eval.shapeOf(node.input(i), error);
  }
  /// An integer vector operand (sizes, axes): bookkeeping, evaluated in full.
  bool ints(int i, SmallVector<int64_t> &out) {
    EvalTensor t;
    if (i >= node.input_size() || node.input(i).empty())
      return bad("missing input"), false;
    if (!eval.eval(node.input(i), t, error))
      return false;
    if (!intsOf(t, out))
      return bad("its input #" + std::to_string(i) + " is not an integer vector"), false;
    return true;
  }
  bool has(int i) const { return i < node.input_size() && !node.input(i).empty(); }
  /// Axes from input 1 (opset 13 and later) or the `axes` attribute.
  bool axes(SmallVector<int64_t> &out) {
    if (has(1))
      return ints(1, out);
    if (const onnx::AttributeProto *a = findAttr(node, "axes"))
      out.assign(a->ints().begin(), a->ints().end());
    return true;
  }
  int64_t attr(llvm::StringRef name, int64_t def) const { return intAttr(node, name, def); }

private:
  GraphEvaluator &eval;
  const onnx::NodeProto &node;
  std::string &error;
};

using Rule = std::optional<Shape> (*)(ShapeRule &);

std::optional<Shape> sameShape(ShapeRule &r) { return r.shape(0); }

std::optional<Shape> broadcast(ShapeRule &r) {
  Shape out;
  for (int i = 0; i < r.proto().input_size(); ++i) {
    std::optional<Shape> s = r.shape(i);
    if (!s)
      return std::nullopt;
    if (!broadcastShape(Shape(out), *s, out))
      return r.bad("its operands' shapes do not broadcast");
  }
  return out;
}

std::optional<Shape> matMul(ShapeRule &r) {
  std::optional<Shape> a = r.shape(0), b = a ? r.shape(1) : std::nullopt;
  if (!b)
    return std::nullopt;
  if (a->empty() || b->empty())
    return r.bad("an operand is a scalar");
  Shape x = *a, y = *b, out;
  if (x.size() == 1)
    x.insert(x.begin(), 1);
  if (y.size() == 1)
    y.push_back(1);
  if (x.back() != y[y.size() - 2] ||
      !broadcastShape(Shape(x.begin(), x.end() - 2), Shape(y.begin(), y.end() - 2), out))
    return r.bad("its operands' shapes do not multiply");
  if (a->size() > 1)
    out.push_back(x[x.size() - 2]);
  if (b->size() > 1)
    out.push_back(y.back());
  return out;
}

std::optional<Shape> transpose(ShapeRule &r) {
  std::optional<Shape> in = r.shape(0);
  if (!in)
    return std::nullopt;
  SmallVector<int64_t> perm;
  if (!transposePerm(r.proto(), int64_t(in->size()), perm))
    return r.bad("its perm is not a permutation of its input's axes");
  Shape out;
  for (int64_t p : perm)
    out.push_back((*in)[p]);
  return out;
}

std::optional<Shape> reshape(ShapeRule &r) {
  std::optional<Shape> in = r.shape(0);
  SmallVector<int64_t> target;
  if (!in || !r.ints(1, target))
    return std::nullopt;
  int64_t total = checkedSize(*in), known = 1, inferred = -1;
  if (total < 0)
    return r.bad("its input is too large");
  bool allowZero = r.attr("allowzero", 0) != 0;
  Shape out;
  for (size_t i = 0; i < target.size(); ++i) {
    int64_t d = target[i];
    if (d == 0 && !allowZero) {
      if (i >= in->size())
        return r.bad("copies a dimension the input does not have");
      d = (*in)[i];
    }
    if (d == -1 && inferred < 0) {
      inferred = i;
      out.push_back(1);
      continue;
    }
    if (d < 0 || (d > 0 && known > total / d + 1))
      return r.bad("its target shape is invalid");
    out.push_back(d);
    known *= d;
  }
  if (inferred >= 0) {
    if (known == 0 || total % known != 0)
      return r.bad("its -1 cannot be inferred");
    out[inferred] = total / known;
  } else if (known != total) {
    return r.bad("its target shape holds a different number of elements");
  }
  return out;
}

std::optional<Shape> squeezeOrUnsqueeze(ShapeRule &r) {
  std::optional<Shape> in = r.shape(0);
  SmallVector<int64_t> axes;
  if (!in || !r.axes(axes))
    return std::nullopt;
  Shape out;
  std::string why;
  bool explicitAxes = r.has(1) || findAttr(r.proto(), "axes");
  if (!squeezedShape(r.proto().op_type() == "Unsqueeze", *in, axes, explicitAxes, out, why))
    return r.bad(why);
  return out;
}

std::optional<Shape> expand(ShapeRule &r) {
  std::optional<Shape> in = r.shape(0);
  SmallVector<int64_t> target;
  Shape out;
  if (!in || !r.ints(1, target))
    return std::nullopt;
  if (!broadcastShape(*in, Shape(target.begin(), target.end()), out))
    return r.bad("its shape does not broadcast with its input's");
  return out;
}

std::optional<Shape> concat(ShapeRule &r) {
  std::optional<Shape> out = r.shape(0);
  int64_t axis = r.attr("axis", 0);
  if (!out)
    return std::nullopt;
  if (!normAxis(axis, out->size()))
    return r.bad("its axis is out of range");
  for (int i = 1; i < r.proto().input_size(); ++i) {
    std::optional<Shape> s = r.shape(i);
    if (!s)
      return std::nullopt;
    if (s->size() != out->size())
      return r.bad("its operands differ in rank");
    (*out)[axis] += (*s)[axis];
  }
  return out;
}

std::optional<Shape> gather(ShapeRule &r) {
  std::optional<Shape> data = r.shape(0), indices = data ? r.shape(1) : std::nullopt;
  int64_t axis = r.attr("axis", 0);
  if (!indices)
    return std::nullopt;
  if (!normAxis(axis, data->size()))
    return r.bad("its axis is out of range");
  Shape out(data->begin(), data->begin() + axis);
  out.append(indices->begin(), indices->end());
  out.append(data->begin() + axis + 1, data->end());
  return out;
}

/// One sliced dimension of size `dim` (the ONNX Slice clamping rules).
int64_t slicedSize(int64_t dim, int64_t s, int64_t e, int64_t step) {
  if (s < 0)
    s += dim;
  if (e < 0)
    e += dim;
  if (step > 0) {
    s = std::clamp<int64_t>(s, 0, dim);
    e = std::clamp<int64_t>(e, 0, dim);
    return e > s ? (e - s + step - 1) / step : 0;
  }
  s = std::clamp<int64_t>(s, 0, dim - 1);
  e = std::clamp<int64_t>(e, -1, dim - 1);
  return s > e ? (s - e - step - 1) / -step : 0;
}

std::optional<Shape> slice(ShapeRule &r) {
  std::optional<Shape> in = r.shape(0);
  SmallVector<int64_t> starts, ends, axes, steps;
  if (!in || !r.ints(1, starts) || !r.ints(2, ends))
    return std::nullopt;
  if (r.has(3) ? !r.ints(3, axes) : false)
    return std::nullopt;
  if (r.has(4) ? !r.ints(4, steps) : false)
    return std::nullopt;
  if (!r.has(3))
    for (size_t i = 0; i < starts.size(); ++i)
      axes.push_back(i);
  if (!r.has(4))
    steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      steps.size() != starts.size())
    return r.bad("its starts, ends, axes and steps differ in length");
  Shape out(*in);
  for (size_t i = 0; i < starts.size(); ++i) {
    int64_t a = axes[i];
    if (!normAxis(a, in->size()) || steps[i] == 0)
      return r.bad("an axis out of range or a zero step");
    out[a] = slicedSize((*in)[a], starts[i], ends[i], steps[i]);
  }
  return out;
}

std::optional<Shape> reduce(ShapeRule &r) {
  std::optional<Shape> in = r.shape(0);
  SmallVector<int64_t> axes;
  if (!in || !r.axes(axes))
    return std::nullopt;
  int64_t rank = in->size();
  if (axes.empty() && r.attr("noop_with_empty_axes", 0))
    return in;
  for (int64_t &a : axes)
    if (!normAxis(a, rank))
      return r.bad("an axis out of range");
  bool keep = r.attr("keepdims", 1) != 0;
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

Rule ruleFor(llvm::StringRef op) {
  static const llvm::StringMap<Rule> rules = [] {
    llvm::StringMap<Rule> m;
    for (const char *o : {"Cast", "Identity", "Neg", "Abs", "Sqrt", "Reciprocal", "Exp", "Log",
                          "Cos", "Sin", "Sigmoid", "Tanh", "Erf", "Relu", "Not", "IsNaN",
                          "IsInf", "Floor", "Ceil", "Round", "Sign", "Softmax", "LogSoftmax",
                          "Trilu", "CumSum"})
      m[o] = sameShape;
    for (const char *o : {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Mod", "Equal",
                          "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or",
                          "Xor", "Where"})
      m[o] = broadcast;
    for (const char *o : {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd",
                          "ReduceL2", "ReduceSumSquare"})
      m[o] = reduce;
    m["MatMul"] = matMul;
    m["Transpose"] = transpose;
    m["Reshape"] = reshape;
    m["Unsqueeze"] = squeezeOrUnsqueeze;
    m["Squeeze"] = squeezeOrUnsqueeze;
    m["Expand"] = expand;
    m["Concat"] = concat;
    m["Gather"] = gather;
    m["Slice"] = slice;
    return m;
  }();
  auto it = rules.find(op);
  return it == rules.end() ? nullptr : it->second;
}

} // namespace

std::optional<Shape> GraphEvaluator::inferShape(const onnx::NodeProto &node,
                                                std::string &error) {
  if (Rule rule = ruleFor(node.op_type())) {
    ShapeRule r(*this, node, error);
    return rule(r);
  }
  EvalTensor t; // any other op: its value, in full
  if (!eval(node.output(0), t, error))
    return std::nullopt;
  return t.shape;
}
