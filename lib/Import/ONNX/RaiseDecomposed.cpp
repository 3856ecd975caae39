//===- RaiseDecomposed.cpp - Raise torch.onnx subgraphs to llm ops --------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// torch.onnx.export (and optimum) write a LLaMA decoder without contrib ops: RMSNorm as
// Pow/ReduceMean/Add/Sqrt/Reciprocal(or Div)/Mul, rotary embeddings as Slice/Neg/Concat/
// Mul/Add against cos/sin computed from the inverse frequencies, attention as
// MatMul/Mul(or Div)/Add(mask)/Softmax/MatMul between head-split Reshape/Transpose pairs,
// GQA as repeat_kv (Unsqueeze/Expand/Reshape) and the KV cache as a Concat with the past.
//
// Conversion stays demand-driven: a converter is asked for a value and, where that value
// ends such a subgraph (the gamma Mul of RMSNorm, the head-merging Reshape after
// attention), matches the subgraph by its structure and constants (never by node or
// tensor names), looking through Cast/Identity noise and either operand order of
// commutative ops, in fp32 and fp16. Everything in between (the mask and shape
// bookkeeping) is never converted. When a pattern does not match, the error names the
// node and what was expected.
//
//===----------------------------------------------------------------------===//

#include "Converter.h"

#include "midllama/Dialect/LLM/IR/LLMOps.h"

#include <cmath>
#include <cstring>
#include <functional>

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;
using namespace midllama::onnx_import;
using namespace midllama::onnx_import::detail;

//===----------------------------------------------------------------------===//
// ONNX-level helpers
//===----------------------------------------------------------------------===//

const onnx::NodeProto *Converter::def(const std::string &name, StringRef opType) const {
  const onnx::NodeProto *node = producer(name);
  if (!node || !isStandard(*node) || node->op_type() != opType)
    return nullptr;
  return node;
}

std::string Converter::skipCasts(const std::string &name) const {
  std::string current = name;
  for (int depth = 0; depth < 16; ++depth) {
    const onnx::NodeProto *node = producer(current);
    if (!node || !isStandard(*node) || node->input_size() < 1 ||
        (node->op_type() != "Cast" && node->op_type() != "Identity"))
      break;
    current = node->input(0);
  }
  return current;
}

const OnnxTensor *Converter::constant(const std::string &name) {
  if (const OnnxTensor *t = model.initializer(name))
    return t;
  if (auto it = constantCache.find(name); it != constantCache.end())
    return it->second;
  const OnnxTensor *result = nullptr;
  if (const onnx::NodeProto *node = producer(name); node && isStandard(*node)) {
    if (node->op_type() == "Identity" && node->input_size() == 1) {
      result = constant(node->input(0));
    } else if (node->op_type() == "Constant") {
      OnnxTensor t;
      t.name = name;
      std::string ignored;
      if (const onnx::AttributeProto *a = attr(*node, "value"); a && a->has_t()) {
        if (model.decodeInline(a->t(), t, ignored))
          result = &constantTensors.emplace_back(std::move(t));
      } else if (const onnx::AttributeProto *f = attr(*node, "value_float")) {
        auto &bytes = constantBytes.emplace_back(4);
        float v = f->f();
        std::memcpy(bytes.data(), &v, 4);
        t.dataType = int32_t(OnnxDType::Float);
        t.bytes = bytes;
        result = &constantTensors.emplace_back(std::move(t));
      } else if (const onnx::AttributeProto *i = attr(*node, "value_int")) {
        auto &bytes = constantBytes.emplace_back(8);
        int64_t v = i->i();
        std::memcpy(bytes.data(), &v, 8);
        t.dataType = int32_t(OnnxDType::Int64);
        t.bytes = bytes;
        result = &constantTensors.emplace_back(std::move(t));
      } else if (const onnx::AttributeProto *is = attr(*node, "value_ints")) {
        auto &bytes = constantBytes.emplace_back(8 * is->ints_size());
        for (int k = 0; k < is->ints_size(); ++k) {
          int64_t v = is->ints(k);
          std::memcpy(bytes.data() + 8 * k, &v, 8);
        }
        t.dataType = int32_t(OnnxDType::Int64);
        t.dims = {int64_t(is->ints_size())};
        t.bytes = bytes;
        result = &constantTensors.emplace_back(std::move(t));
      }
    }
  }
  constantCache[name] = result;
  return result;
}

