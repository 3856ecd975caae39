//===- ContribAttention.cpp - ONNX Runtime attention converters -----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// GroupQueryAttention, MultiHeadAttention and RotaryEmbedding (com.microsoft), with the
// rotary-table checks that keep a scaled-rotary model from importing wrong.
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

/// More attention heads than any model has; attributes above it are refused before they
/// enter size arithmetic.
constexpr int64_t kMaxHeads = int64_t(1) << 16;

Value Converter::headsOf(Value x, int64_t heads, int64_t headDim) {
  auto t = cast<RankedTensorType>(x.getType());
  return ReshapeOp::create(b, loc,
                           RankedTensorType::get({t.getDimSize(0), t.getDimSize(1), heads,
                                                  headDim},
                                                 t.getElementType()),
                           x)
      .getResult();
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

SmallVector<Value, 2> Converter::attendAndMerge(const onnx::NodeProto &node,
                                                RankedTensorType qt, Value q4, Value k4,
                                                Value v4, ValueRange past,
                                                ArrayRef<Type> presentTypes, int64_t heads,
                                                int64_t kvHeads, int64_t headDim, float scale) {
  FloatAttr scaleAttr = scale != 0.0f ? b.getF32FloatAttr(scale) : FloatAttr();
  auto attention = AttentionOp::create(b, loc, q4.getType(), presentTypes, q4, k4, v4, past,
                                       b.getI64IntegerAttr(heads), b.getI64IntegerAttr(kvHeads),
                                       scaleAttr);
  auto merged = RankedTensorType::get({qt.getDimSize(0), qt.getDimSize(1), heads * headDim},
                                      qt.getElementType());
  values[node.output(0)] = ReshapeOp::create(b, loc, merged, attention.getOutput());
  return SmallVector<Value, 2>(attention.getPresent().begin(), attention.getPresent().end());
}

bool Converter::emitAttention(const onnx::NodeProto &node, Value q, Value k, Value v,
                              int64_t heads, int64_t kvHeads, int64_t headDim, ValueRange past,
                              float scale, int presentOutput,
                              ArrayRef<std::string> presentNames) {
  auto qt = cast<RankedTensorType>(q.getType());
  Type elem = qt.getElementType();
  Value q4 = headsOf(q, heads, headDim), k4 = headsOf(k, kvHeads, headDim),
        v4 = headsOf(v, kvHeads, headDim);
  SmallVector<Type> presentTypes;
  if (!past.empty()) {
    auto ct = RankedTensorType::get({qt.getDimSize(0), kvHeads, kDyn, headDim}, elem);
    presentTypes = {ct, ct};
  }
  SmallVector<Value, 2> present = attendAndMerge(node, qt, q4, k4, v4, past, presentTypes,
                                                 heads, kvHeads, headDim, scale);
  for (int i = 0; i < 2; ++i) {
    std::string name = i < int(presentNames.size()) ? presentNames[i]
                       : node.output_size() > presentOutput + i ? node.output(presentOutput + i)
                                                                 : std::string();
    if (name.empty())
      continue;
    if (presentTypes.empty())
      return fail(where(node) + ": present outputs need past inputs"), false;
    values[name] = present[i];
  }
  return true;
}

bool Converter::convertMHA(const onnx::NodeProto &node) {
  // Inputs: query, key, value [B, S, heads * D], bias, key_padding_mask, attention_bias,
  // past_key, past_value [B, heads, P, D]. The decoder's mask (attention_bias) is taken to
  // be causal: llm.attention is.
  int64_t heads = intAttr(node, "num_heads", 0);
  if (heads <= 0 || heads > kMaxHeads)
    return fail(where(node) + ": num_heads must be 1 to " + std::to_string(kMaxHeads) +
                " (it is " + std::to_string(heads) + ")"),
           false;
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
  // Bounded before any arithmetic with them (num_heads + 2 * kv_num_heads overflowed).
  if (heads <= 0 || kvHeads <= 0 || heads > kMaxHeads || kvHeads > kMaxHeads)
    return fail(where(node) + ": num_heads and kv_num_heads must be 1 to " +
                std::to_string(kMaxHeads) + " (they are " + std::to_string(heads) + " and " +
                std::to_string(kvHeads) + ")"),
           false;
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
      return LinearOp::create(b, loc, x, slice).getResult();
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
  Value q4 = headsOf(q, heads, headDim), k4 = headsOf(k, kvHeads, headDim),
        v4 = headsOf(v, kvHeads, headDim);
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
  SmallVector<Value, 2> cache = attendAndMerge(node, qt, q4, k4, v4, past, presentTypes,
                                               heads, kvHeads, headDim, scale);
  for (int i = 1; i < 3 && i < node.output_size(); ++i)
    if (!node.output(i).empty() && !presentTypes.empty())
      values[node.output(i)] = cache[i - 1];
  return true;
}

} // namespace midllama::onnx_import::detail
