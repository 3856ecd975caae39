//===- StandardOps.cpp - Default-domain ONNX op converters ----------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The default domain's ops converted one to one (MatMul, Gather, Mul, Cast, Identity);
// OpConverters.cpp lists them with their opsets. Add and Reshape, which start the
// decomposed torch.onnx patterns, are in RaiseDecomposed.cpp.
//
//===----------------------------------------------------------------------===//

#include "Converter.h"

#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "runtime/params/Half.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;
using namespace midllama::onnx_import;

namespace midllama::onnx_import::detail {

bool Converter::convertMatMul(const onnx::NodeProto &node) {
  Value x = input(node.input(0));
  Value w = x ? weight(node.input(1), 2, node) : Value();
  if (!w)
    return false;
  values[node.output(0)] = LinearOp::create(b, loc, x, transposed(w));
  return true;
}

bool Converter::convertGather(const onnx::NodeProto &node) {
  if (intAttr(node, "axis", 0) != 0)
    return fail(where(node) + ": only axis-0 gathers (embedding lookups) are supported"), false;
  Value table = weight(node.input(0), 2, node);
  Value ids = table ? input(node.input(1)) : Value();
  if (!ids)
    return false;
  auto tt = cast<WeightType>(table.getType());
  auto it = cast<RankedTensorType>(ids.getType());
  SmallVector<int64_t> shape(it.getShape());
  shape.push_back(tt.getShape()[1]);
  values[node.output(0)] = EmbeddingOp::create(
      b, loc, RankedTensorType::get(shape, tt.getElementType()), ids, table);
  return true;
}

bool Converter::convertMul(const onnx::NodeProto &node) {
  // SiLU as exported: Mul(x, Sigmoid(x)), in either operand order.
  for (int i = 0; i < 2; ++i) {
    const onnx::NodeProto *sig = producer(node.input(i));
    if (sig && sig->op_type() == "Sigmoid" && sig->domain().empty() &&
        sig->input(0) == node.input(1 - i)) {
      Value x = input(node.input(1 - i));
      if (!x)
        return false;
      values[node.output(0)] = SiLUOp::create(b, loc, x);
      return true;
    }
  }
  // RMSNorm as torch.onnx writes it ends in a Mul by the gamma vector.
  for (int i = 0; i < 2; ++i)
    if (const OnnxTensor *c = model.initializer(node.input(i)); c && c->dims.size() == 1)
      return raiseRMSNorm(node, i);
  Value l = input(node.input(0));
  Value r = l ? input(node.input(1)) : Value();
  if (!r)
    return false;
  if (l.getType() != r.getType())
    return fail(where(node) + ": broadcasting multiplies are not supported (" +
                std::to_string(node.input_size()) + " operands of different types)"),
           false;
  values[node.output(0)] = MulOp::create(b, loc, l, r);
  return true;
}

bool Converter::convertCast(const onnx::NodeProto &node) {
  Value x = input(node.input(0));
  if (!x)
    return false;
  Type to = elementType(int32_t(intAttr(node, "to", 0)));
  auto t = cast<RankedTensorType>(x.getType());
  if (!to || !isa<FloatType>(to) || !isa<FloatType>(t.getElementType()))
    return fail(where(node) + ": only casts between float types are supported"), false;
  values[node.output(0)] = to == t.getElementType()
                               ? x
                               : CastOp::create(b, loc, RankedTensorType::get(t.getShape(), to), x)
                                     .getResult();
  return true;
}

bool Converter::convertIdentity(const onnx::NodeProto &node) {
  // Exporters leave them anywhere, e.g. before `logits`; most are elided before conversion
  // (OnnxModel::elideIdentities), the rest pass their input through.
  Value x = input(node.input(0));
  if (!x)
    return false;
  values[node.output(0)] = x;
  return true;
}

} // namespace midllama::onnx_import::detail