std::optional<double> Converter::scalar(const std::string &name) {
  const OnnxTensor *t = constant(skipCasts(name));
  if (!t || t->numElements() != 1)
    return std::nullopt;
  switch (OnnxDType(t->dataType)) {
  case OnnxDType::Float:
  case OnnxDType::Float16:
    return floatAt(*t, 0);
  case OnnxDType::Int64: {
    int64_t v;
    std::memcpy(&v, t->bytes.data(), 8);
    return double(v);
  }
  case OnnxDType::Int32: {
    int32_t v;
    std::memcpy(&v, t->bytes.data(), 4);
    return double(v);
  }
  default:
    return std::nullopt;
  }
}

std::optional<SmallVector<int64_t>> Converter::ints(const std::string &name) {
  const OnnxTensor *t = constant(name);
  if (!t || t->dims.size() > 1)
    return std::nullopt;
  SmallVector<int64_t> out;
  for (int64_t i = 0, n = t->numElements(); i < n; ++i) {
    if (t->dataType == int32_t(OnnxDType::Int64)) {
      int64_t v;
      std::memcpy(&v, t->bytes.data() + 8 * i, 8);
      out.push_back(v);
    } else if (t->dataType == int32_t(OnnxDType::Int32)) {
      int32_t v;
      std::memcpy(&v, t->bytes.data() + 4 * i, 4);
      out.push_back(v);
    } else {
      return std::nullopt;
    }
  }
  return out;
}

SmallVector<int64_t> Converter::trailingInts(const std::string &shape, int count) {
  SmallVector<int64_t> tail(count, kUnknown);
  SmallVector<std::string> parts = {shape};
  if (!ints(shape))
    if (const onnx::NodeProto *concat = def(shape, "Concat"))
      parts.assign(concat->input().begin(), concat->input().end());
  // Fill from the end with constant parts; the first computed part stops it, since its
  // length is not known.
  int filled = 0;
  for (auto part = parts.rbegin(); part != parts.rend() && filled < count; ++part) {
    std::optional<SmallVector<int64_t>> v = ints(*part);
    if (!v)
      break;
    for (auto it = v->rbegin(); it != v->rend() && filled < count; ++it)
      tail[count - 1 - filled++] = *it;
  }
  return tail;
}

bool Converter::isCacheConcat(const std::string &name) const {
  const onnx::NodeProto *concat = def(name, "Concat");
  if (!concat || concat->input_size() != 2)
    return false;
  const std::string &first = concat->input(0);
  return !producer(first) && !model.initializer(first) && values.count(first);
}

//===----------------------------------------------------------------------===//
// Elementwise ops and RMSNorm
//===----------------------------------------------------------------------===//

bool Converter::convertAdd(const onnx::NodeProto &node) {
  Value l = input(node.input(0));
  Value r = l ? input(node.input(1)) : Value();
  if (!r)
    return false;
  if (l.getType() != r.getType())
    return fail(where(node) + ": only additions of equally shaped activations (residual "
                              "connections) are supported outside recognised patterns"),
           false;
  values[node.output(0)] = AddOp::create(b, loc, l, r);
  return true;
}

