//===- GraphEval.cpp - Evaluate small ONNX subgraphs on concrete inputs ---===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// A reference interpreter for the ops exporters build masks, positions and rotary angles
// from (shape arithmetic, Range, comparisons, Where, Cos/Sin...), following the ONNX
// operator specification. Every input is checked (ranks, sizes, attribute values) because
// model files are hostile: a bad graph gets an error, never a crash or a huge allocation.
//
//===----------------------------------------------------------------------===//

#include "GraphEval.h"

#include "runtime/params/Half.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/Sequence.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

using namespace midllama::onnx_import;
using namespace midllama::onnx_import::detail;
using llvm::ArrayRef;
using llvm::SmallVector;
using llvm::StringRef;

bool EvalTensor::isFloat() const {
  return dtype == int32_t(OnnxDType::Float) || dtype == int32_t(OnnxDType::Float16) ||
         dtype == int32_t(OnnxDType::Double) || dtype == int32_t(OnnxDType::BFloat16);
}

int64_t EvalTensor::size() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

namespace {

using Shape = SmallVector<int64_t, 4>;

std::string describe(const onnx::NodeProto &node) {
  std::string domain = node.domain().empty() ? "ai.onnx" : node.domain();
  return "node '" + node.name() + "' (" + domain + "::" + node.op_type() + ")";
}

const onnx::AttributeProto *findAttr(const onnx::NodeProto &node, StringRef name) {
  for (const onnx::AttributeProto &a : node.attribute())
    if (a.name() == name)
      return &a;
  return nullptr;
}

int64_t intAttr(const onnx::NodeProto &node, StringRef name, int64_t def) {
  const onnx::AttributeProto *a = findAttr(node, name);
  return a ? a->i() : def;
}

/// An index held as double, clamped into int64 range (Slice uses INT64_MAX as "to the end").
int64_t toIndex(double v) {
  if (!(v > -4e18))
    return v != v ? 0 : -(int64_t(1) << 62);
  if (!(v < 4e18))
    return int64_t(1) << 62;
  return int64_t(v);
}

/// Element count of `shape`, or -1 if negative, absurd or over the evaluator's limit.
int64_t checkedSize(ArrayRef<int64_t> shape) {
  if (shape.size() > 8)
    return -1;
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d && n > GraphEvaluator::kMaxElements / d))
      return -1;
    n *= d;
  }
  return n > GraphEvaluator::kMaxElements ? -1 : n;
}

/// Rounds `v` to what an element of ONNX type `dtype` holds.
double roundTo(int32_t dtype, double v, bool &ok) {
  switch (OnnxDType(dtype)) {
  case OnnxDType::Float:
    return double(float(v));
  case OnnxDType::Float16:
    return midllama::rt::halfToFloat(midllama::rt::floatToHalf(float(v)));
  case OnnxDType::Double:
    return v;
  case OnnxDType::Bool:
    return v != 0 ? 1 : 0;
  case OnnxDType::Int64:
  case OnnxDType::Int32:
  case OnnxDType::Int16:
  case OnnxDType::Int8:
  case OnnxDType::UInt8:
  case OnnxDType::UInt16:
  case OnnxDType::UInt32:
  case OnnxDType::UInt64:
    if (!std::isfinite(v) || std::abs(v) > 9e15) {
      ok = false; // casting inf/NaN or huge values to integers is undefined in ONNX
      return 0;
    }
    return std::trunc(v);
  default:
    ok = false;
    return 0;
  }
}

} // namespace

bool midllama::onnx_import::detail::broadcastIndices(ArrayRef<int64_t> out, ArrayRef<int64_t> in, std::vector<int64_t> &idx) {
  if (in.size() > out.size())
    return false;
  size_t offset = out.size() - in.size();
  SmallVector<int64_t, 8> stride(out.size(), 0);
  int64_t s = 1;
  for (size_t i = in.size(); i-- > 0;) {
    if (in[i] != out[offset + i] && in[i] != 1)
      return false;
    stride[offset + i] = in[i] == 1 ? 0 : s;
    s *= in[i];
  }
  int64_t total = 1;
  for (int64_t d : out)
    total *= d;
  idx.assign(total, 0);
  SmallVector<int64_t, 8> counter(out.size(), 0);
  int64_t current = 0;
  for (int64_t n = 0; n < total; ++n) {
    idx[n] = current;
    for (size_t d = out.size(); d-- > 0;) {
      current += stride[d];
      if (++counter[d] < out[d])
        break;
      current -= stride[d] * out[d];
      counter[d] = 0;
    }
  }
  return true;
}

