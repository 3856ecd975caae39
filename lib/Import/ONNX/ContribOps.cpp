//===- ContribOps.cpp - ONNX Runtime norm and 4-bit weight converters -----===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// ONNX Runtime's (Skip)SimplifiedLayerNormalization and its block-quantized weights
// (MatMulNBits, GatherBlockQuantized): the contrib-op specs of onnxruntime's
// docs/ContribOperators.md.
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

bool Converter::convertNorm(const onnx::NodeProto &node, bool skip) {
  float eps = floatAttr(node, "epsilon", 1e-5f);
  Value x = input(node.input(0));
  if (!x)
    return false;
  int gammaIndex = 1;
  if (skip) {
    Value s = input(node.input(1));
    if (!s)
      return false;
    if (node.input_size() > 3 && !node.input(3).empty())
      return fail(where(node) + ": a bias input is not supported"), false;
    x = AddOp::create(b, loc, x, s);
    gammaIndex = 2;
    if (node.output_size() > 3 && !node.output(3).empty())
      values[node.output(3)] = x; // the residual sum
  }
  if (!skip && intAttr(node, "axis", -1) != -1 &&
      intAttr(node, "axis", -1) != cast<RankedTensorType>(x.getType()).getRank() - 1)
    return fail(where(node) + ": only normalization over the last axis is supported"), false;
  Value w = weight(node.input(gammaIndex), 1, node);
  if (!w)
    return false;
  values[node.output(0)] = RMSNormOp::create(b, loc, x, w, b.getF32FloatAttr(eps));
  return true;
}

bool Converter::projection(const onnx::NodeProto &node, Value &x, Value &w) {
  bool standard = node.domain().empty() || node.domain() == "ai.onnx";
  if (standard && node.op_type() == "MatMul") {
    x = input(node.input(0));
    Value raw = x ? weight(node.input(1), 2, node) : Value();
    if (!raw)
      return false;
    w = transposed(raw);
    return true;
  }
  if (node.domain() == "com.microsoft" && node.op_type() == "MatMulNBits") {
    if (node.input_size() > 4 && !node.input(4).empty())
      return fail(where(node) + ": g_idx (act-order) is not supported yet"), false;
    if (node.input_size() > 5 && !node.input(5).empty())
      return fail(where(node) + ": a bias input is not supported"), false;
    int64_t n = intAttr(node, "N", 0), k = intAttr(node, "K", 0);
    x = input(node.input(0));
    w = x ? quantizedWeight(node, node.input(1), node.input(2),
                            node.input_size() > 3 ? node.input(3) : std::string(), n, k,
                            intAttr(node, "bits", 4), intAttr(node, "block_size", 0))
          : Value();
    return bool(w);
  }
  return false;
}

bool Converter::convertMatMulNBits(const onnx::NodeProto &node) {
  Value x, w;
  if (!projection(node, x, w))
    return false;
  values[node.output(0)] = LinearOp::create(b, loc, x, w);
  return true;
}

bool Converter::matMulNBitsAskForInt8() const {
  // The level is a minimum accuracy (0 unset, 1 fp32, 2 fp16, 3 bf16, 4 int8): fp32 meets
  // any, so one node below 4 keeps the whole model in fp32 (the runtime's choice is global).
  // ONNX Runtime's CPU kernels compute levels 1 to 3 in fp32 as well.
  int count = 0;
  for (const onnx::NodeProto &node : graph.node()) {
    if (node.domain() != "com.microsoft" || node.op_type() != "MatMulNBits")
      continue;
    if (intAttr(node, "accuracy_level", 0) != 4)
      return false;
    ++count;
  }
  return count > 0;
}

bool Converter::convertGatherBlockQuantized(const onnx::NodeProto &node) {
  if (intAttr(node, "gather_axis", 0) != 0 || intAttr(node, "quantize_axis", 1) != 1)
    return fail(where(node) + ": only row gathers of weights quantized along rows are "
                              "supported"),
           false;
  int64_t bits = intAttr(node, "bits", 4), blockSize = intAttr(node, "block_size", 128);
  // The codes may be a reshape of a MatMulNBits weight (a tied LM head): look through it.
  std::string codes = node.input(0);
  if (const onnx::NodeProto *reshape = producer(codes);
      reshape && reshape->op_type() == "Reshape" && reshape->domain().empty())
    codes = reshape->input(0);
  const OnnxTensor *init = model.initializer(codes);
  if (!init || init->dims.empty() || bits <= 0 || 8 % bits != 0)
    return fail(where(node) + ": the codes must be an initializer (or its reshape)"), false;
  int64_t n = init->dims[0], bytesPerRow = init->numElements() / std::max<int64_t>(n, 1);
  Value w = quantizedWeight(node, codes, node.input(2),
                            node.input_size() > 3 ? node.input(3) : std::string(), n,
                            bytesPerRow * 8 / bits, bits, blockSize);
  Value ids = w ? input(node.input(1)) : Value();
  if (!ids)
    return false;
  auto wt = cast<WeightType>(w.getType());
  auto it = cast<RankedTensorType>(ids.getType());
  SmallVector<int64_t> shape(it.getShape());
  shape.push_back(wt.getShape()[1]);
  values[node.output(0)] = EmbeddingOp::create(
      b, loc, RankedTensorType::get(shape, wt.getElementType()), ids, w);
  return true;
}

