//===- OnnxToLLM.cpp - Convert an ONNX graph to flat llm IR ---------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Import/ONNX/OnnxToLLM.h"

#include "Converter.h"
#include "Validate.h"

#include "midllama/Dialect/LLM/IR/LLMOps.h"
#include "runtime/params/Half.h"

#include <onnx/onnx_pb.h>

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;
using namespace midllama::onnx_import;

namespace midllama::onnx_import::detail {


/// Element `i` of a float tensor as fp32.
float floatAt(const OnnxTensor &t, int64_t i) {
  if (t.dataType == int32_t(OnnxDType::Float16)) {
    uint16_t h;
    std::memcpy(&h, t.bytes.data() + 2 * i, 2);
    return rt::halfToFloat(h);
  }
  float f;
  std::memcpy(&f, t.bytes.data() + 4 * i, 4);
  return f;
}


Type Converter::elementType(int32_t onnxType) {
  switch (OnnxDType(onnxType)) {
  case OnnxDType::Float:
    return b.getF32Type();
  case OnnxDType::Float16:
    return b.getF16Type();
  case OnnxDType::BFloat16:
    return b.getBF16Type();
  case OnnxDType::Int64:
    return b.getI64Type();
  case OnnxDType::Int32:
    return b.getI32Type();
  default:
    return {};
  }
}

/// Positions of the new tokens, for rotary embeddings: the graph's `position_ids` input if
/// it has one, else an input this importer adds (GroupQueryAttention derives positions from
/// sequence lengths; llm.rotary takes them explicitly).
Value Converter::positions() {
  if (positionsArg)
    return positionsArg;
  for (const onnx::ValueInfoProto &in : graph.input())
    if (in.name() == "position_ids")
      return positionsArg = input("position_ids");
  auto type = RankedTensorType::get({kDyn, kDyn}, b.getI64Type());
  (void)func.insertArgument(func.getNumArguments(), type,
                            b.getDictionaryAttr(b.getNamedAttr(
                                LLMDialect::kNameAttrName, b.getStringAttr("position_ids"))),
                            loc);
  positionsArg = entry->getArguments().back();
  return positionsArg;
}

Value Converter::transposed(Value w) {
  if (Value t = transposes.lookup(w))
    return t;
  auto wt = cast<WeightType>(w.getType());
  auto type = WeightType::get(b.getContext(), {wt.getShape()[1], wt.getShape()[0]},
                              wt.getElementType());
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointAfterValue(w);
  Value t = WeightTransposeOp::create(b, loc, type, w, StringAttr());
  transposes[w] = t;
  return t;
}

Value Converter::input(const std::string &name) {
  if (Value v = values.lookup(name))
    return v;
  if (model.initializer(name))
    return fail("initializer '" + name + "' of graph '" + graph.name() +
                "' is used as an activation operand outside the patterns raised to llm ops "
                "(RMSNorm, rotary, attention)");
  const onnx::NodeProto *node = producer(name);
  if (!node)
    return fail("value '" + name + "' in graph '" + graph.name() +
                "' is neither a graph input nor produced by a node");
  // A graph is acyclic and its conversion depth bounded; a hostile file gets an error,
  // not a stack overflow.
  if (!converting.insert(node).second)
    return fail(where(*node) + " depends on its own output (the graph has a cycle)");
  if (converting.size() > 4096) // about 10 per decoder layer in real models
    return fail(where(*node) + ": the graph is nested too deeply to convert");
  // The ops a node becomes carry its name, so that a verifier error names the node.
  Location outer = loc;
  loc = NameLoc::get(b.getStringAttr(node->name()), outer);
  bool converted = convertNode(*node);
  loc = outer;
  converting.erase(node);
  if (!converted)
    return {};
  Value v = values.lookup(name);
  if (!v)
    return fail("output '" + name + "' of " + where(*node) + " is not supported");
  return v;
}

Value Converter::weight(const std::string &name, int64_t rank, const onnx::NodeProto &user) {
  Value v = weightOfAnyRank(name);
  if (!v)
    return {};
  int64_t actual = cast<WeightType>(v.getType()).getRank();
  if (actual != rank)
    return fail(where(user) + ": its weight '" + name + "' must be " + std::to_string(rank) +
                "-D, but it is " + std::to_string(actual) + "-D");
  return v;
}

Value Converter::weightOfAnyRank(const std::string &name) {
  if (Value v = weights.lookup(name))
    return v;
  if (const onnx::NodeProto *node = producer(name)) {
    // An initializer passed through Identity is that initializer.
    if (node->op_type() == "Identity" && node->domain().empty() && node->input_size() == 1) {
      Value v = weightOfAnyRank(node->input(0));
      if (v)
        weights[name] = v;
      return v;
    }
    // A transposed initializer (the GenAI builder's tied embedding table).
    if (node->op_type() != "Transpose" || !node->domain().empty())
      return fail("weight operand '" + name + "' comes from " + where(*node) +
                  "; only initializers and their transposes are supported");
    const onnx::AttributeProto *perm = attr(*node, "perm");
    if (!perm || perm->ints_size() != 2 || perm->ints(0) != 1 || perm->ints(1) != 0)
      return fail(where(*node) + ": only the 2-D transpose perm=[1, 0] of a weight is supported");
    Value in = weight(node->input(0), 2, *node);
    if (!in)
      return {};
    Value v = transposed(in);
    weights[name] = v;
    return v;
  }
  const OnnxTensor *init = model.initializer(name);
  if (!init)
    return fail("weight '" + name + "' is not an initializer of graph '" + graph.name() + "'");
  Type elem = elementType(init->dataType);
  if (!elem || !isa<FloatType>(elem) || init->dims.empty() || init->dims.size() > 2)
    return fail("initializer '" + name + "' is not a rank-1 or rank-2 float weight (" +
                onnxDTypeName(init->dataType).str() + ")");
  auto type = WeightType::get(b.getContext(), init->dims, elem);
  if (!declared.count(name)) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(func);
    ParamOp::create(b, loc, name, type, /*value=*/nullptr);
    declared[name] = true;
    rt::DType dtype = elem.isF32() ? rt::DType::F32 : elem.isF16() ? rt::DType::F16 : rt::DType::BF16;
    std::string writeError;
    OnnxModel *source = &model;
    if (!writer.addBorrowed(name, dtype, init->dims, init->bytes.data(), init->bytes.size(),
                            writeError, [source, init] { source->evict(*init); }))
      return fail(writeError);
  }
  Value v = WeightOp::create(b, loc, type, FlatSymbolRefAttr::get(b.getContext(), name));
  weights[name] = v;
  return v;
}