namespace {

bool broadcastShape(ArrayRef<int64_t> a, ArrayRef<int64_t> b, Shape &out) {
  size_t rank = std::max(a.size(), b.size());
  out.assign(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    int64_t x = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t y = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (x != y && x != 1 && y != 1)
      return false;
    out[i] = x == 1 ? y : x;
  }
  return true;
}

/// Row-major strides of `shape`.
Shape strides(ArrayRef<int64_t> shape) {
  Shape s(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;)
    s[i - 1] = s[i] * shape[i];
  return s;
}

bool normAxis(int64_t &axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return false;
  if (axis < 0)
    axis += rank;
  return true;
}

/// Integer vector from a 0-D or 1-D tensor.
bool intsOf(const EvalTensor &t, SmallVector<int64_t> &out) {
  if (t.shape.size() > 1 || t.isFloat())
    return false;
  out.clear();
  for (double v : t.data)
    out.push_back(toIndex(v));
  return true;
}

} // namespace

GraphEvaluator::GraphEvaluator(OnnxModel &model, const onnx::GraphProto &graph,
                               const Producers &producers, EvalConfig config)
    : model(model), graph(graph), producers(producers), config_(config) {
  // The token ids are the indices of the embedding lookup: a Gather (or
  // GatherBlockQuantized) of a weight by a graph input. Found by structure, not by name.
  llvm::StringMap<bool> inputs;
  for (const onnx::ValueInfoProto &in : graph.input())
    inputs[in.name()] = true;
  for (const onnx::NodeProto &node : graph.node()) {
    bool gather = (node.op_type() == "Gather" &&
                   (node.domain().empty() || node.domain() == "ai.onnx")) ||
                  (node.op_type() == "GatherBlockQuantized" && node.domain() == "com.microsoft");
    if (gather && node.input_size() >= 2 && inputs.count(node.input(1)) &&
        !model.initializer(node.input(1))) {
      idsInput = node.input(1);
      break;
    }
  }
  for (const onnx::ValueInfoProto &in : graph.input())
    if (!model.initializer(in.name()) && in.type().tensor_type().shape().dim_size() == 4)
      hasCache = true;
}

bool GraphEvaluator::bindInput(const onnx::ValueInfoProto &in, EvalTensor &out,
                               std::string &error) {
  const onnx::TypeProto_Tensor &tt = in.type().tensor_type();
  out.dtype = tt.elem_type();
  int rank = tt.shape().dim_size();
  // Which symbolic length is the ids': inputs with the same one are per new token.
  std::string idsLength;
  for (const onnx::ValueInfoProto &other : graph.input())
    if (other.name() == idsInput && other.type().tensor_type().shape().dim_size() == 2)
      idsLength = other.type().tensor_type().shape().dim(1).dim_param();
  bool integer = out.dtype == int32_t(OnnxDType::Int64) || out.dtype == int32_t(OnnxDType::Int32);
  enum { Ids, Positions, Mask, Zeros } role = Zeros;
  if (integer && rank == 2) {
    const std::string &length = tt.shape().dim(1).dim_param();
    role = in.name() == idsInput ? Ids
           : hasCache && !idsLength.empty() && !length.empty() && length != idsLength
               ? Mask
               : Positions;
  }
  out.shape.clear();
  for (int i = 0; i < rank; ++i) {
    const onnx::TensorShapeProto_Dimension &d = tt.shape().dim(i);
    int64_t size = d.has_dim_value() && d.dim_value() > 0 ? d.dim_value()
                   : i == 0                                ? 1
                   : rank == 4 && i == 2                   ? config_.past
                   : role == Mask                          ? config_.total()
                   : rank == 2                             ? config_.seq
                                                           : 2;
    out.shape.push_back(size);
  }
  int64_t n = checkedSize(out.shape);
  if (n < 0) {
    error = "graph input '" + in.name() + "' is too large to evaluate";
    return false;
  }
  out.data.assign(n, 0.0);
  int64_t width = rank ? out.shape.back() : 1;
  for (int64_t i = 0; i < n; ++i) {
    int64_t col = i % std::max<int64_t>(width, 1);
    out.data[i] = role == Ids ? double(7 + 3 * col)
                  : role == Positions ? double(config_.past + col)
                  : role == Mask      ? 1.0
                                      : 0.0;
  }
  return true;
}

