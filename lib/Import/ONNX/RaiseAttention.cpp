//===- RaiseAttention.cpp - Raise torch.onnx attention to llm ops ---------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The attention half of RaiseDecomposed.cpp's patterns (its header says how they are
// matched): heads split by Reshape/Transpose, rotate-half rotary embeddings with their
// angles recovered and checked from the inverse frequencies, the KV-cache Concat, and the
// softmax attention between them, raised to llm.rotary and llm.attention.
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
        if (!isRotateHalfOf(rotated->input(r), x))
          continue;
        Value heads = splitHeads(x, n, d);
        if (!heads)
          return {};
        int64_t half;
        if (!rotateHalfSplit(rotated->input(r), x, n, d, half))
          return fail(where(*add) + ": rotary embedding: " + mismatchReason), Value();
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

bool Converter::isRotateHalfOf(const std::string &name, const std::string &x) {
  const onnx::NodeProto *concat = def(skipCasts(name), "Concat");
  if (!concat || concat->input_size() != 2)
    return false;
  int64_t axis = intAttr(*concat, "axis", 0);
  if (axis != -1 && axis != 3)
    return false;
  const onnx::NodeProto *neg = def(concat->input(0), "Neg");
  const onnx::NodeProto *upper = neg ? def(neg->input(0), "Slice") : nullptr;
  const onnx::NodeProto *lower = def(concat->input(1), "Slice");
  return upper && lower && upper->input_size() >= 4 && lower->input_size() >= 4 &&
         skipCasts(upper->input(0)) == skipCasts(x) && skipCasts(lower->input(0)) == skipCasts(x);
}

std::optional<SmallVector<int64_t>> Converter::headShapeInts(const std::string &name,
                                                             const std::string &x,
                                                             int64_t heads, int64_t headDim) {
  if (std::optional<SmallVector<int64_t>> fixed = ints(name))
    return fixed;
  // TorchScript exports slice at x.shape[-1] // 2, computed in the graph: evaluated (the
  // evaluator finds x's shape without its values) at every evaluation size, which the
  // bounds must not depend on; they must also agree with x's shape as imported.
  std::optional<SmallVector<int64_t>> result;
  for (const std::unique_ptr<GraphEvaluator> &eval : evaluatorsFor()) {
    EvalTensor t;
    std::string why;
    std::optional<SmallVector<int64_t, 4>> shape = eval->shapeOf(x, why);
    if (!shape || *shape != ArrayRef<int64_t>{1, heads, eval->config().seq, headDim} ||
        !eval->eval(name, t, why) || t.isFloat() || t.shape.size() > 1)
      return std::nullopt;
    SmallVector<int64_t> v;
    for (double e : t.data)
      v.push_back(e >= 9.2e18 ? INT64_MAX : e <= -9.2e18 ? INT64_MIN : int64_t(e));
    if (result && *result != v)
      return std::nullopt;
    result = v;
  }
  return result;
}

bool Converter::rotateHalfSplit(const std::string &name, const std::string &x, int64_t heads,
                                int64_t headDim, int64_t &half) {
  const onnx::NodeProto *concat = def(skipCasts(name), "Concat");
  const onnx::NodeProto *upper = def(def(concat->input(0), "Neg")->input(0), "Slice");
  const onnx::NodeProto *lower = def(concat->input(1), "Slice");
  // Slice(data, starts, ends, axes, steps): one axis (the last), step 1.
  auto bounds = [&](const onnx::NodeProto *slice, int64_t &start, int64_t &end) {
    auto value = [&](int i) { return headShapeInts(slice->input(i), x, heads, headDim); };
    auto s = value(1), e = value(2), ax = value(3);
    if (!s || !e || !ax || s->size() != 1 || e->size() != 1 || ax->size() != 1 ||
        ((*ax)[0] != -1 && (*ax)[0] != 3))
      return false;
    if (slice->input_size() > 4 && !slice->input(4).empty()) {
      auto st = value(4);
      if (!st || st->size() != 1 || (*st)[0] != 1)
        return false;
    }
    start = (*s)[0];
    end = (*e)[0];
    return true;
  };
  int64_t us = 0, ue = 0, ls = 0, le = 0;
  if (!bounds(upper, us, ue) || !bounds(lower, ls, le))
    return mismatch("rotate_half's slices are not along the last axis, with step 1, at "
                    "constant bounds or bounds computed from the head's shape");
  if (ls != 0 || le != us || us <= 0 ||
      (ue != INT64_MAX && ue != headDim && (us > INT64_MAX / 2 || ue != 2 * us)))
    return mismatch("rotate_half's slices are not [:h] and [h:] of one split point h");
  half = us;
  return true;
}