Value Converter::quantizedWeight(const onnx::NodeProto &node, const std::string &codes,
                                 const std::string &scales, const std::string &zeroPoints,
                                 int64_t n, int64_t k, int64_t bits, int64_t blockSize) {
  if (Value v = weights.lookup(codes))
    return v;
  // N x K is bounded first (2^40 elements, far above any real matrix), so that the sizes
  // below cannot overflow (the converter fuzzer found N = INT64_MAX).
  if (n <= 0 || k <= 0 || n > (int64_t(1) << 40) / k || bits < 2 || bits > 8 || 8 % bits != 0 ||
      blockSize < 1 || blockSize > k || blockSize * bits % 8 != 0)
    return fail(where(node) + ": unsupported quantization (N=" + std::to_string(n) + ", K=" +
                std::to_string(k) + ", bits=" + std::to_string(bits) +
                ", block_size=" + std::to_string(blockSize) + ")");
  const OnnxTensor *q = model.initializer(codes), *s = model.initializer(scales);
  int64_t groups = (k + blockSize - 1) / blockSize, rowBytes = groups * blockSize * bits / 8;
  if (!q || q->dataType != int32_t(OnnxDType::UInt8) || q->numElements() != n * rowBytes)
    return fail(where(node) + ": codes '" + codes + "' must be a uint8 initializer of " +
                std::to_string(n * rowBytes) + " bytes");
  Type scaleType = s ? elementType(s->dataType) : Type();
  if (!scaleType || !isa<FloatType>(scaleType) || s->numElements() != n * groups)
    return fail(where(node) + ": scales '" + scales + "' must be a float initializer of " +
                std::to_string(n * groups) + " values");
  const OnnxTensor *zp = zeroPoints.empty() ? nullptr : model.initializer(zeroPoints);
  int64_t zpRowBytes = (groups * bits + 7) / 8;
  if (!zeroPoints.empty() &&
      (!zp || zp->dataType != int32_t(OnnxDType::UInt8) || zp->numElements() != n * zpRowBytes))
    return fail(where(node) + ": zero points '" + zeroPoints + "' must be packed uint8 (" +
                std::to_string(n * zpRowBytes) + " bytes); float zero points are not supported");

  // Same bits, same low-bits-first packing along K as !llm.weight's affine layout; only
  // the padding of the last block (when it is shorter) is dropped, and packed zero points
  // are unpacked to one byte per group.
  auto format = AffineQuantAttr::get(b.getContext(), bits, blockSize, /*symmetric=*/!zp,
                                     /*act_order=*/false);
  auto type = WeightType::get(b.getContext(), {n, k}, scaleType, format, nullptr);
  std::string name = codes;
  if (!declared.count(name)) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(func);
    ParamOp::create(b, loc, name, type, /*value=*/nullptr);
    declared[name] = true;
    int64_t packedRow = (k * bits + 7) / 8;
    std::string writeError;
    bool ok;
    if (packedRow == rowBytes) {
      OnnxModel *source = &model;
      ok = writer.addBorrowed(name + ".qweight", rt::DType::U8, {n, packedRow}, q->bytes.data(),
                              n * packedRow, writeError, [source, q] { source->evict(*q); });
    } else {
      const uint8_t *src = q->bytes.data();
      int64_t tailBits = (k * bits) % 8;
      ok = writer.addGenerated(
          name + ".qweight", rt::DType::U8, {n, packedRow}, n * packedRow,
          [=](uint8_t *dst, std::string &) {
            for (int64_t r = 0; r < n; ++r) {
              std::memcpy(dst + r * packedRow, src + r * rowBytes, packedRow);
              if (tailBits)
                dst[r * packedRow + packedRow - 1] &= uint8_t((1u << tailBits) - 1);
            }
            return true;
          },
          writeError);
    }
    rt::DType scaleDType = scaleType.isF32() ? rt::DType::F32
                           : scaleType.isF16() ? rt::DType::F16
                                               : rt::DType::BF16;
    ok = ok && writer.addBorrowed(name + ".scales", scaleDType, {n, groups}, s->bytes.data(),
                                  s->bytes.size(), writeError);
    if (ok && zp) {
      const uint8_t *zsrc = zp->bytes.data();
      ok = writer.addGenerated(
          name + ".zeros", rt::DType::U8, {n, groups}, n * groups,
          [=](uint8_t *dst, std::string &) {
            for (int64_t r = 0; r < n; ++r)
              for (int64_t g = 0; g < groups; ++g) {
                int64_t bit = g * bits;
                dst[r * groups + g] =
                    (zsrc[r * zpRowBytes + bit / 8] >> (bit % 8)) & ((1u << bits) - 1);
              }
            return true;
          },
          writeError);
    }
    if (!ok)
      return fail(writeError);
  }
  Value v = WeightOp::create(b, loc, type, FlatSymbolRefAttr::get(b.getContext(), name));
  weights[codes] = v;
  return v;
}

} // namespace midllama::onnx_import::detail