bool Converter::convertNode(const onnx::NodeProto &node) {
  StringRef domain = node.domain(), op = node.op_type();
  bool standard = domain.empty() || domain == "ai.onnx";
  bool microsoft = domain == "com.microsoft";
  if (standard && op == "MatMul")
    return convertMatMul(node);
  if (standard && op == "Gather")
    return convertGather(node);
  if ((standard || microsoft) && op == "SimplifiedLayerNormalization")
    return convertNorm(node, /*skip=*/false);
  if (microsoft && op == "SkipSimplifiedLayerNormalization")
    return convertNorm(node, /*skip=*/true);
  if (standard && op == "Mul")
    return convertMul(node);
  if (standard && op == "Add")
    return convertAdd(node);
  if (standard && op == "Reshape")
    return convertReshape(node);
  if (standard && op == "Cast")
    return convertCast(node);
  if (standard && op == "Identity") { // exporters leave them anywhere, e.g. before `logits`
    Value x = input(node.input(0));
    if (!x)
      return false;
    values[node.output(0)] = x;
    return true;
  }
  if (microsoft && op == "GroupQueryAttention")
    return convertGQA(node);
  if (microsoft && op == "RotaryEmbedding")
    return convertRotaryEmbedding(node);
  if (microsoft && op == "MultiHeadAttention")
    return convertMHA(node);
  if (microsoft && op == "MatMulNBits")
    return convertMatMulNBits(node);
  if (microsoft && op == "GatherBlockQuantized")
    return convertGatherBlockQuantized(node);
  fail("unsupported op: " + where(node));
  return false;
}