bool Converter::frequencyFactors(const std::string &freqs, const OnnxTensor *&inv,
                                 std::string &posName) {
  // inv_freq: a constant float tensor with one non-unit axis, possibly broadcast by an
  // Expand (to the batch) and cast.
  auto vector = [&](std::string name, int64_t axisFromEnd) -> const OnnxTensor * {
    name = skipCasts(name);
    if (const onnx::NodeProto *e = def(name, "Expand"))
      name = skipCasts(e->input(0));
    const OnnxTensor *t = constant(name);
    if (!t || t->dims.empty() ||
        (t->dataType != int32_t(OnnxDType::Float) && t->dataType != int32_t(OnnxDType::Float16)))
      return nullptr;
    int64_t rank = t->dims.size();
    for (int64_t i = 0; i < rank; ++i)
      if (i != rank - 1 - axisFromEnd && t->dims[i] != 1)
        return nullptr;
    return rank > axisFromEnd ? t : nullptr;
  };
  if (const onnx::NodeProto *product = def(freqs, "Mul")) {
    for (int i = 0; i < 2 && !inv; ++i)
      if ((inv = vector(product->input(i), 0)))
        posName = product->input(1 - i);
  } else if (const onnx::NodeProto *t = def(freqs, "Transpose")) {
    // [batch, half, seq] -> [batch, seq, half]
    const onnx::AttributeProto *perm = attr(*t, "perm");
    bool swapsLastTwo = perm && perm->ints_size() == 3 && perm->ints(0) == 0 &&
                        perm->ints(1) == 2 && perm->ints(2) == 1;
    const onnx::NodeProto *mm = def(skipCasts(t->input(0)), "MatMul");
    if (swapsLastTwo && mm && (inv = vector(mm->input(0), 1)))
      posName = mm->input(1);
  } else if (const onnx::NodeProto *mm = def(freqs, "MatMul")) {
    if ((inv = vector(mm->input(1), 0)))
      posName = mm->input(0);
  }
  if (!inv)
    return mismatch("the frequencies are not positions * inv_freq, inv_freq @ positions "
                    "(transposed) or positions @ inv_freq with inv_freq a constant vector");
  return true;
}