bool GraphEvaluator::eval(const std::string &name, EvalTensor &out, std::string &error) {
  if (auto it = memo.find(name); it != memo.end()) {
    out = it->second;
    return true;
  }
  if (const OnnxTensor *init = model.initializer(name)) {
    if (checkedSize(init->dims) < 0) {
      error = "it reads initializer '" + name + "', which is too large to be bookkeeping";
      return false;
    }
    EvalTensor t;
    t.dtype = init->dataType;
    t.shape.assign(init->dims.begin(), init->dims.end());
    int64_t n = init->numElements();
    int64_t width = onnxDTypeSize(init->dataType).value_or(0);
    t.data.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t *p = init->bytes.data() + i * width;
      switch (OnnxDType(init->dataType)) {
      case OnnxDType::Float: {
        float f;
        std::memcpy(&f, p, 4);
        t.data[i] = f;
        break;
      }
      case OnnxDType::Float16: {
        uint16_t h;
        std::memcpy(&h, p, 2);
        t.data[i] = rt::halfToFloat(h);
        break;
      }
      case OnnxDType::Double:
        std::memcpy(&t.data[i], p, 8);
        break;
      case OnnxDType::Int64: {
        int64_t v;
        std::memcpy(&v, p, 8);
        t.data[i] = double(v);
        break;
      }
      case OnnxDType::Int32: {
        int32_t v;
        std::memcpy(&v, p, 4);
        t.data[i] = v;
        break;
      }
      case OnnxDType::Bool:
      case OnnxDType::UInt8:
        t.data[i] = *p;
        break;
      case OnnxDType::Int8:
        t.data[i] = int8_t(*p);
        break;
      default:
        error = "it reads initializer '" + name + "' of type " +
                onnxDTypeName(init->dataType).str() + ", which the check does not evaluate";
        return false;
      }
    }
    out = memo[name] = std::move(t);
    return true;
  }
  auto it = producers.find(name);
  if (it == producers.end()) {
    for (const onnx::ValueInfoProto &in : graph.input())
      if (in.name() == name) {
        if (!bindInput(in, out, error))
          return false;
        memo[name] = out;
        return true;
      }
    error = "value '" + name + "' is neither a graph input nor produced by a node";
    return false;
  }
  const onnx::NodeProto &node = *it->second.first;
  if (active.count(name)) {
    error = describe(node) + " depends on its own output";
    return false;
  }
  if (depth > 256) {
    error = describe(node) + " is nested too deeply to evaluate";
    return false;
  }
  active[name] = true;
  ++depth;
  std::vector<EvalTensor> outs;
  bool ok = evalNode(node, outs, error);
  --depth;
  active.erase(name);
  if (!ok)
    return false;
  for (size_t i = 0; i < outs.size() && int(i) < node.output_size(); ++i)
    if (!node.output(i).empty())
      memo[node.output(i)] = outs[i];
  int index = it->second.second;
  if (index >= int(outs.size())) {
    error = "output #" + std::to_string(index) + " of " + describe(node) +
            " is not one the check evaluates";
    return false;
  }
  out = outs[index];
  return true;
}

