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
    // A Concat of one input is that input (TorchScript writes one around the past keys).
    bool oneInputConcat = node && node->op_type() == "Concat" && node->input_size() == 1;
    if (!node || !isStandard(*node) || node->input_size() < 1 ||
        (node->op_type() != "Cast" && node->op_type() != "Identity" && !oneInputConcat))
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
  std::string first = skipCasts(concat->input(0));
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
  if (l.getType() != r.getType()) {
    auto print = [](Type t) {
      std::string s;
      llvm::raw_string_ostream os(s);
      t.print(os);
      return s;
    };
    auto lt = cast<ShapedType>(l.getType()), rt = cast<ShapedType>(r.getType());
    // Same shapes, different element types: ONNX's Add has one type, so the export keeps
    // parts of the model in another precision than the imported ops compute in (optimum's
    // CPU fp16 export keeps o_proj/down_proj and the residual stream in fp32).
    if (lt.getShape() == rt.getShape())
      return fail(where(node) + ": adds a " + print(lt.getElementType()) + " and a " +
                  print(rt.getElementType()) + " activation: mixed-precision exports (parts "
                  "of the model in another float type) are not supported"),
             false;
    return fail(where(node) + ": only additions of equally shaped activations (residual "
                              "connections) are supported outside recognised patterns; "
                              "this adds " + print(lt) + " and " + print(rt)),
           false;
  }
  values[node.output(0)] = AddOp::create(b, loc, l, r);
  return true;
}

bool Converter::splitNormalization(const std::string &normalized, std::string &x,
                                   std::string &variance) {
  // x and the variance (mean + eps) it is divided by the square root of; the exporters
  // spell 1/sqrt(v) as Reciprocal(Sqrt(v)) (torch.onnx), Div(1, Sqrt(v)) (optimum's
  // TorchScript export of torch.rsqrt) or Pow(v, -0.5), and x/sqrt(v) as Div(x, Sqrt(v)).
  auto sqrtOperand = [&](const std::string &name) -> std::string {
    const onnx::NodeProto *sqrt = def(skipCasts(name), "Sqrt");
    return sqrt ? sqrt->input(0) : std::string();
  };
  auto inverseSqrtOperand = [&](const std::string &name) -> std::string {
    std::string value = skipCasts(name);
    if (const onnx::NodeProto *r = def(value, "Reciprocal"))
      return sqrtOperand(r->input(0));
    if (const onnx::NodeProto *d = def(value, "Div")) {
      std::optional<double> one = scalar(d->input(0));
      return one && *one == 1.0 ? sqrtOperand(d->input(1)) : std::string();
    }
    if (const onnx::NodeProto *p = def(value, "Pow")) {
      std::optional<double> exponent = scalar(p->input(1));
      return exponent && *exponent == -0.5 ? p->input(0) : std::string();
    }
    return {};
  };
  if (const onnx::NodeProto *inner = def(normalized, "Mul")) {
    for (int i = 0; i < 2; ++i)
      if (std::string v = inverseSqrtOperand(inner->input(i)); !v.empty()) {
        x = inner->input(1 - i);
        variance = v;
        return true;
      }
  } else if (const onnx::NodeProto *div = def(normalized, "Div")) {
    if (std::string v = sqrtOperand(div->input(1)); !v.empty()) {
      x = div->input(0);
      variance = v;
      return true;
    }
  }
  return false;
}

std::string Converter::squaredOperand(const std::string &name) {
  std::string value = skipCasts(name);
  if (const onnx::NodeProto *pow = def(value, "Pow")) {
    std::optional<double> exponent = scalar(pow->input(1));
    return exponent && *exponent == 2.0 ? pow->input(0) : std::string();
  }
  const onnx::NodeProto *mul = def(value, "Mul");
  return mul && skipCasts(mul->input(0)) == skipCasts(mul->input(1)) ? mul->input(0)
                                                                      : std::string();
}

bool Converter::raiseRMSNorm(const onnx::NodeProto &mul, int gammaOperand) {
  // mul = gamma * Cast?(x * rsqrt(mean(x^2) + eps)) in either operand order, and x may be
  // a Cast of the input.
  std::string normalized = skipCasts(mul.input(1 - gammaOperand));
  auto expected = [&](const std::string &what) {
    return fail(where(mul) + ": a Mul by a constant vector is read as RMSNorm's weight, but " +
                what),
           false;
  };
  std::string x, variance;
  splitNormalization(normalized, x, variance);
  if (x.empty())
    return expected("its other operand is not x * 1/sqrt(v) (Reciprocal(Sqrt(v)), "
                    "Div(1, Sqrt(v)) or Pow(v, -0.5)) or Div(x, Sqrt(v))");
  const onnx::NodeProto *add = def(skipCasts(variance), "Add");
  if (!add)
    return expected("the square root is not of an Add (the mean of squares + epsilon)");
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
  std::string squared = squaredOperand(mean->input(0));
  if (squared.empty())
    return expected("the mean is not of Pow(x, 2) or x * x");
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