bool Converter::raiseRMSNorm(const onnx::NodeProto &mul, int gammaOperand) {
  // mul = gamma * Cast?(x * rsqrt(mean(x^2) + eps)), where rsqrt is Reciprocal(Sqrt) or
  // the normalization is Div(x, Sqrt(...)), and x may be a Cast of the input.
  std::string normalized = skipCasts(mul.input(1 - gammaOperand));
  auto expected = [&](const std::string &what) {
    return fail(where(mul) + ": a Mul by a constant vector is read as RMSNorm's weight, but " +
                what),
           false;
  };
  std::string x, denominator;
  if (const onnx::NodeProto *inner = def(normalized, "Mul")) {
    for (int i = 0; i < 2 && x.empty(); ++i)
      if (const onnx::NodeProto *r = def(skipCasts(inner->input(i)), "Reciprocal")) {
        x = inner->input(1 - i);
        denominator = r->input(0);
      }
  } else if (const onnx::NodeProto *div = def(normalized, "Div")) {
    x = div->input(0);
    denominator = div->input(1);
  }
  if (x.empty())
    return expected("its other operand is not x * Reciprocal(...) or Div(x, ...)");
  const onnx::NodeProto *sqrt = def(skipCasts(denominator), "Sqrt");
  const onnx::NodeProto *add = sqrt ? def(skipCasts(sqrt->input(0)), "Add") : nullptr;
  if (!add)
    return expected("the denominator is not Sqrt(Add(...))");
  const onnx::NodeProto *mean = nullptr;
  std::optional<double> eps;
  for (int i = 0; i < 2 && !mean; ++i)
    if ((mean = def(skipCasts(add->input(i)), "ReduceMean")))
      eps = scalar(add->input(1 - i));
  if (!mean || !eps)
    return expected("the Sqrt's operand is not ReduceMean(...) + a constant epsilon");
  // The reduction must be over the last axis only, keeping it (to broadcast back).
  std::optional<SmallVector<int64_t>> axes;
  if (mean->input_size() > 1)
    axes = ints(mean->input(1));
  else if (const onnx::AttributeProto *a = attr(*mean, "axes"))
    axes = SmallVector<int64_t>(a->ints().begin(), a->ints().end());
  if (!axes || axes->size() != 1 || intAttr(*mean, "keepdims", 1) != 1)
    return expected("the ReduceMean is not over one axis with keepdims");
  const onnx::NodeProto *square = def(skipCasts(mean->input(0)), "Pow");
  std::string squared;
  if (square) {
    std::optional<double> exponent = scalar(square->input(1));
    if (!exponent || *exponent != 2.0)
      return expected("the Pow's exponent is not 2");
    squared = square->input(0);
  } else if ((square = def(skipCasts(mean->input(0)), "Mul")) &&
             skipCasts(square->input(0)) == skipCasts(square->input(1))) {
    squared = square->input(0);
  } else {
    return expected("the mean is not of Pow(x, 2) or x * x");
  }
  if (skipCasts(squared) != skipCasts(x))
    return expected("the squared tensor is not the normalized one");

  Value in = input(skipCasts(x));
  Value gamma = in ? weight(mul.input(gammaOperand), 1, mul) : Value();
  if (!gamma)
    return false;
  auto it = cast<RankedTensorType>(in.getType());
  auto gt = cast<WeightType>(gamma.getType());
  if (it.getRank() == 0 || gt.getShape()[0] != it.getShape().back() ||
      ((*axes)[0] != -1 && (*axes)[0] != it.getRank() - 1))
    return expected("the weight or the reduced axis is not the last (hidden) dimension");
  // The result has the gamma's element type (torch normalizes in fp32 and casts back
  // before the weight); llm.rms_norm keeps its input's, so cast the input when they differ.
  if (it.getElementType() != gt.getElementType())
    in = CastOp::create(b, loc, RankedTensorType::get(it.getShape(), gt.getElementType()), in);
  values[mul.output(0)] = RMSNormOp::create(b, loc, in, gamma, b.getF32FloatAttr(float(*eps)));
  return true;
}

//===----------------------------------------------------------------------===//
// Heads, rotary embeddings, the KV cache
//===----------------------------------------------------------------------===//