bool Converter::rotaryAngles(const std::string &cosName, const std::string &sinName,
                             int64_t rotaryDim, double &theta, Value &positions) {
  // cos/sin reach the product through Unsqueeze (the head axis), Casts and (transformers
  // 4.4x and later) a Mul by attention_scaling, which is 1 for the plain rotary embedding.
  auto strip = [&](std::string name) {
    for (int depth = 0; depth < 8; ++depth) {
      name = skipCasts(name);
      if (const onnx::NodeProto *u = def(name, "Unsqueeze")) {
        name = u->input(0);
        continue;
      }
      const onnx::NodeProto *m = def(name, "Mul");
      if (!m)
        break;
      std::optional<double> one = scalar(m->input(1));
      std::optional<double> first = one ? one : scalar(m->input(0));
      if (!first || *first != 1.0)
        break;
      name = m->input(one ? 0 : 1);
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
  // angles = Concat(freqs, freqs) along the last axis; freqs = positions * inv_freq, or
  // (transformers 4.4x-4.5x) Transpose(inv_freq[:, None] @ positions[None, :]) or
  // positions[:, None] @ inv_freq[None, :]. The structure only locates inv_freq and the
  // positions; checkRotaryFactors then evaluates the angles themselves.
  const onnx::NodeProto *concat = def(skipCasts(cosNode->input(0)), "Concat");
  if (!concat || concat->input_size() != 2 || concat->input(0) != concat->input(1))
    return mismatch("the angles are not Concat(freqs, freqs)");
  const OnnxTensor *inv = nullptr;
  std::string posName;
  if (!frequencyFactors(skipCasts(concat->input(0)), inv, posName))
    return false;
  int64_t half = inv->dims.empty() ? 1 : llvm::product_of(inv->dims);
  if (half * 2 != rotaryDim || half < 2)
    return mismatch("the inverse frequencies are not a constant vector of half the head size");
  // inv_freq[i] = theta^(-i / half): theta from the last entry (the least amplified error),
  // rounded to two significant digits when that close, then every entry checked.
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
    positionsInput = source;
    for (const std::unique_ptr<GraphEvaluator> &eval : evaluatorsFor())
      eval->setPositionsInput(source);
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
    chain.past = skipCasts(concat->input(0));
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

bool Converter::matchScores(const onnx::NodeProto &softmax, ScoresMatch &m) {
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
  std::string scores = skipCasts(softmax.input(0));
  for (int depth = 0; depth < 8 && !m.qk; ++depth) {
    const onnx::NodeProto *node = producer(scores);
    if (!node || !isStandard(*node))
      break;
    const std::string &op = node->op_type();
    if (op == "MatMul") {
      m.qk = node;
    } else if (op == "Add" && !m.maskAdd) {
      int s = reachesScores(node->input(0)) ? 0 : reachesScores(node->input(1)) ? 1 : -1;
      if (s < 0)
        break;
      m.maskAdd = node;
      m.mask = node->input(1 - s);
      scores = skipCasts(node->input(s));
    } else if (op == "Mul" || op == "Div") {
      int c = scalar(node->input(1)) ? 1 : op == "Mul" && scalar(node->input(0)) ? 0 : -1;
      if (c < 0)
        break;
      double v = *scalar(node->input(c));
      if (v == 0)
        break;
      m.scale = op == "Mul" ? m.scale * v : m.scale / v;
      scores = skipCasts(node->input(1 - c));
    } else {
      break;
    }
  }
  if (!m.qk)
    return mismatch("the Softmax input is not (Q K^T) * scale + mask");
  if (!m.maskAdd)
    return fail(where(softmax) + ": attention without an additive mask is not causal; only "
                                 "causal decoder attention is supported"),
           false;
  return true;
}

std::string Converter::stripScale(std::string name, double &scale) {
  // Q and K^T may each be scaled (sdpa scales both by sqrt(scale)).
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
}

std::string Converter::transposedKeys(const std::string &kT) {
  if (const onnx::NodeProto *t = def(kT, "Transpose")) {
    const onnx::AttributeProto *p = attr(*t, "perm");
    if (p && p->ints_size() == 4 && p->ints(0) == 0 && p->ints(1) == 1 && p->ints(2) == 3 &&
        p->ints(3) == 2)
      return t->input(0);
  } else if (const onnx::NodeProto *outer = def(kT, "Reshape")) {
    const onnx::NodeProto *t = def(outer->input(0), "Transpose");
    const onnx::NodeProto *inner = t ? def(t->input(0), "Reshape") : nullptr;
    const onnx::AttributeProto *p = t ? attr(*t, "perm") : nullptr;
    if (inner && p && p->ints_size() == 3 && p->ints(0) == 0 && p->ints(1) == 2 &&
        p->ints(2) == 1)
      return inner->input(0);
  }
  return {};
}

bool Converter::isIdentityReshape(const onnx::NodeProto &reshape) {
  if (reshape.input_size() < 2)
    return false;
  for (const std::unique_ptr<GraphEvaluator> &eval : evaluatorsFor()) {
    std::string why;
    auto in = eval->shapeOf(reshape.input(0), why);
    auto out = in ? eval->shapeOf(reshape.output(0), why) : std::nullopt;
    if (!out || *in != *out)
      return false;
  }
  return true;
}

bool Converter::raiseAttention(const onnx::NodeProto &reshape) {
  const onnx::NodeProto *merge = def(skipCasts(reshape.input(0)), "Transpose");
  const onnx::AttributeProto *perm = merge ? attr(*merge, "perm") : nullptr;
  if (!perm || perm->ints_size() != 4 || perm->ints(1) != 2 || perm->ints(2) != 1)
    return mismatch("its input is not a Transpose [0, 2, 1, 3]");
  std::string attended = skipCasts(merge->input(0));
  // TorchScript's sdpa with grouped queries reshapes the result to the shape it has.
  if (const onnx::NodeProto *r = def(attended, "Reshape"); r && isIdentityReshape(*r))
    attended = skipCasts(r->input(0));
  const onnx::NodeProto *pv = def(attended, "MatMul");
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
  ScoresMatch sm;
  if (!matchScores(*softmax, sm))
    return false;
  double scale = sm.scale;
  std::string q4 = stripScale(sm.qk->input(0), scale);
  std::string k4 = transposedKeys(stripScale(sm.qk->input(1), scale));
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
  if (!checkCausalMask(*sm.maskAdd, sm.mask, heads))
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