bool GraphEvaluator::evalNode(const onnx::NodeProto &node, std::vector<EvalTensor> &outs,
                              std::string &error) {
  const std::string &op = node.op_type();
  auto bad = [&](const std::string &why) {
    error = describe(node) + ": " + why;
    return false;
  };
  // Unknown ops are refused before their inputs are evaluated: the error is then about
  // the op, not about something upstream of it.
  static const char *const known[] = {
      "Constant", "Identity", "Neg", "Not", "Cos", "Sin", "Abs", "Sqrt", "Reciprocal", "Exp",
      "Floor", "Ceil", "IsNaN", "IsInf", "Sigmoid", "Add", "Sub", "Mul", "Div", "Max", "Min",
      "Pow", "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor",
      "Mod", "Where", "Cast", "Shape", "Size", "ConstantOfShape", "Range", "Unsqueeze",
      "Squeeze", "Reshape", "Expand", "Tile", "Transpose", "Concat", "Gather", "GatherND",
      "Slice", "ReduceSum", "ReduceMax", "ReduceMin", "CumSum", "Trilu"};
  if ((!node.domain().empty() && node.domain() != "ai.onnx") || !llvm::is_contained(known, op))
    return bad("not an op the check evaluates");
  // Evaluated inputs; an empty name (an omitted optional input) stays empty.
  std::vector<EvalTensor> in(node.input_size());
  std::vector<bool> has(node.input_size(), false);
  if (op != "Constant")
    for (int i = 0; i < node.input_size(); ++i) {
      if (node.input(i).empty())
        continue;
      if (!eval(node.input(i), in[i], error))
        return false;
      has[i] = true;
    }
  auto need = [&](int n) { return int(in.size()) >= n && llvm::all_of(llvm::seq(0, n), [&](int i) { return bool(has[i]); }); };
  auto make = [&](int32_t dtype, ArrayRef<int64_t> shape, EvalTensor &t) {
    t.dtype = dtype;
    t.shape.assign(shape.begin(), shape.end());
    int64_t n = checkedSize(shape);
    if (n < 0)
      return bad("its result would be too large to evaluate");
    t.data.assign(n, 0.0);
    return true;
  };
  outs.resize(1);
  EvalTensor &r = outs[0];

  if (op == "Constant") {
    if (const onnx::AttributeProto *a = findAttr(node, "value"); a && a->has_t()) {
      OnnxTensor t;
      std::string why;
      if (!model.decodeInline(a->t(), t, why))
        return bad(why);
      // Reuse the initializer decoding through a temporary name-free view.
      EvalTensor e;
      e.dtype = t.dataType;
      e.shape.assign(t.dims.begin(), t.dims.end());
      if (checkedSize(e.shape) < 0)
        return bad("its value is too large to evaluate");
      int64_t n = t.numElements(), width = onnxDTypeSize(t.dataType).value_or(0);
      for (int64_t i = 0; i < n; ++i) {
        const uint8_t *p = t.bytes.data() + i * width;
        double v;
        switch (OnnxDType(t.dataType)) {
        case OnnxDType::Float: { float f; std::memcpy(&f, p, 4); v = f; break; }
        case OnnxDType::Float16: { uint16_t h; std::memcpy(&h, p, 2); v = rt::halfToFloat(h); break; }
        case OnnxDType::Double: std::memcpy(&v, p, 8); break;
        case OnnxDType::Int64: { int64_t x; std::memcpy(&x, p, 8); v = double(x); break; }
        case OnnxDType::Int32: { int32_t x; std::memcpy(&x, p, 4); v = x; break; }
        case OnnxDType::Bool:
        case OnnxDType::UInt8: v = *p; break;
        default: return bad("its value's element type is not evaluated");
        }
        e.data.push_back(v);
      }
      r = std::move(e);
      return true;
    }
    if (const onnx::AttributeProto *a = findAttr(node, "value_float")) {
      r.dtype = int32_t(OnnxDType::Float);
      r.data = {double(a->f())};
      return true;
    }
    if (const onnx::AttributeProto *a = findAttr(node, "value_int")) {
      r.dtype = int32_t(OnnxDType::Int64);
      r.data = {double(a->i())};
      return true;
    }
    if (const onnx::AttributeProto *a = findAttr(node, "value_ints")) {
      if (a->ints_size() > kMaxElements)
        return bad("its value is too large to evaluate");
      r.dtype = int32_t(OnnxDType::Int64);
      r.shape = {a->ints_size()};
      for (int64_t v : a->ints())
        r.data.push_back(double(v));
      return true;
    }
    if (const onnx::AttributeProto *a = findAttr(node, "value_floats")) {
      if (a->floats_size() > kMaxElements)
        return bad("its value is too large to evaluate");
      r.dtype = int32_t(OnnxDType::Float);
      r.shape = {a->floats_size()};
      for (float v : a->floats())
        r.data.push_back(v);
      return true;
    }
    return bad("a Constant without a value the check reads");
  }

  // Elementwise ops: numpy broadcasting, the result typed like the first input
  // (comparisons and logic give bool).
  static const char *const unary[] = {"Identity", "Neg", "Not", "Cos", "Sin", "Abs",
                                      "Sqrt", "Reciprocal", "Exp", "Floor", "Ceil",
                                      "IsNaN", "IsInf", "Sigmoid"};
  static const char *const binary[] = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Pow",
                                       "Equal", "Less", "LessOrEqual", "Greater",
                                       "GreaterOrEqual", "And", "Or", "Xor", "Mod"};
  if (llvm::is_contained(unary, op)) {
    if (!need(1))
      return bad("missing input");
    r = in[0];
    bool isBoolOut = op == "Not" || op == "IsNaN" || op == "IsInf";
    if (isBoolOut)
      r.dtype = int32_t(OnnxDType::Bool);
    for (double &v : r.data) {
      if (op == "Neg") v = -v;
      else if (op == "Not") v = v == 0;
      else if (op == "Cos") v = std::cos(v);
      else if (op == "Sin") v = std::sin(v);
      else if (op == "Abs") v = std::abs(v);
      else if (op == "Sqrt") v = std::sqrt(v);
      else if (op == "Reciprocal") v = 1.0 / v;
      else if (op == "Exp") v = std::exp(v);
      else if (op == "Floor") v = std::floor(v);
      else if (op == "Ceil") v = std::ceil(v);
      else if (op == "IsNaN") v = std::isnan(v);
      else if (op == "IsInf") v = std::isinf(v);
      else if (op == "Sigmoid") v = 1.0 / (1.0 + std::exp(-v));
      if (!isBoolOut) {
        bool ok = true;
        v = roundTo(r.dtype, v, ok);
        if (!ok)
          return bad("a value out of its integer type's range");
      }
    }
    return true;
  }
  if (llvm::is_contained(binary, op) || op == "Where") {
    int n = op == "Where" ? 3 : 2;
    if (!need(n))
      return bad("missing input");
    Shape shape = in[0].shape;
    for (int i = 1; i < n; ++i)
      if (!broadcastShape(Shape(shape), in[i].shape, shape))
        return bad("its inputs do not broadcast together");
    bool compare = op == "Equal" || op == "Less" || op == "LessOrEqual" || op == "Greater" ||
                   op == "GreaterOrEqual" || op == "And" || op == "Or" || op == "Xor";
    int32_t dtype = compare ? int32_t(OnnxDType::Bool) : in[op == "Where" ? 1 : 0].dtype;
    if (op == "Where" && in[1].dtype != in[2].dtype)
      return bad("its value inputs differ in type");
    if (!compare && op != "Where" && op != "Pow" && in[0].dtype != in[1].dtype)
      return bad("its inputs differ in type");
    if (!make(dtype, shape, r))
      return false;
    std::vector<std::vector<int64_t>> idx(n);
    for (int i = 0; i < n; ++i)
      broadcastIndices(shape, in[i].shape, idx[i]);
    bool integer = !in[0].isFloat() && !in[0].isBool();
    for (int64_t k = 0; k < r.size(); ++k) {
      double a = in[0].data[idx[0][k]], b = in[1].data[idx[1][k]], v = 0;
      if (op == "Where") v = a != 0 ? b : in[2].data[idx[2][k]];
      else if (op == "Add") v = a + b;
      else if (op == "Sub") v = a - b;
      else if (op == "Mul") v = a * b;
      else if (op == "Div") {
        if (integer && b == 0)
          return bad("an integer division by zero");
        v = integer ? std::trunc(a / b) : a / b;
      } else if (op == "Mod") {
        if (integer && b == 0)
          return bad("an integer division by zero");
        v = std::fmod(a, b);
        if (integer && v != 0 && ((v < 0) != (b < 0)))
          v += b; // fmod=0 follows the divisor's sign
      }
      else if (op == "Max") v = std::max(a, b);
      else if (op == "Min") v = std::min(a, b);
      else if (op == "Pow") v = std::pow(a, b);
      else if (op == "Equal") v = a == b;
      else if (op == "Less") v = a < b;
      else if (op == "LessOrEqual") v = a <= b;
      else if (op == "Greater") v = a > b;
      else if (op == "GreaterOrEqual") v = a >= b;
      else if (op == "And") v = a != 0 && b != 0;
      else if (op == "Or") v = a != 0 || b != 0;
      else if (op == "Xor") v = (a != 0) != (b != 0);
      bool ok = true;
      r.data[k] = roundTo(dtype, v, ok);
      if (!ok)
        return bad("a value out of its integer type's range");
    }
    return true;
  }

  if (op == "Cast") {
    if (!need(1))
      return bad("missing input");
    r = in[0];
    r.dtype = int32_t(intAttr(node, "to", 0));
    bool ok = true;
    for (double &v : r.data)
      v = roundTo(r.dtype, v, ok);
    return ok ? true : bad("a cast to an unsupported type or of a value out of range");
  }
  if (op == "Shape") {
    if (!need(1))
      return bad("missing input");
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
  if (op == "Size") {
    if (!need(1))
      return bad("missing input");
    r.dtype = int32_t(OnnxDType::Int64);
    r.data = {double(in[0].size())};
    return true;
  }
  if (op == "ConstantOfShape") {
    SmallVector<int64_t> shape;
    if (!need(1) || !intsOf(in[0], shape))
      return bad("its shape is not an integer vector");
    int32_t dtype = int32_t(OnnxDType::Float);
    double value = 0;
    if (const onnx::AttributeProto *a = findAttr(node, "value"); a && a->has_t()) {
      OnnxTensor t;
      std::string why;
      if (!model.decodeInline(a->t(), t, why) || t.numElements() != 1)
        return bad("its value is not one element");
      dtype = t.dataType;
      int64_t width = onnxDTypeSize(dtype).value_or(0);
      if (dtype == int32_t(OnnxDType::Float)) { float f; std::memcpy(&f, t.bytes.data(), 4); value = f; }
      else if (dtype == int32_t(OnnxDType::Float16)) { uint16_t h; std::memcpy(&h, t.bytes.data(), 2); value = rt::halfToFloat(h); }
      else if (dtype == int32_t(OnnxDType::Int64)) { int64_t x; std::memcpy(&x, t.bytes.data(), 8); value = double(x); }
      else if (dtype == int32_t(OnnxDType::Int32)) { int32_t x; std::memcpy(&x, t.bytes.data(), 4); value = x; }
      else if (width == 1) value = t.bytes[0];
      else return bad("its value's element type is not evaluated");
    }
    if (!make(dtype, shape, r))
      return false;
    std::fill(r.data.begin(), r.data.end(), value);
    return true;
  }
  if (op == "Range") {
    if (!need(3) || in[0].size() != 1 || in[1].size() != 1 || in[2].size() != 1)
      return bad("start, limit and delta must be scalars");
    double start = in[0].data[0], limit = in[1].data[0], delta = in[2].data[0];
    if (delta == 0 || !std::isfinite(start) || !std::isfinite(limit) || !std::isfinite(delta))
      return bad("a zero or non-finite delta or bound");
    double count = std::max(std::ceil((limit - start) / delta), 0.0);
    if (count > double(kMaxElements))
      return bad("its result would be too large to evaluate");
    if (!make(in[0].dtype, {int64_t(count)}, r))
      return false;
    for (int64_t i = 0; i < int64_t(count); ++i)
      r.data[i] = start + i * delta;
    return true;
  }
  if (op == "Unsqueeze" || op == "Squeeze") {
    if (!need(1))
      return bad("missing input");
    SmallVector<int64_t> axes;
    bool explicitAxes = false;
    if (in.size() > 1 && has[1]) {
      if (!intsOf(in[1], axes))
        return bad("its axes are not an integer vector");
      explicitAxes = true;
    } else if (const onnx::AttributeProto *a = findAttr(node, "axes")) {
      axes.assign(a->ints().begin(), a->ints().end());
      explicitAxes = true;
    }
    r = in[0];
    int64_t rank = in[0].shape.size();
    if (op == "Unsqueeze") {
      if (!explicitAxes)
        return bad("no axes");
      int64_t outRank = rank + int64_t(axes.size());
      if (outRank > 8)
        return bad("too many axes");
      for (int64_t &a : axes)
        if (!normAxis(a, outRank))
          return bad("an axis out of range");
      llvm::sort(axes);
      if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
        return bad("a repeated axis");
      Shape shape;
      size_t next = 0;
      for (int64_t i = 0, j = 0; i < outRank; ++i)
        if (next < axes.size() && axes[next] == i) {
          shape.push_back(1);
          ++next;
        } else {
          shape.push_back(in[0].shape[j++]);
        }
      r.shape = shape;
      return true;
    }
    Shape shape;
    for (int64_t &a : axes)
      if (!normAxis(a, rank))
        return bad("an axis out of range");
    for (int64_t i = 0; i < rank; ++i) {
      bool squeeze = explicitAxes ? llvm::is_contained(axes, i) : in[0].shape[i] == 1;
      if (squeeze && in[0].shape[i] != 1)
        return bad("squeezes an axis whose size is not 1");
      if (!squeeze)
        shape.push_back(in[0].shape[i]);
    }
    r.shape = shape;
    return true;
  }
  if (op == "Reshape") {
    SmallVector<int64_t> target;
    if (!need(2) || !intsOf(in[1], target))
      return bad("its shape is not an integer vector");
    bool allowZero = intAttr(node, "allowzero", 0) != 0;
    int64_t known = 1, inferred = -1;
    Shape shape;
    for (size_t i = 0; i < target.size(); ++i) {
      int64_t d = target[i];
      if (d == 0 && !allowZero) {
        if (i >= in[0].shape.size())
          return bad("copies a dimension the input does not have");
        d = in[0].shape[i];
      }
      if (d == -1) {
        if (inferred >= 0)
          return bad("more than one -1 in its shape");
        inferred = i;
        shape.push_back(1);
        continue;
      }
      if (d < 0)
        return bad("a negative dimension in its shape");
      shape.push_back(d);
      known *= d;
      if (known > kMaxElements)
        return bad("its result would be too large to evaluate");
    }
    int64_t n = in[0].size();
    if (inferred >= 0) {
      if (known == 0 || n % known != 0)
        return bad("its -1 dimension cannot be inferred");
      shape[inferred] = n / known;
    } else if (known != n) {
      return bad("its shape does not hold the input's elements");
    }
    r = in[0];
    r.shape = shape;
    return true;
  }
  if (op == "Expand") {
    SmallVector<int64_t> target;
    if (!need(2) || !intsOf(in[1], target))
      return bad("its shape is not an integer vector");
    Shape shape;
    if (!broadcastShape(in[0].shape, target, shape))
      return bad("its shape does not broadcast with the input");
    if (!make(in[0].dtype, shape, r))
      return false;
    std::vector<int64_t> idx;
    broadcastIndices(shape, in[0].shape, idx);
    for (int64_t k = 0; k < r.size(); ++k)
      r.data[k] = in[0].data[idx[k]];
    return true;
  }
  if (op == "Tile") {
    SmallVector<int64_t> repeats;
    if (!need(2) || !intsOf(in[1], repeats) || repeats.size() != in[0].shape.size())
      return bad("its repeats do not match the input's rank");
    Shape shape;
    for (size_t i = 0; i < repeats.size(); ++i) {
      if (repeats[i] < 0)
        return bad("a negative repeat");
      if (in[0].shape[i] && repeats[i] > kMaxElements / in[0].shape[i])
        return bad("its result would be too large to evaluate");
      shape.push_back(in[0].shape[i] * repeats[i]);
    }
    if (!make(in[0].dtype, shape, r))
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
  if (op == "Transpose") {
    if (!need(1))
      return bad("missing input");
    int64_t rank = in[0].shape.size();
    SmallVector<int64_t> perm;
    if (const onnx::AttributeProto *a = findAttr(node, "perm"))
      perm.assign(a->ints().begin(), a->ints().end());
    else
      for (int64_t i = rank - 1; i >= 0; --i)
        perm.push_back(i);
    SmallVector<int64_t> sorted(perm);
    llvm::sort(sorted);
    if (int64_t(perm.size()) != rank || !llvm::equal(sorted, llvm::seq<int64_t>(0, rank)))
      return bad("its perm is not a permutation of the input's axes");
    Shape shape;
    for (int64_t p : perm)
      shape.push_back(in[0].shape[p]);
    if (!make(in[0].dtype, shape, r))
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
  if (op == "Concat") {
    if (in.empty() || !llvm::all_of(has, [](bool h) { return h; }))
      return bad("missing input");
    int64_t rank = in[0].shape.size(), axis = intAttr(node, "axis", 0);
    if (rank == 0 || !normAxis(axis, rank))
      return bad("its axis is out of range");
    Shape shape = in[0].shape;
    shape[axis] = 0;
    for (const EvalTensor &t : in) {
      if (int64_t(t.shape.size()) != rank || t.dtype != in[0].dtype)
        return bad("its inputs differ in rank or type");
      for (int64_t d = 0; d < rank; ++d)
        if (d != axis && t.shape[d] != in[0].shape[d])
          return bad("its inputs differ in a dimension other than the axis");
      shape[axis] += t.shape[axis];
    }
    if (!make(in[0].dtype, shape, r))
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
  if (op == "Gather") {
    if (!need(2) || in[1].isFloat())
      return bad("missing or non-integer indices");
    int64_t rank = in[0].shape.size(), axis = intAttr(node, "axis", 0);
    if (rank == 0 || !normAxis(axis, rank))
      return bad("its axis is out of range");
    Shape shape(in[0].shape.begin(), in[0].shape.begin() + axis);
    shape.append(in[1].shape.begin(), in[1].shape.end());
    shape.append(in[0].shape.begin() + axis + 1, in[0].shape.end());
    if (!make(in[0].dtype, shape, r))
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
          return bad("an index out of range");
        if (i < 0)
          i += dim;
        for (int64_t c = 0; c < inner; ++c)
          r.data[k++] = in[0].data[(o * dim + i) * inner + c];
      }
    return true;
  }
  if (op == "GatherND") {
    int64_t batchDims = intAttr(node, "batch_dims", 0);
    if (!need(2) || in[1].isFloat() || in[1].shape.empty())
      return bad("missing or non-integer indices");
    int64_t r0 = in[0].shape.size(), q = in[1].shape.size(), m = in[1].shape.back();
    if (batchDims < 0 || batchDims >= std::min(r0, q) || m < 1 || m > r0 - batchDims)
      return bad("its batch_dims or index depth do not fit the data");
    for (int64_t d = 0; d < batchDims; ++d)
      if (in[0].shape[d] != in[1].shape[d])
        return bad("its batch dimensions differ");
    Shape shape(in[1].shape.begin(), in[1].shape.end() - 1);
    shape.append(in[0].shape.begin() + batchDims + m, in[0].shape.end());
    if (!make(in[0].dtype, shape, r))
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
          return bad("an index out of range");
        src += (i < 0 ? i + dim : i) * ds[batchDims + j];
      }
      for (int64_t c = 0; c < slice; ++c)
        r.data[t * slice + c] = in[0].data[src + c];
    }
    return true;
  }
  if (op == "Slice") {
    SmallVector<int64_t> starts, ends, axes, steps;
    if (!need(3) || !intsOf(in[1], starts) || !intsOf(in[2], ends) ||
        starts.size() != ends.size())
      return bad("its starts and ends are not integer vectors of one length");
    int64_t rank = in[0].shape.size();
    if (in.size() > 3 && has[3]) {
      if (!intsOf(in[3], axes) || axes.size() != starts.size())
        return bad("its axes do not match its starts");
    } else {
      for (size_t i = 0; i < starts.size(); ++i)
        axes.push_back(i);
    }
    if (in.size() > 4 && has[4]) {
      if (!intsOf(in[4], steps) || steps.size() != starts.size())
        return bad("its steps do not match its starts");
    } else {
      steps.assign(starts.size(), 1);
    }
    SmallVector<int64_t> begin(rank, 0), step(rank, 1);
    Shape shape(in[0].shape);
    SmallVector<bool> seen(rank, false);
    for (size_t i = 0; i < starts.size(); ++i) {
      int64_t a = axes[i];
      if (!normAxis(a, rank) || seen[a] || steps[i] == 0)
        return bad("an axis out of range, repeated, or a zero step");
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
    if (!make(in[0].dtype, shape, r))
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
  if (op == "ReduceSum" || op == "ReduceMax" || op == "ReduceMin") {
    if (!need(1))
      return bad("missing input");
    SmallVector<int64_t> axes;
    if (in.size() > 1 && has[1]) {
      if (!intsOf(in[1], axes))
        return bad("its axes are not an integer vector");
    } else if (const onnx::AttributeProto *a = findAttr(node, "axes")) {
      axes.assign(a->ints().begin(), a->ints().end());
    }
    int64_t rank = in[0].shape.size();
    bool keep = intAttr(node, "keepdims", 1) != 0;
    if (axes.empty() && intAttr(node, "noop_with_empty_axes", 0)) {
      r = in[0];
      return true;
    }
    SmallVector<bool> reduce(rank, axes.empty());
    for (int64_t a : axes) {
      if (!normAxis(a, rank))
        return bad("an axis out of range");
      reduce[a] = true;
    }
    Shape shape, kept;
    for (int64_t d = 0; d < rank; ++d) {
      kept.push_back(reduce[d] ? 1 : in[0].shape[d]);
      if (!reduce[d] || keep)
        shape.push_back(reduce[d] ? 1 : in[0].shape[d]);
    }
    if (!make(in[0].dtype, shape, r))
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
  if (op == "CumSum") {
    SmallVector<int64_t> axisV;
    if (!need(2) || !intsOf(in[1], axisV) || axisV.size() != 1)
      return bad("its axis is not one integer");
    int64_t rank = in[0].shape.size(), axis = axisV[0];
    if (!normAxis(axis, rank))
      return bad("its axis is out of range");
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
  if (op == "Trilu") {
    if (!need(1) || in[0].shape.size() < 2)
      return bad("its input is not a matrix");
    int64_t k = 0;
    if (in.size() > 1 && has[1]) {
      SmallVector<int64_t> kv;
      if (!intsOf(in[1], kv) || kv.size() != 1)
        return bad("its k is not one integer");
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
  return bad("not an op the check evaluates");
}
