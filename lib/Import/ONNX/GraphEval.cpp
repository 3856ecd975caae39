//===- GraphEval.cpp - Evaluate small ONNX subgraphs on concrete inputs ---===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// A reference interpreter for the ops exporters build masks, positions and rotary angles
// from (shape arithmetic, Range, comparisons, Where, Cos/Sin...), following the ONNX
// operator specification. Every input is checked (ranks, sizes, attribute values) because
// model files are hostile: a bad graph gets an error, never a crash or a huge allocation.
// This file holds the evaluator, Constant and the helpers; the ops are in
// GraphEval{Elementwise,Shape,Index}.cpp.
//
//===----------------------------------------------------------------------===//

#include "GraphEvalOps.h"
#include "Validate.h"

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

using namespace midllama::onnx_import::detail::eval;

std::string eval::describe(const onnx::NodeProto &node) {
  std::string domain = node.domain().empty() ? "ai.onnx" : node.domain();
  return "node '" + node.name() + "' (" + domain + "::" + node.op_type() + ")";
}

const onnx::AttributeProto *eval::findAttr(const onnx::NodeProto &node, StringRef name) {
  for (const onnx::AttributeProto &a : node.attribute())
    if (a.name() == name)
      return &a;
  return nullptr;
}

int64_t eval::intAttr(const onnx::NodeProto &node, StringRef name, int64_t def) {
  const onnx::AttributeProto *a = findAttr(node, name);
  return a ? a->i() : def;
}

/// An index held as double, clamped into int64 range (Slice uses INT64_MAX as "to the end").
int64_t eval::toIndex(double v) {
  if (!(v > -4e18))
    return v != v ? 0 : -(int64_t(1) << 62);
  if (!(v < 4e18))
    return int64_t(1) << 62;
  return int64_t(v);
}