Value Converter::splitHeads(const std::string &name4, int64_t &n, int64_t &d, std::string *x3) {
  const onnx::NodeProto *transpose = def(skipCasts(name4), "Transpose");
  const onnx::AttributeProto *perm = transpose ? attr(*transpose, "perm") : nullptr;
  if (!perm || perm->ints_size() != 4 || perm->ints(0) != 0 || perm->ints(1) != 2 ||
      perm->ints(2) != 1 || perm->ints(3) != 3)
    return mismatch("'" + name4 + "' is not a Transpose [0, 2, 1, 3] splitting heads"), Value();
  const onnx::NodeProto *reshape = def(transpose->input(0), "Reshape");
  if (!reshape)
    return mismatch("heads of '" + name4 + "' are not split by a Reshape"), Value();
  SmallVector<int64_t> tail = trailingInts(reshape->input(1), 2);
  Value x = input(reshape->input(0));
  if (!x)
    return {};
  auto xt = cast<RankedTensorType>(x.getType());
  int64_t width = xt.getShape().back();
  if (xt.getRank() != 3 || ShapedType::isDynamic(width))
    return mismatch("the projection split into heads at '" + name4 +
                    "' is not [batch, seq, static width]"),
           Value();
  n = tail[0] > 0 ? tail[0] : 0;
  d = tail[1] > 0 ? tail[1] : 0;
  if (!n && d && width % d == 0)
    n = width / d;
  if (!d && n && width % n == 0)
    d = width / n;
  int64_t product;
  if (!n || !d || __builtin_mul_overflow(n, d, &product) || product != width)
    return mismatch("cannot read the head count and size of the Reshape before '" + name4 +
                    "' (width " + std::to_string(width) + ")"),
           Value();
  if (x3)
    *x3 = reshape->input(0);
  return ReshapeOp::create(b, loc,
                           RankedTensorType::get({xt.getDimSize(0), xt.getDimSize(1), n, d},
                                                 xt.getElementType()),
                           x);
}

Value Converter::rotatedHeads(const std::string &name4, int64_t &n, int64_t &d) {
  const onnx::NodeProto *add = def(skipCasts(name4), "Add");
  if (!add)
    return splitHeads(name4, n, d);
  // Add(Mul(x, cos), Mul(rotate_half(x), sin)), each op in either operand order.
  for (int i = 0; i < 2; ++i) {
    const onnx::NodeProto *direct = def(add->input(i), "Mul");
    const onnx::NodeProto *rotated = def(add->input(1 - i), "Mul");
    if (!direct || !rotated)
      continue;
    for (int a = 0; a < 2; ++a)
      for (int r = 0; r < 2; ++r) {
        const std::string &x = direct->input(a);
        int64_t half;
        if (!matchRotateHalf(rotated->input(r), x, half))
          continue;
        Value heads = splitHeads(x, n, d);
        if (!heads)
          return {};
        // Compared without 2 * half: the slice bound it comes from may be INT64_MAX
        // (found by the converter fuzzer).
        if (d % 2 != 0 || half != d / 2)
          return fail(where(*add) + ": rotary embedding: rotate_half splits the head at " +
                      std::to_string(half) + ", not at half of its " + std::to_string(d) +
                      " dimensions (partial rotary is not supported)"),
                 Value();
        double theta;
        Value pos;
        if (!rotaryAngles(direct->input(1 - a), rotated->input(1 - r), d, theta, pos)) {
          if (error.empty())
            fail(where(*add) + ": rotary embedding: " + mismatchReason);
          return {};
        }
        // The structure says "rotary embedding"; the values must say "of these positions".
        if (!checkRotaryFactors(*add, direct->input(1 - a), rotated->input(1 - r), theta, d,
                                n))
          return {};
        return RotaryOp::create(b, loc, heads.getType(), heads, pos, b.getF32FloatAttr(theta),
                                b.getI64IntegerAttr(d), b.getBoolAttr(false));
      }
  }
  return mismatch(where(*add) + " is neither a rotary embedding x*cos + rotate_half(x)*sin "
                                "nor a head split"),
         Value();
}

