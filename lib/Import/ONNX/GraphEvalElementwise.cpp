//===- GraphEvalElementwise.cpp - Elementwise ops of the bookkeeping evaluator -===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Unary and binary ops with numpy broadcasting, Where and Cast, following the ONNX
// specification; results are rounded to their element type.
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

bool midllama::onnx_import::detail::eval::evalElementwise(OpContext &ctx) {
  const onnx::NodeProto &node = ctx.node;
  const std::string &op = node.op_type();
  std::vector<EvalTensor> &in = ctx.in;
  EvalTensor &r = ctx.r;
  // Elementwise ops: numpy broadcasting, the result typed like the first input
  // (comparisons and logic give bool).
  static const char *const unary[] = {"Identity", "Neg", "Not", "Cos", "Sin", "Abs",
                                      "Sqrt", "Reciprocal", "Exp", "Floor", "Ceil",
                                      "IsNaN", "IsInf", "Sigmoid"};
  static const char *const binary[] = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Pow",
                                       "Equal", "Less", "LessOrEqual", "Greater",
                                       "GreaterOrEqual", "And", "Or", "Xor", "Mod"};
  if (llvm::is_contained(unary, op)) {
    if (!ctx.need(1))
      return ctx.bad("missing input");
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
          return ctx.bad("a value out of its integer type's range");
      }
    }
    return true;
  }
  if (llvm::is_contained(binary, op) || op == "Where") {
    int n = op == "Where" ? 3 : 2;
    if (!ctx.need(n))
      return ctx.bad("missing input");
    Shape shape = in[0].shape;
    for (int i = 1; i < n; ++i)
      if (!broadcastShape(Shape(shape), in[i].shape, shape))
        return ctx.bad("its inputs do not broadcast together");
    bool compare = op == "Equal" || op == "Less" || op == "LessOrEqual" || op == "Greater" ||
                   op == "GreaterOrEqual" || op == "And" || op == "Or" || op == "Xor";
    int32_t dtype = compare ? int32_t(OnnxDType::Bool) : in[op == "Where" ? 1 : 0].dtype;
    if (op == "Where" && in[1].dtype != in[2].dtype)
      return ctx.bad("its value inputs differ in type");
    if (!compare && op != "Where" && op != "Pow" && in[0].dtype != in[1].dtype)
      return ctx.bad("its inputs differ in type");
    if (!ctx.make(dtype, shape, r))
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
          return ctx.bad("an integer division by zero");
        v = integer ? std::trunc(a / b) : a / b;
      } else if (op == "Mod") {
        if (integer && b == 0)
          return ctx.bad("an integer division by zero");
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
        return ctx.bad("a value out of its integer type's range");
    }
    return true;
  }

  if (op == "Cast") {
    if (!ctx.need(1))
      return ctx.bad("missing input");
    r = in[0];
    r.dtype = int32_t(intAttr(node, "to", 0));
    bool ok = true;
    for (double &v : r.data)
      v = roundTo(r.dtype, v, ok);
    return ok ? true : ctx.bad("a cast to an unsupported type or of a value out of range");
  }
  return ctx.bad("not an op the check evaluates");
}