/// Element count of `shape`, or -1 if negative, absurd or over the evaluator's limit.
int64_t eval::checkedSize(ArrayRef<int64_t> shape) {
  if (shape.size() > size_t(kMaxTensorRank))
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
double eval::roundTo(int32_t dtype, double v, bool &ok) {
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


bool eval::decodeTensor(const OnnxTensor &t, EvalTensor &out, std::string &why) {
  out.dtype = t.dataType;
  out.shape.assign(t.dims.begin(), t.dims.end());
  int64_t n = checkedSize(out.shape);
  if (n < 0) {
    why = "it is too large to be bookkeeping";
    return false;
  }
  int64_t width = onnxDTypeSize(t.dataType).value_or(0);
  out.data.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t *p = t.bytes.data() + i * width;
    switch (OnnxDType(t.dataType)) {
    case OnnxDType::Float: {
      float f;
      std::memcpy(&f, p, 4);
      out.data[i] = f;
      break;
    }
    case OnnxDType::Float16: {
      uint16_t h;
      std::memcpy(&h, p, 2);
      out.data[i] = rt::halfToFloat(h);
      break;
    }
    case OnnxDType::Double:
      std::memcpy(&out.data[i], p, 8);
      break;
    case OnnxDType::Int64: {
      int64_t v;
      std::memcpy(&v, p, 8);
      out.data[i] = double(v);
      break;
    }
    case OnnxDType::Int32: {
      int32_t v;
      std::memcpy(&v, p, 4);
      out.data[i] = v;
      break;
    }
    case OnnxDType::Bool:
    case OnnxDType::UInt8:
      out.data[i] = *p;
      break;
    case OnnxDType::Int8:
      out.data[i] = int8_t(*p);
      break;
    default:
      why = "its element type " + onnxDTypeName(t.dataType).str() + " is not evaluated";
      return false;
    }
  }
  return true;
}

bool midllama::onnx_import::detail::broadcastIndices(ArrayRef<int64_t> out,
                                                    ArrayRef<int64_t> in,
                                                    std::vector<int64_t> &idx) {
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

bool eval::broadcastShape(ArrayRef<int64_t> a, ArrayRef<int64_t> b, eval::Shape &out) {
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
eval::Shape eval::strides(ArrayRef<int64_t> shape) {
  Shape s(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;)
    s[i - 1] = s[i] * shape[i];
  return s;
}

bool eval::normAxis(int64_t &axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return false;
  if (axis < 0)
    axis += rank;
  return true;
}

/// Integer vector from a 0-D or 1-D tensor.
bool eval::intsOf(const EvalTensor &t, llvm::SmallVectorImpl<int64_t> &out) {
  if (t.shape.size() > 1 || t.isFloat())
    return false;
  out.clear();
  for (double v : t.data)
    out.push_back(toIndex(v));
  return true;
}


bool OpContext::bad(const std::string &why) {
  error = describe(node) + ": " + why;
  return false;
}

bool OpContext::axes(llvm::SmallVectorImpl<int64_t> &out, bool &given) {
  given = true;
  if (in.size() > 1 && has[1]) {
    if (!intsOf(in[1], out))
      return bad("its axes are not an integer vector");
  } else if (const onnx::AttributeProto *a = findAttr(node, "axes")) {
    out.assign(a->ints().begin(), a->ints().end());
  } else {
    given = false;
  }
  return true;
}

bool OpContext::need(int n) const {
  return int(in.size()) >= n &&
         llvm::all_of(llvm::seq(0, n), [&](int i) { return bool(has[i]); });
}

bool OpContext::make(int32_t dtype, ArrayRef<int64_t> shape, EvalTensor &t) {
  t.dtype = dtype;
  t.shape.assign(shape.begin(), shape.end());
  int64_t n = checkedSize(shape);
  if (n < 0)
    return bad("its result would be too large to evaluate");
  t.data.assign(n, 0.0);
  return true;
}

OpEvaluator eval::familyOf(StringRef op) {
  static const OpTable table = [] {
    OpTable m;
    m["Constant"] = evalConstant;
    for (const char *op : {"Identity", "Neg", "Not", "Cos", "Sin", "Abs", "Sqrt", "Reciprocal",
                           "Exp", "Floor", "Ceil", "IsNaN", "IsInf", "Sigmoid", "Add", "Sub",
                           "Mul", "Div", "Max", "Min", "Pow", "Equal", "Less", "LessOrEqual",
                           "Greater", "GreaterOrEqual", "And", "Or", "Xor", "Mod", "Where",
                           "Cast"})
      m[op] = evalElementwise;
    registerShapeOps(m);
    registerIndexOps(m);
    return m;
  }();
  auto it = table.find(op);
  return it == table.end() ? nullptr : it->second;
}

bool eval::evalConstant(OpContext &ctx) {
  const onnx::NodeProto &node = ctx.node;
  EvalTensor &r = ctx.r;
  if (const onnx::AttributeProto *a = findAttr(node, "value"); a && a->has_t()) {
    OnnxTensor t;
    std::string why;
    if (!ctx.model.decodeInline(a->t(), t, why) || !decodeTensor(t, r, why))
      return ctx.bad(why);
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
    if (a->ints_size() > GraphEvaluator::kMaxElements)
      return ctx.bad("its value is too large to evaluate");
    r.dtype = int32_t(OnnxDType::Int64);
    r.shape = {a->ints_size()};
    for (int64_t v : a->ints())
      r.data.push_back(double(v));
    return true;
  }
  if (const onnx::AttributeProto *a = findAttr(node, "value_floats")) {
    if (a->floats_size() > GraphEvaluator::kMaxElements)
      return ctx.bad("its value is too large to evaluate");
    r.dtype = int32_t(OnnxDType::Float);
    r.shape = {a->floats_size()};
    for (float v : a->floats())
      r.data.push_back(v);
    return true;
  }
  return ctx.bad("a Constant without a value the check reads");
}

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
    role = in.name() == idsInput         ? Ids
           : in.name() == positionsInput ? Positions
           : !positionsInput.empty()     ? Mask
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
    EvalTensor t;
    std::string why;
    if (!decodeTensor(*init, t, why)) {
      error = "it reads initializer '" + name + "': " + why;
      return false;
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
  if (depth > kMaxDepth) {
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
  // Unknown ops are refused before their inputs are evaluated: the error is then about
  // the op, not about something upstream of it.
  bool standard = node.domain().empty() || node.domain() == "ai.onnx";
  bool (*family)(OpContext &) = standard ? familyOf(node.op_type()) : nullptr;
  if (!family) {
    error = describe(node) + ": not an op the check evaluates";
    return false;
  }
  // Evaluated inputs; an empty name (an omitted optional input) stays absent.
  std::vector<EvalTensor> in(node.input_size());
  std::vector<bool> has(node.input_size(), false);
  // Shape and Size read only their input's shape, which shapeOf finds without the values
  // where those derive from the weights.
  bool shapeOnly = node.op_type() == "Shape" || node.op_type() == "Size";
  if (node.op_type() != "Constant")
    for (int i = 0; i < node.input_size(); ++i) {
      if (node.input(i).empty())
        continue;
      if (shapeOnly) {
        std::optional<Shape> shape = shapeOf(node.input(i), error);
        if (!shape)
          return false;
        in[i].shape = *shape;
        has[i] = true;
        continue;
      }
      if (!eval(node.input(i), in[i], error))
        return false;
      has[i] = true;
    }
  outs.resize(1);
  OpContext ctx{node, in, has, outs[0], model, error};
  return family(ctx);
}