bool Converter::matchRotateHalf(const std::string &name, const std::string &x, int64_t &half) {
  const onnx::NodeProto *concat = def(skipCasts(name), "Concat");
  if (!concat || concat->input_size() != 2)
    return false;
  int64_t axis = intAttr(*concat, "axis", 0);
  if (axis != -1 && axis != 3)
    return false;
  const onnx::NodeProto *neg = def(concat->input(0), "Neg");
  const onnx::NodeProto *upper = neg ? def(neg->input(0), "Slice") : nullptr;
  const onnx::NodeProto *lower = def(concat->input(1), "Slice");
  if (!upper || !lower || skipCasts(upper->input(0)) != skipCasts(x) ||
      skipCasts(lower->input(0)) != skipCasts(x))
    return false;
  // Slice(data, starts, ends, axes, steps), all constant, one axis (the last), step 1.
  auto bounds = [&](const onnx::NodeProto *slice, int64_t &start, int64_t &end) {
    if (slice->input_size() < 4)
      return false;
    auto s = ints(slice->input(1)), e = ints(slice->input(2)), ax = ints(slice->input(3));
    if (!s || !e || !ax || s->size() != 1 || e->size() != 1 || ax->size() != 1 ||
        ((*ax)[0] != -1 && (*ax)[0] != 3))
      return false;
    if (slice->input_size() > 4 && !slice->input(4).empty()) {
      auto st = ints(slice->input(4));
      if (!st || st->size() != 1 || (*st)[0] != 1)
        return false;
    }
    start = (*s)[0];
    end = (*e)[0];
    return true;
  };
  int64_t us = 0, ue = 0, ls = 0, le = 0;
  if (!bounds(upper, us, ue) || !bounds(lower, ls, le))
    return false;
  if (ls != 0 || le != us || us <= 0 || (ue != INT64_MAX && (us > INT64_MAX / 2 || ue != 2 * us)))
    return false;
  half = us;
  return true;
}

bool Converter::rotaryAngles(const std::string &cosName, const std::string &sinName,
                             int64_t rotaryDim, double &theta, Value &positions) {
  // cos/sin reach the product through Unsqueeze (the head axis) and Casts.
  auto strip = [&](std::string name) {
    for (int depth = 0; depth < 8; ++depth) {
      name = skipCasts(name);
      const onnx::NodeProto *u = def(name, "Unsqueeze");
      if (!u)
        break;
      name = u->input(0);
    }
    return name;
  };
  const onnx::NodeProto *cosNode = def(strip(cosName), "Cos");
  const onnx::NodeProto *sinNode = def(strip(sinName), "Sin");
  if (!cosNode || !sinNode)
    return mismatch("the factors are not Cos and Sin of computed angles (tabulated cos/sin "
                    "caches are not supported in decomposed graphs)");
  if (skipCasts(cosNode->input(0)) != skipCasts(sinNode->input(0)))
    return mismatch("Cos and Sin are not of the same angles");
  // angles = Concat(freqs, freqs) along the last axis; freqs = positions * inv_freq.
  const onnx::NodeProto *concat = def(skipCasts(cosNode->input(0)), "Concat");
  if (!concat || concat->input_size() != 2 || concat->input(0) != concat->input(1))
    return mismatch("the angles are not Concat(freqs, freqs)");
  const onnx::NodeProto *product = def(skipCasts(concat->input(0)), "Mul");
  if (!product)
    return mismatch("the frequencies are not positions * inv_freq");
  const OnnxTensor *inv = nullptr;
  std::string posName;
  for (int i = 0; i < 2 && !inv; ++i)
    if (const OnnxTensor *t = constant(skipCasts(product->input(i)));
        t && t->dims.size() == 1 && (t->dataType == int32_t(OnnxDType::Float) ||
                                     t->dataType == int32_t(OnnxDType::Float16))) {
      inv = t;
      posName = product->input(1 - i);
    }
  if (!inv || inv->dims[0] * 2 != rotaryDim || inv->dims[0] < 2)
    return mismatch("the inverse frequencies are not a constant vector of half the head size");
  // inv_freq[i] = theta^(-i / half): theta from the last entry (the least amplified error),
  // rounded to two significant digits when that close, then every entry checked.
  int64_t half = inv->dims[0];
  // NaN or infinity would survive the fit below (NaN compares false).
  for (int64_t i = 0; i < half; ++i)
    if (!std::isfinite(floatAt(*inv, i)))
      return mismatch("the inverse frequencies '" + inv->name + "' hold " +
                      (std::isnan(floatAt(*inv, i)) ? "NaN" : "an infinity") + " at index " +
                      std::to_string(i));
  double last = floatAt(*inv, half - 1);
  if (!(last > 0) || !(last < 1))
    return mismatch("the inverse frequencies are not decreasing powers of a base");
  theta = std::pow(last, -double(half) / double(half - 1));
  if (!std::isfinite(theta))
    return mismatch("the inverse frequencies are not decreasing powers of a base");
  double magnitude = std::pow(10.0, std::floor(std::log10(theta)) - 1);
  double round2 = std::round(theta / magnitude) * magnitude;
  if (std::abs(round2 - theta) < 2e-3 * theta)
    theta = round2;
  // fp16-level tolerance even for fp32 tables: fp16 exports keep fp16-rounded frequencies
  // in fp32 tensors. Scaled schemes (linear, Llama 3) differ by far more.
  double tolerance = 1e-3;
  for (int64_t i = 0; i < half; ++i) {
    double expected = std::pow(theta, -double(i) / double(half));
    if (!(std::abs(floatAt(*inv, i) - expected) <= tolerance * expected)) // NaN fails too
      return mismatch("the inverse frequencies are not those of a plain rotary base " +
                      std::to_string(theta) + " (scaled rotary embeddings are not supported)");
  }
  // Positions: a graph input seen through Cast/Unsqueeze, else computed in the graph from
  // the sequence length (arange), which llm.rotary takes as an explicit input.
  std::string source = strip(posName);
  if (!producer(source) && !model.initializer(source) && values.count(source)) {
    positions = values.lookup(source);
    auto pt = dyn_cast<RankedTensorType>(positions.getType());
    if (!pt || pt.getRank() != 2 || !pt.getElementType().isInteger(64))
      return mismatch("the rotary positions '" + source + "' are not [batch, seq] int64");
    return true;
  }
  positions = this->positions();
  return true;
}

