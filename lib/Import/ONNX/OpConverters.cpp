//===- OpConverters.cpp - The registry of ONNX op converters --------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Which ONNX ops the importer converts, by domain, with the opset versions each converter
// implements (the default domain's are within OnnxModel's accepted range, 13 to 22; none
// of these ops changed meaning there), and which member converts it. An op not listed is
// refused by name: a graph the importer does not fully understand is never imported
// approximately. Ops read only as parts of a larger pattern (Slice, Softmax...) are not
// listed: their readers (RaiseDecomposed.cpp) match them.
//
//===----------------------------------------------------------------------===//

#include "Converter.h"

using namespace midllama::onnx_import;
using namespace midllama::onnx_import::detail;

namespace {
constexpr int64_t kFirst = OnnxModel::kMinOpset, kLast = OnnxModel::kMaxOpset;
} // namespace

ArrayRef<Converter::OpConverter> Converter::convertersOf(StringRef domain) {
  static const OpConverter standard[] = {
      {"MatMul", kFirst, kLast, &Converter::convertMatMul},
      {"Gather", kFirst, kLast, &Converter::convertGather},
      {"Mul", kFirst, kLast, &Converter::convertMul},
      {"Add", kFirst, kLast, &Converter::convertAdd},
      {"Reshape", kFirst, kLast, &Converter::convertReshape},
      {"Cast", kFirst, kLast, &Converter::convertCast},
      {"Identity", kFirst, kLast, &Converter::convertIdentity},
      // ONNX Runtime registers this one in the default domain, since opset 1.
      {"SimplifiedLayerNormalization", 1, kLast, &Converter::convertSimplifiedNorm},
  };
  // ONNX Runtime's contrib ops are all version 1 of com.microsoft.
  static const OpConverter microsoft[] = {
      {"SimplifiedLayerNormalization", 1, 1, &Converter::convertSimplifiedNorm},
      {"SkipSimplifiedLayerNormalization", 1, 1, &Converter::convertSkipNorm},
      {"GroupQueryAttention", 1, 1, &Converter::convertGQA},
      {"MultiHeadAttention", 1, 1, &Converter::convertMHA},
      {"RotaryEmbedding", 1, 1, &Converter::convertRotaryEmbedding},
      {"MatMulNBits", 1, 1, &Converter::convertMatMulNBits},
      {"GatherBlockQuantized", 1, 1, &Converter::convertGatherBlockQuantized},
  };
  if (domain.empty() || domain == "ai.onnx")
    return standard;
  if (domain == "com.microsoft")
    return microsoft;
  return {};
}

bool Converter::convertNode(const onnx::NodeProto &node) {
  for (const OpConverter &c : convertersOf(node.domain())) {
    if (c.opType != node.op_type())
      continue;
    int64_t opset = model.opsetVersion(node.domain()).value_or(0);
    if (opset < c.minOpset || opset > c.maxOpset)
      return fail(where(node) + ": converted for opsets " + std::to_string(c.minOpset) +
                  " to " + std::to_string(c.maxOpset) + " of its domain, but the model " +
                  (opset ? "imports opset " + std::to_string(opset) : "does not import it")),
             false;
    return (this->*c.convert)(node);
  }
  fail("unsupported op: " + where(node));
  return false;
}