bool Converter::convertMatMul(const onnx::NodeProto &node) {
  Value x = input(node.input(0));
  Value w = x ? weight(node.input(1), 2, node) : Value();
  if (!w)
    return false;
  auto wt = cast<WeightType>(w.getType());
  int64_t n = wt.getShape()[1];
  values[node.output(0)] = LinearOp::create(b, loc, like(x, n), x, transposed(w), Value());
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

/// Recovers theta from GroupQueryAttention's cos/sin caches ([max_pos, rotary_dim / 2]) and
/// checks the whole table follows it: a model with scaled rotary frequencies is refused
/// rather than imported wrong.
bool Converter::rotaryTheta(const onnx::NodeProto &node, const std::string &cosName,
                            const std::string &sinName, double &theta, int64_t &rotaryDim) {
  const OnnxTensor *cos = model.initializer(cosName), *sin = model.initializer(sinName);
  auto isFloat = [](const OnnxTensor *t) {
    return t && t->dims.size() == 2 && (t->dataType == int32_t(OnnxDType::Float) ||
                                       t->dataType == int32_t(OnnxDType::Float16));
  };
  if (!isFloat(cos) || !isFloat(sin) || cos->dims != sin->dims || cos->dims[0] < 2 ||
      cos->dims[1] < 2)
    return fail(where(node) + ": cos/sin caches must be 2-D float initializers of at least "
                              "2x2"),
           false;
  int64_t half = cos->dims[1];
  rotaryDim = 2 * half;
  // NaN or infinity anywhere would survive the fit below (NaN compares false).
  for (const OnnxTensor *t : {cos, sin})
    for (int64_t i = 0, n = t->numElements(); i < n; ++i)
      if (!std::isfinite(floatAt(*t, i)))
        return fail(where(node) + ": rotary table '" + t->name + "' holds " +
                    (std::isnan(floatAt(*t, i)) ? "NaN" : "an infinity") + " at [" +
                    std::to_string(i / half) + ", " + std::to_string(i % half) + "]"),
               false;
  // Pair i turns by f_i = theta^(-2i / rotary_dim) per position. Each f_i is measured at
  // the largest position where the angle has not wrapped (so fp16 tables still give a
  // precise value), and the estimates of log(theta) are averaged, weighted by precision.
  auto angle = [&](int64_t p, int64_t i) {
    return std::atan2(floatAt(*sin, p * half + i), floatAt(*cos, p * half + i));
  };
  double sumLog = 0, sumWeight = 0;
  for (int64_t i = 1; i < half; ++i) {
    double coarse = angle(1, i);
    if (!(coarse > 0))
      continue;
    int64_t p = std::clamp<int64_t>(int64_t(2.5 / coarse), 1, cos->dims[0] - 1);
    double f = angle(p, i) / p;
    if (!(f > 0) || f >= 1)
      continue;
    double weight = 2.0 * i / rotaryDim * p;
    sumLog += weight * (-std::log(f) * rotaryDim / (2.0 * i));
    sumWeight += weight;
  }
  if (!(sumWeight > 0))
    return fail(where(node) + ": cannot recover the rotary base from the cos/sin caches"),
           false;
  theta = std::exp(sumLog / sumWeight);
  if (!std::isfinite(theta) || theta <= 1)
    return fail(where(node) + ": cannot recover the rotary base from the cos/sin caches"),
           false;
  // Bases are round numbers (10000, 500000, 1e6); an estimate from fp16 tables is not
  // quite. Take the number with two significant digits when it is that close; the table
  // check below decides either way.
  double magnitude = std::pow(10.0, std::floor(std::log10(theta)) - 1);
  double round2 = std::round(theta / magnitude) * magnitude;
  if (std::abs(round2 - theta) < 2e-3 * theta)
    theta = round2;
  int64_t positionsChecked = std::min<int64_t>(cos->dims[0], 256);
  double tolerance = cos->dataType == int32_t(OnnxDType::Float16) ? 4e-3 : 1e-4;
  for (int64_t p = 0; p < positionsChecked; ++p)
    for (int64_t i = 0; i < half; ++i) {
      double angle = p * std::pow(theta, -2.0 * i / rotaryDim);
      // Written so that NaN entries fail: NaN compares false with everything.
      if (!(std::abs(floatAt(*cos, p * half + i) - std::cos(angle)) <= tolerance) ||
          !(std::abs(floatAt(*sin, p * half + i) - std::sin(angle)) <= tolerance))
        return fail(where(node) + ": the cos/sin caches are not plain rotary tables of base " +
                    std::to_string(theta) + " (scaled rotary embeddings are not supported)"),
               false;
    }
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
  values[node.output(0)] =
      LinearOp::create(b, loc, like(x, cast<WeightType>(w.getType()).getShape()[0]), x, w,
                       Value());
  return true;
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
  if (n <= 0 || k <= 0 || bits < 2 || bits > 8 || 8 % bits != 0 || blockSize < 1 ||
      blockSize > k || blockSize * bits % 8 != 0)
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

bool Converter::convertRotaryEmbedding(const onnx::NodeProto &node) {
  // Inputs: x [B, S, heads * D] (or [B, S, heads, D]), position_ids [B, S], cos, sin.
  Value x = input(node.input(0));
  Value pos = x ? input(node.input(1)) : Value();
  if (!pos)
    return false;
  if (!checkPositions(node, node.input(1)))
    return false;
  double theta;
  int64_t rotaryDim;
  if (!rotaryTheta(node, node.input(2), node.input(3), theta, rotaryDim))
    return false;
  if (int64_t attrDim = intAttr(node, "rotary_embedding_dim", 0); attrDim && attrDim != rotaryDim)
    return fail(where(node) + ": rotary_embedding_dim differs from the cos/sin caches"), false;
  auto xt = cast<RankedTensorType>(x.getType());
  auto pt = cast<RankedTensorType>(pos.getType());
  if (pt.getRank() != 2 || (xt.getRank() != 3 && xt.getRank() != 4))
    return fail(where(node) + ": expects [batch, seq, hidden] input and [batch, seq] "
                              "position ids"),
           false;
  int64_t numHeads = intAttr(node, "num_heads", 0);
  int64_t headDim = xt.getRank() == 4 ? xt.getDimSize(3)
                    : numHeads > 0    ? xt.getDimSize(2) / numHeads
                                      : rotaryDim; // no num_heads: the whole head rotates
  if (ShapedType::isDynamic(headDim) || headDim < rotaryDim ||
      (xt.getRank() == 3 && xt.getDimSize(2) % headDim != 0))
    return fail(where(node) + ": cannot infer the head size"), false;
  Value x4 = x;
  if (xt.getRank() == 3)
    x4 = ReshapeOp::create(b, loc,
                           RankedTensorType::get({xt.getDimSize(0), xt.getDimSize(1),
                                                  xt.getDimSize(2) / headDim, headDim},
                                                 xt.getElementType()),
                           x);
  Value r = RotaryOp::create(b, loc, x4.getType(), x4, pos, b.getF32FloatAttr(theta),
                             b.getI64IntegerAttr(rotaryDim),
                             b.getBoolAttr(intAttr(node, "interleaved", 0) != 0));
  values[node.output(0)] = xt.getRank() == 3 ? ReshapeOp::create(b, loc, xt, r).getResult() : r;
  return true;
}

bool Converter::emitAttention(const onnx::NodeProto &node, Value q, Value k, Value v,
                              int64_t heads, int64_t kvHeads, int64_t headDim, ValueRange past,
                              float scale, int presentOutput,
                              ArrayRef<std::string> presentNames) {
  auto qt = cast<RankedTensorType>(q.getType());
  Type elem = qt.getElementType();
  auto heads4 = [&](Value x, int64_t n) {
    auto t = cast<RankedTensorType>(x.getType());
    return ReshapeOp::create(
               b, loc,
               RankedTensorType::get({t.getDimSize(0), t.getDimSize(1), n, headDim}, elem), x)
        .getResult();
  };
  Value q4 = heads4(q, heads), k4 = heads4(k, kvHeads), v4 = heads4(v, kvHeads);
  SmallVector<Type> presentTypes;
  if (!past.empty()) {
    auto ct = RankedTensorType::get({qt.getDimSize(0), kvHeads, kDyn, headDim}, elem);
    presentTypes = {ct, ct};
  }
  FloatAttr scaleAttr = scale != 0.0f ? b.getF32FloatAttr(scale) : FloatAttr();
  auto attention = AttentionOp::create(b, loc, q4.getType(), presentTypes, q4, k4, v4, past,
                                       b.getI64IntegerAttr(heads), b.getI64IntegerAttr(kvHeads),
                                       scaleAttr);
  values[node.output(0)] = ReshapeOp::create(
      b, loc, RankedTensorType::get({qt.getDimSize(0), qt.getDimSize(1), heads * headDim}, elem),
      attention.getOutput());
  for (int i = 0; i < 2; ++i) {
    std::string name = i < int(presentNames.size()) ? presentNames[i]
                       : node.output_size() > presentOutput + i ? node.output(presentOutput + i)
                                                                 : std::string();
    if (name.empty())
      continue;
    if (presentTypes.empty())
      return fail(where(node) + ": present outputs need past inputs"), false;
    values[name] = attention.getPresent()[i];
  }
  return true;
}

bool Converter::convertMHA(const onnx::NodeProto &node) {
  // Inputs: query, key, value [B, S, heads * D], bias, key_padding_mask, attention_bias,
  // past_key, past_value [B, heads, P, D]. The decoder's mask (attention_bias) is taken to
  // be causal: llm.attention is.
  int64_t heads = intAttr(node, "num_heads", 0);
  if (heads <= 0)
    return fail(where(node) + ": num_heads is required"), false;
  auto present = [&](int i) { return node.input_size() > i && !node.input(i).empty(); };
  if (present(3) || present(4))
    return fail(where(node) + ": attention bias vectors and key padding masks are not "
                              "supported"),
           false;
  // llm.attention is causal: so must the ONNX attention be, by its unidirectional
  // attribute or by an attention_bias that is exactly a causal mask.
  bool unidirectional = intAttr(node, "unidirectional", 0) != 0;
  if (unidirectional && present(5))
    return fail(where(node) + ": an attention_bias on top of unidirectional attention is not "
                              "supported"),
           false;
  if (!unidirectional && !present(5))
    return fail(where(node) + ": attention without a causal mask (no attention_bias, "
                              "unidirectional=0) is not causal; only causal decoder attention "
                              "is supported"),
           false;
  if (present(5) && !checkCausalMask(node, node.input(5), heads))
    return false;
  // The GenAI builder's fp16 graphs feed MultiHeadAttention keys and values that already
  // went through the KV-cache Concat and repeat_kv (back to [B, T, heads * D]); take the new
  // tokens' projections, the cache and the kv head count from that subgraph instead.
  SmallVector<std::string, 2> presentNames;
  SmallVector<Value> past;
  int64_t cachedKvHeads = 0;
  std::string freshK, freshV;
  if (present(1) && present(2)) {
    CacheChain kc, vc;
    auto unrepeat = [&](const std::string &name, CacheChain &chain) {
      const onnx::NodeProto *r = def(name, "Reshape");
      const onnx::NodeProto *t = r ? def(r->input(0), "Transpose") : nullptr;
      if (!t)
        return false;
      stripCache(t->input(0), chain);
      return chain.concat != nullptr;
    };
    if (unrepeat(node.input(1), kc) && unrepeat(node.input(2), vc)) {
      int64_t kh, kd, vh, vd;
      std::string k3, v3;
      if (!splitHeads(kc.fresh, kh, kd, &k3) || !splitHeads(vc.fresh, vh, vd, &v3))
        return fail(where(node) + ": cannot follow the KV cache back to the key/value "
                                  "projections: " + mismatchReason),
               false;
      if (kh != vh || kd != vd)
        return fail(where(node) + ": key and value caches disagree on heads"), false;
      Value pk = input(kc.past);
      Value pv = pk ? input(vc.past) : Value();
      if (!pv)
        return false;
      past = {pk, pv};
      presentNames = {kc.concat->output(0), vc.concat->output(0)};
      cachedKvHeads = kh;
      freshK = k3;
      freshV = v3;
    }
  }
  Value q = input(node.input(0));
  Value k = q && present(1) ? input(freshK.empty() ? node.input(1) : freshK) : Value();
  Value v = k && present(2) ? input(freshV.empty() ? node.input(2) : freshV) : Value();
  if (!v) {
    if (error.empty())
      fail(where(node) + ": packed or missing key/value inputs are not supported");
    return false;
  }
  auto qt = cast<RankedTensorType>(q.getType()), kt = cast<RankedTensorType>(k.getType());
  if (qt.getRank() != 3 || kt.getRank() != 3 || ShapedType::isDynamic(qt.getDimSize(2)) ||
      qt.getDimSize(2) % heads != 0)
    return fail(where(node) + ": expects 3-D query/key/value with a static width"), false;
  int64_t headDim = qt.getDimSize(2) / heads;
  if (ShapedType::isDynamic(kt.getDimSize(2)) || kt.getDimSize(2) % headDim != 0)
    return fail(where(node) + ": key width is not a multiple of the head size"), false;
  int64_t kvHeads = kt.getDimSize(2) / headDim;
  if (cachedKvHeads && cachedKvHeads != kvHeads)
    return fail(where(node) + ": the key cache's head count differs from the key's"), false;
  if (heads % kvHeads != 0)
    return fail(where(node) + ": key heads do not divide query heads"), false;
  if (!past.empty() && (present(6) || present(7)))
    return fail(where(node) + ": both a past_key input and a concatenated cache"), false;
  if (present(6) || present(7)) {
    Value pk = input(node.input(6));
    Value pv = pk ? input(node.input(7)) : Value();
    if (!pv)
      return false;
    past = {pk, pv};
  }
  return emitAttention(node, q, k, v, heads, kvHeads, headDim, past,
                       floatAttr(node, "scale", 0.0f), /*presentOutput=*/1, presentNames);
}

bool Converter::convertGQA(const onnx::NodeProto &node) {
  int64_t heads = intAttr(node, "num_heads", 0), kvHeads = intAttr(node, "kv_num_heads", 0);
  if (heads <= 0 || kvHeads <= 0)
    return fail(where(node) + ": num_heads and kv_num_heads are required"), false;
  if (!checkSequenceLengths(node))
    return false;
  if (intAttr(node, "local_window_size", -1) != -1)
    return fail(where(node) + ": sliding-window attention is not supported"), false;
  if (floatAttr(node, "softcap", 0.0f) != 0.0f)
    return fail(where(node) + ": attention soft-capping is not supported"), false;
  for (int i = 9; i < node.input_size(); ++i)
    if (!node.input(i).empty())
      return fail(where(node) + ": input #" + std::to_string(i) +
                  " (position ids / attention bias / head sink) is not supported"),
             false;
  auto present = [&](int i) { return node.input_size() > i && !node.input(i).empty(); };

  Value q, k, v;
  int64_t headDim;
  if (!present(1) && !present(2)) {
    // Packed QKV from one projection: split its weight into three linears.
    const onnx::NodeProto *proj = producer(node.input(0));
    Value x, t;
    if (!proj || !projection(*proj, x, t)) {
      if (error.empty())
        fail(where(node) + ": packed QKV must come from a MatMul or MatMulNBits with a weight");
      return false;
    }
    auto wt = cast<WeightType>(t.getType()); // [out, in]
    int64_t total = wt.getShape()[0], k0 = wt.getShape()[1];
    if (total % (heads + 2 * kvHeads) != 0)
      return fail(where(node) + ": packed QKV width " + std::to_string(total) +
                  " is not a multiple of num_heads + 2 * kv_num_heads"),
             false;
    headDim = total / (heads + 2 * kvHeads);
    int64_t offset = 0;
    auto part = [&](int64_t rows) {
      auto type = WeightType::get(b.getContext(), {rows, k0}, wt.getElementType(),
                                  wt.getFormat(), nullptr);
      Value slice = WeightSliceOp::create(b, loc, type, t, b.getI64IntegerAttr(0),
                                          b.getI64IntegerAttr(offset), StringAttr());
      offset += rows;
      return LinearOp::create(b, loc, like(x, rows), x, slice, Value()).getResult();
    };
    q = part(heads * headDim);
    k = part(kvHeads * headDim);
    v = part(kvHeads * headDim);
  } else {
    q = input(node.input(0));
    k = q ? input(node.input(1)) : Value();
    v = k ? input(node.input(2)) : Value();
    if (!v)
      return false;
    int64_t width = cast<RankedTensorType>(q.getType()).getShape().back();
    if (ShapedType::isDynamic(width) || width % heads != 0)
      return fail(where(node) + ": query width must be a static multiple of num_heads"), false;
    headDim = width / heads;
  }

  auto qt = cast<RankedTensorType>(q.getType());
  if (qt.getRank() != 3)
    return fail(where(node) + ": query must be [batch, seq, hidden]"), false;
  Type elem = qt.getElementType();
  auto heads4 = [&](Value x, int64_t n) {
    auto t = cast<RankedTensorType>(x.getType());
    return ReshapeOp::create(
               b, loc,
               RankedTensorType::get({t.getDimSize(0), t.getDimSize(1), n, headDim}, elem), x)
        .getResult();
  };
  Value q4 = heads4(q, heads), k4 = heads4(k, kvHeads), v4 = heads4(v, kvHeads);
  if (intAttr(node, "do_rotary", 0)) {
    if (!present(7) || !present(8))
      return fail(where(node) + ": do_rotary needs cos_cache and sin_cache"), false;
    double theta;
    int64_t rotaryDim;
    if (!rotaryTheta(node, node.input(7), node.input(8), theta, rotaryDim))
      return false;
    if (rotaryDim > headDim)
      return fail(where(node) + ": rotary tables are wider than the head"), false;
    Value pos = positions();
    bool interleaved = intAttr(node, "rotary_interleaved", 0) != 0;
    auto rope = [&](Value x) {
      return RotaryOp::create(b, loc, x.getType(), x, pos, b.getF32FloatAttr(theta),
                              b.getI64IntegerAttr(rotaryDim), b.getBoolAttr(interleaved))
          .getResult();
    };
    q4 = rope(q4);
    k4 = rope(k4);
  }

  SmallVector<Value> past;
  SmallVector<Type> presentTypes;
  if (present(3) || present(4)) {
    Value pk = input(node.input(3));
    Value pv = pk ? input(node.input(4)) : Value();
    if (!pv)
      return false;
    past = {pk, pv};
    auto ct = RankedTensorType::get({qt.getDimSize(0), kvHeads, kDyn, headDim}, elem);
    presentTypes = {ct, ct};
  }
  float scale = floatAttr(node, "scale", 0.0f);
  FloatAttr scaleAttr = scale != 0.0f ? b.getF32FloatAttr(scale) : FloatAttr();
  auto attention = AttentionOp::create(b, loc, q4.getType(), presentTypes, q4, k4, v4, past,
                                       b.getI64IntegerAttr(heads), b.getI64IntegerAttr(kvHeads),
                                       scaleAttr);
  values[node.output(0)] = ReshapeOp::create(
      b, loc, RankedTensorType::get({qt.getDimSize(0), qt.getDimSize(1), heads * headDim}, elem),
      attention.getOutput());
  for (int i = 1; i < 3 && i < node.output_size(); ++i)
    if (!node.output(i).empty() && !presentTypes.empty())
      values[node.output(i)] = attention.getPresent()[i - 1];
  return true;
}

/// The fewest inputs each op this converter looks into must have: model files are
/// hostile, and the converters and pattern matchers index inputs directly.
static int minimumInputs(const onnx::NodeProto &node) {
  static const llvm::StringMap<int> standard = {
      {"Add", 2},    {"Cast", 1},       {"Concat", 1},     {"Cos", 1},       {"Div", 2},
      {"Expand", 2}, {"Gather", 2},     {"Identity", 1},   {"IsNaN", 1},     {"MatMul", 2},
      {"Mul", 2},    {"Neg", 1},        {"Pow", 2},        {"Reciprocal", 1}, {"ReduceMean", 1},
      {"Reshape", 2}, {"Sigmoid", 1},   {"Sin", 1},        {"Slice", 3},     {"Softmax", 1},
      {"Sqrt", 1},   {"Transpose", 1},  {"Unsqueeze", 1},  {"Where", 3},
      {"SimplifiedLayerNormalization", 2}};
  static const llvm::StringMap<int> microsoft = {
      {"SimplifiedLayerNormalization", 2}, {"SkipSimplifiedLayerNormalization", 3},
      {"RotaryEmbedding", 4},              {"MatMulNBits", 3},
      {"GatherBlockQuantized", 3},         {"GroupQueryAttention", 1},
      {"MultiHeadAttention", 1}};
  const llvm::StringMap<int> *table = node.domain().empty() || node.domain() == "ai.onnx"
                                          ? &standard
                                      : node.domain() == "com.microsoft" ? &microsoft
                                                                          : nullptr;
  if (!table)
    return 0;
  auto it = table->find(node.op_type());
  return it == table->end() ? 0 : it->second;
}

OwningOpRef<ModuleOp> Converter::run(StringRef paramFile, std::string &errorOut) {
  OwningOpRef<ModuleOp> owned = ModuleOp::create(loc);
  module = *owned;
  module->setAttr(LLMDialect::kParamFileAttrName, b.getStringAttr(paramFile));
  for (const onnx::NodeProto &node : graph.node()) {
    int need = minimumInputs(node);
    if (node.input_size() < need || node.output_size() < 1) {
      errorOut = "'" + model.path().str() + "': " + where(node) + " has " +
                 std::to_string(node.input_size()) + " inputs and " +
                 std::to_string(node.output_size()) + " outputs; it needs at least " +
                 std::to_string(need) + " inputs and one output";
      return nullptr;
    }
    if (std::string why = unsupportedAttribute(node); !why.empty()) {
      errorOut = "'" + model.path().str() + "': " + where(node) + ": " + why;
      return nullptr;
    }
    for (int i = 0; i < node.output_size(); ++i)
      if (!node.output(i).empty())
        producers[node.output(i)] = {&node, i};
  }

  // Graph inputs (initializers listed as inputs by old exporters are weights, not inputs).
  SmallVector<Type> argTypes;
  SmallVector<std::string> argNames;
  for (const onnx::ValueInfoProto &in : graph.input()) {
    if (model.initializer(in.name()))
      continue;
    const onnx::TypeProto_Tensor &tt = in.type().tensor_type();
    Type elem = elementType(tt.elem_type());
    if (!in.type().has_tensor_type() || !elem) {
      errorOut = "graph input '" + in.name() + "' has an unsupported type (" +
                 onnxDTypeName(tt.elem_type()).str() + ")";
      return nullptr;
    }
    SmallVector<int64_t> shape;
    for (const onnx::TensorShapeProto_Dimension &d : tt.shape().dim())
      shape.push_back(d.has_dim_value() && d.dim_value() > 0 ? d.dim_value() : kDyn);
    argTypes.push_back(RankedTensorType::get(shape, elem));
    argNames.push_back(in.name());
  }
  b.setInsertionPointToEnd(module.getBody());
  func = func::FuncOp::create(b, loc, "forward", b.getFunctionType(argTypes, {}));
  entry = func.addEntryBlock();
  for (auto [i, name] : llvm::enumerate(argNames)) {
    func.setArgAttr(i, LLMDialect::kNameAttrName, b.getStringAttr(name));
    values[name] = entry->getArgument(i);
  }
  b.setInsertionPointToEnd(entry);

  // Updated KV caches are made by the attention that reads them, so they are converted
  // last, after the outputs that lead to those attentions.
  SmallVector<Value> results;
  SmallVector<std::string> resultNames;
  for (bool caches : {false, true})
    for (const onnx::ValueInfoProto &out : graph.output())
      if (isCacheConcat(out.name()) == caches && !input(out.name())) {
        errorOut = "'" + model.path().str() + "': " + error;
        return nullptr;
      }
  for (const onnx::ValueInfoProto &out : graph.output()) {
    results.push_back(values.lookup(out.name()));
    resultNames.push_back(out.name());
  }
  func::ReturnOp::create(b, loc, results);
  func.setType(b.getFunctionType(entry->getArgumentTypes(), TypeRange(results)));
  for (auto [i, name] : llvm::enumerate(resultNames))
    func.setResultAttr(i, LLMDialect::kNameAttrName, b.getStringAttr(name));

  // The llm verifiers check what the ONNX graph only declares (shapes of inputs, heads of
  // caches); a disagreement is the model's, reported as one line naming the node.
  std::string diagnostic;
  const onnx::NodeProto *culprit = nullptr;
  {
    ScopedDiagnosticHandler capture(b.getContext(), [&](Diagnostic &d) {
      if (diagnostic.empty()) {
        diagnostic = d.str();
        if (auto name = dyn_cast<NameLoc>(d.getLocation()))
          for (const onnx::NodeProto &node : graph.node())
            if (node.name() == name.getName().getValue())
              culprit = &node;
      }
      return success();
    });
    if (succeeded(verify(module)))
      return owned;
  }
  errorOut = "'" + model.path().str() + "': " +
             (culprit ? where(*culprit) : "graph '" + graph.name() + "'") +
             ": the model's shapes are inconsistent (" + diagnostic + ")";
  return nullptr;
}

} // namespace midllama::onnx_import::detail

OwningOpRef<ModuleOp> midllama::onnx_import::convertToLLM(OnnxModel &model,
                                                          MLIRContext *context,
                                                          rt::ParamFileWriter &writer,
                                                          StringRef paramFile, Location loc,
                                                          std::string &error) {
  context->loadDialect<LLMDialect, func::FuncDialect>();
  // A graph ONNX Runtime would refuse is refused before anything is read from it.
  if (!detail::checkGraphStructure(model, error) || !detail::checkWithOnnx(model, error))
    return nullptr;
  model.elideIdentities();
  detail::Converter converter(model, context, writer, loc);
  return converter.run(paramFile, error);
}