void Converter::stripCache(const std::string &name4, CacheChain &chain) {
  std::string name = skipCasts(name4);
  // repeat_kv: Reshape(Expand(Unsqueeze(x, axes=[2]), shape), [B, kvH * n_rep, T, d]).
  if (const onnx::NodeProto *reshape = def(name, "Reshape"))
    if (const onnx::NodeProto *expand = def(reshape->input(0), "Expand"))
      if (const onnx::NodeProto *unsq = def(expand->input(0), "Unsqueeze")) {
        std::optional<SmallVector<int64_t>> axes =
            unsq->input_size() > 1 ? ints(unsq->input(1)) : std::nullopt;
        if (axes && axes->size() == 1 && (*axes)[0] == 2)
          name = skipCasts(unsq->input(0));
      }
  chain.fresh = name;
  if (const onnx::NodeProto *concat = def(name, "Concat");
      concat && isCacheConcat(name) &&
      (intAttr(*concat, "axis", 0) == 2 || intAttr(*concat, "axis", 0) == -2)) {
    chain.past = concat->input(0);
    chain.fresh = concat->input(1);
    chain.concat = concat;
  }
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

bool Converter::convertReshape(const onnx::NodeProto &node) {
  mismatchReason.clear();
  if (raiseAttention(node))
    return true;
  if (error.empty())
    fail(where(node) + ": a Reshape is only supported as the head merge after attention "
                       "(Transpose [0, 2, 1, 3] of MatMul(Softmax(Q K^T), V)); " +
         mismatchReason);
  return false;
}

bool Converter::raiseAttention(const onnx::NodeProto &reshape) {
  const onnx::NodeProto *merge = def(skipCasts(reshape.input(0)), "Transpose");
  const onnx::AttributeProto *perm = merge ? attr(*merge, "perm") : nullptr;
  if (!perm || perm->ints_size() != 4 || perm->ints(1) != 2 || perm->ints(2) != 1)
    return mismatch("its input is not a Transpose [0, 2, 1, 3]");
  const onnx::NodeProto *pv = def(skipCasts(merge->input(0)), "MatMul");
  if (!pv)
    return mismatch("the transposed tensor is not a MatMul of probabilities and values");
  std::string probs = skipCasts(pv->input(0));
  // sdpa's decomposition zeroes NaN rows: Where(IsNaN(p), 0, p).
  if (const onnx::NodeProto *w = def(probs, "Where"))
    if (const onnx::NodeProto *isnan = def(w->input(0), "IsNaN");
        isnan && skipCasts(isnan->input(0)) == skipCasts(w->input(2)) && scalar(w->input(1)) == 0.0)
      probs = skipCasts(w->input(2));
  const onnx::NodeProto *softmax = def(probs, "Softmax");
  if (!softmax)
    return mismatch("the probabilities are not a Softmax");
  int64_t axis = intAttr(*softmax, "axis", -1);
  if (axis != -1 && axis != 3)
    return mismatch("the Softmax is not over the last axis");

  // Scores: strip the additive mask and scalar scales down to MatMul(Q, K^T).
  double scale = 1.0;
  bool masked = false;
  const onnx::NodeProto *maskAdd = nullptr;
  std::string mask;
  std::function<bool(const std::string &)> reachesScores = [&](const std::string &name) {
    std::string n = skipCasts(name);
    for (int depth = 0; depth < 8; ++depth) {
      const onnx::NodeProto *node = producer(n);
      if (!node || !isStandard(*node))
        return false;
      if (node->op_type() == "MatMul")
        return !constant(node->input(0)) && !constant(node->input(1));
      if ((node->op_type() == "Mul" || node->op_type() == "Div") && scalar(node->input(1)))
        n = skipCasts(node->input(0));
      else if (node->op_type() == "Mul" && scalar(node->input(0)))
        n = skipCasts(node->input(1));
      else
        return false;
    }
    return false;
  };
  std::string scores = skipCasts(softmax->input(0));
  const onnx::NodeProto *qk = nullptr;
  for (int depth = 0; depth < 8 && !qk; ++depth) {
    const onnx::NodeProto *node = producer(scores);
    if (!node || !isStandard(*node))
      break;
    const std::string &op = node->op_type();
    if (op == "MatMul") {
      qk = node;
    } else if (op == "Add" && !masked) {
      int s = reachesScores(node->input(0)) ? 0 : reachesScores(node->input(1)) ? 1 : -1;
      if (s < 0)
        break;
      masked = true;
      maskAdd = node;
      mask = node->input(1 - s);
      scores = skipCasts(node->input(s));
    } else if (op == "Mul" || op == "Div") {
      int c = scalar(node->input(1)) ? 1 : op == "Mul" && scalar(node->input(0)) ? 0 : -1;
      if (c < 0)
        break;
      double v = *scalar(node->input(c));
      if (v == 0)
        break;
      scale = op == "Mul" ? scale * v : scale / v;
      scores = skipCasts(node->input(1 - c));
    } else {
      break;
    }
  }
  if (!qk)
    return mismatch("the Softmax input is not (Q K^T) * scale + mask");
  if (!masked)
    return fail(where(*softmax) + ": attention without an additive mask is not causal; only "
                                  "causal decoder attention is supported"),
           false;
  // Q and K^T, each possibly scaled (sdpa scales both by sqrt(scale)).
  auto stripScale = [&](std::string name) {
    for (int depth = 0; depth < 4; ++depth) {
      name = skipCasts(name);
      const onnx::NodeProto *node = producer(name);
      if (!node || !isStandard(*node) || (node->op_type() != "Mul" && node->op_type() != "Div"))
        break;
      int c = scalar(node->input(1)) ? 1 : node->op_type() == "Mul" && scalar(node->input(0)) ? 0 : -1;
      if (c < 0 || *scalar(node->input(c)) == 0)
        break;
      double v = *scalar(node->input(c));
      scale = node->op_type() == "Mul" ? scale * v : scale / v;
      name = node->input(1 - c);
    }
    return skipCasts(name);
  };
  std::string q4 = stripScale(qk->input(0)), kT = stripScale(qk->input(1));
  // K^T: Transpose [0, 1, 3, 2], or torch's Reshape -> Transpose [0, 2, 1] -> Reshape of
  // the 4-D keys (swapping the last two axes of a flattened batch).
  std::string k4;
  if (const onnx::NodeProto *t = def(kT, "Transpose")) {
    const onnx::AttributeProto *p = attr(*t, "perm");
    if (p && p->ints_size() == 4 && p->ints(0) == 0 && p->ints(1) == 1 && p->ints(2) == 3 &&
        p->ints(3) == 2)
      k4 = t->input(0);
  } else if (const onnx::NodeProto *outer = def(kT, "Reshape")) {
    const onnx::NodeProto *t = def(outer->input(0), "Transpose");
    const onnx::NodeProto *inner = t ? def(t->input(0), "Reshape") : nullptr;
    const onnx::AttributeProto *p = t ? attr(*t, "perm") : nullptr;
    if (inner && p && p->ints_size() == 3 && p->ints(0) == 0 && p->ints(1) == 2 &&
        p->ints(2) == 1)
      k4 = inner->input(0);
  }
  if (k4.empty())
    return mismatch("the second operand of Q K^T is not a transpose of the last two key axes");

  CacheChain kc, vc;
  stripCache(k4, kc);
  stripCache(pv->input(1), vc);
  if (bool(kc.concat) != bool(vc.concat))
    return mismatch("only one of the keys and values goes through a KV cache");
  int64_t heads, headDim, kvHeads, kd, vHeads, vd;
  Value q = rotatedHeads(q4, heads, headDim);
  Value k = q ? rotatedHeads(kc.fresh, kvHeads, kd) : Value();
  Value v = k ? splitHeads(vc.fresh, vHeads, vd) : Value();
  if (!v)
    return false;
  if (kd != headDim || vd != headDim || vHeads != kvHeads || heads % kvHeads != 0)
    return fail(where(reshape) + ": attention heads disagree (q " + std::to_string(heads) +
                "x" + std::to_string(headDim) + ", k " + std::to_string(kvHeads) + "x" +
                std::to_string(kd) + ", v " + std::to_string(vHeads) + "x" +
                std::to_string(vd) + ")"),
           false;
  int64_t merged = trailingInts(reshape.input(1), 1)[0];
  if (merged != kUnknown && merged != -1 && merged != heads * headDim)
    return fail(where(reshape) + ": the head merge gives width " + std::to_string(merged) +
                ", not heads x head size = " + std::to_string(heads * headDim)),
           false;
  // Structure says "scores + mask"; the mask's values must say "causal".
  if (!checkCausalMask(*maskAdd, mask, heads))
    return false;
  SmallVector<Value> past;
  SmallVector<Type> presentTypes;
  auto qt = cast<RankedTensorType>(q.getType());
  Type elem = qt.getElementType();
  if (kc.concat) {
    Value pk = input(kc.past);
    Value pvv = pk ? input(vc.past) : Value();
    if (!pvv)
      return false;
    past = {pk, pvv};
    auto ct = RankedTensorType::get({qt.getDimSize(0), kvHeads, kDyn, headDim}, elem);
    presentTypes = {ct, ct};
  }
  // The default scale is 1/sqrt(d); keep an explicit one only when it differs by more than
  // fp16 rounding of the exported constants.
  double defaultScale = 1.0 / std::sqrt(double(headDim));
  FloatAttr scaleAttr = std::abs(scale - defaultScale) > 1e-3 * defaultScale
                            ? b.getF32FloatAttr(float(scale))
                            : FloatAttr();
  auto attention = AttentionOp::create(b, loc, q.getType(), presentTypes, q, k, v, past,
                                       b.getI64IntegerAttr(heads),
                                       b.getI64IntegerAttr(kvHeads), scaleAttr);
  values[reshape.output(0)] = ReshapeOp::create(
      b, loc, RankedTensorType::get({qt.getDimSize(0), qt.getDimSize(1), heads * headDim}, elem),
      attention.getOutput());
  if (kc.concat) {
    values[kc.concat->output(0)] = attention.getPresent()[0];
    values[vc.concat->output(0)] = attention.getPresent()[1];
  }
  return true;
}
