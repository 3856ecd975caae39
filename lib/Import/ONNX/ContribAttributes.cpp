//===- ContribAttributes.cpp - The contrib-op attributes the importer honours -===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// ONNX Runtime's contrib ops (and SimplifiedLayerNormalization, which it registers in the
// default domain) have no schemas in libonnx, so nothing else checks their attributes. An
// attribute the converter does not read can still change what the op computes
// (GroupQueryAttention's smooth_softmax, RotaryEmbedding's scale), so every attribute of
// these ops must be in this table, of the right type and with a value the converter
// implements; anything else is refused by name. New ONNX Runtime attributes thus fail
// loudly until someone decides what they mean here.
//
//===----------------------------------------------------------------------===//

#include "Converter.h"

#include <cmath>

using namespace midllama::onnx_import::detail;

namespace {
enum class Kind { Int, Float };
struct Rule {
  const char *name;
  Kind kind;
  /// Whether the value is one the converter implements; `what` says which are.
  bool (*allowed)(double);
  const char *what;
};

bool anyInt(double) { return true; }
bool positive(double v) { return v > 0; }
bool nonNegative(double v) { return v >= 0; }
bool boolean(double v) { return v == 0 || v == 1; }
bool zero(double v) { return v == 0; }
bool one(double v) { return v == 1; }
bool minusOne(double v) { return v == -1; }
bool finiteNonNegative(double v) { return std::isfinite(v) && v >= 0; }
bool finitePositive(double v) { return std::isfinite(v) && v > 0; }
bool accuracyLevel(double v) { return v >= 0 && v <= 4; }

// clang-format off
const Rule kGQA[] = {
    {"num_heads", Kind::Int, positive, "positive"},
    {"kv_num_heads", Kind::Int, positive, "positive"},
    {"scale", Kind::Float, finiteNonNegative, "finite, >= 0 (0: 1/sqrt(head size))"},
    {"local_window_size", Kind::Int, minusOne, "-1 (sliding-window attention is not supported)"},
    {"do_rotary", Kind::Int, boolean, "0 or 1"},
    {"rotary_interleaved", Kind::Int, boolean, "0 or 1"},
    {"softcap", Kind::Float, zero, "0 (attention soft-capping is not supported)"},
    {"smooth_softmax", Kind::Int, zero,
     "0 (smooth softmax, an extra zero logit, is not supported)"},
    {"qk_output", Kind::Int, zero, "0 (exporting the attention scores is not supported)"},
};
const Rule kMHA[] = {
    {"num_heads", Kind::Int, positive, "positive"},
    {"scale", Kind::Float, finiteNonNegative, "finite, >= 0 (0: 1/sqrt(head size))"},
    {"unidirectional", Kind::Int, boolean, "0 or 1"},
    // Only used with a key padding mask, which the converter refuses.
    {"mask_filter_value", Kind::Float, [](double v) { return v < 0; }, "negative"},
};
const Rule kRotary[] = {
    {"interleaved", Kind::Int, boolean, "0 or 1"},
    {"num_heads", Kind::Int, nonNegative, ">= 0"},
    {"rotary_embedding_dim", Kind::Int, nonNegative, ">= 0"},
    {"scale", Kind::Float, one, "1 (scaled positions are not supported)"},
    {"is_packed_batching", Kind::Int, zero, "0 (packed batches are not supported)"},
};
const Rule kSkipNorm[] = {
    {"epsilon", Kind::Float, finitePositive, "finite, > 0"},
};
const Rule kNorm[] = {
    {"epsilon", Kind::Float, finitePositive, "finite, > 0"},
    {"axis", Kind::Int, anyInt, "an axis (checked against the input's rank)"},
    {"stash_type", Kind::Int, one, "1 (fp32 statistics)"},
};
const Rule kMatMulNBits[] = {
    {"K", Kind::Int, positive, "positive"},
    {"N", Kind::Int, positive, "positive"},
    {"bits", Kind::Int, positive, "positive"},
    {"block_size", Kind::Int, positive, "positive"},
    // A speed/precision hint for ONNX Runtime's kernels; the weights mean the same.
    {"accuracy_level", Kind::Int, accuracyLevel, "0 to 4"},
};
const Rule kGatherBlockQuantized[] = {
    {"gather_axis", Kind::Int, zero, "0"},
    {"quantize_axis", Kind::Int, one, "1"},
    {"block_size", Kind::Int, positive, "positive"},
    {"bits", Kind::Int, positive, "positive"},
};
// clang-format on

llvm::ArrayRef<Rule> rulesFor(const onnx::NodeProto &node) {
  llvm::StringRef op = node.op_type(), domain = node.domain();
  bool standard = domain.empty() || domain == "ai.onnx";
  if (domain == "com.microsoft") {
    if (op == "GroupQueryAttention")
      return kGQA;
    if (op == "MultiHeadAttention")
      return kMHA;
    if (op == "RotaryEmbedding")
      return kRotary;
    if (op == "SkipSimplifiedLayerNormalization")
      return kSkipNorm;
    if (op == "MatMulNBits")
      return kMatMulNBits;
    if (op == "GatherBlockQuantized")
      return kGatherBlockQuantized;
  }
  if ((standard || domain == "com.microsoft") && op == "SimplifiedLayerNormalization")
    return kNorm;
  return {};
}
} // namespace

bool Converter::isContribOp(const onnx::NodeProto &node) { return !rulesFor(node).empty(); }

std::string Converter::unsupportedAttribute(const onnx::NodeProto &node) {
  llvm::ArrayRef<Rule> rules = rulesFor(node);
  if (rules.empty())
    return {}; // standard ops: libonnx's checker knows their attributes
  llvm::StringMap<bool> seen;
  for (const onnx::AttributeProto &a : node.attribute()) {
    if (!seen.try_emplace(a.name(), true).second)
      return "attribute '" + a.name() + "' is given twice";
    const Rule *rule = nullptr;
    for (const Rule &r : rules)
      if (a.name() == r.name)
        rule = &r;
    if (!rule)
      return "attribute '" + a.name() + "' is not one midllama implements for this op";
    bool isInt = a.type() == onnx::AttributeProto::INT;
    bool isFloat = a.type() == onnx::AttributeProto::FLOAT;
    if (rule->kind == Kind::Int ? !isInt : !isFloat)
      return "attribute '" + a.name() + "' must be " +
             (rule->kind == Kind::Int ? "an int" : "a float");
    double v = isInt ? double(a.i()) : double(a.f());
    if (!rule->allowed(v))
      return "attribute '" + a.name() + "' = " +
             (isInt ? std::to_string(a.i()) : std::to_string(a.f())) +
             " is not supported (must be " + rule->what + ")";
  }
  return {};
}
