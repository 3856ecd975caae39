//===- Converter.h - The ONNX-to-llm converter's state --------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Private to lib/Import/ONNX. OnnxToLLM.cpp holds the driver (values, weights, the run);
// OpConverters.cpp registers a converter per {domain, op type, opsets}; they live in
// StandardOps.cpp (default domain), ContribOps.cpp and ContribAttention.cpp (ONNX
// Runtime's com.microsoft ops), and RaiseDecomposed.cpp (RMSNorm) and RaiseAttention.cpp
// (heads, rotary, KV cache, softmax attention), which raise the decomposed subgraphs
// torch.onnx writes by pattern.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_LIB_IMPORT_ONNX_CONVERTER_H
#define MIDLLAMA_LIB_IMPORT_ONNX_CONVERTER_H

#include "GraphEval.h"

#include "midllama/Import/ONNX/OnnxModel.h"
#include "runtime/params/ParamFile.h"

#include <onnx/onnx_pb.h>

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringMap.h"

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

namespace midllama::onnx_import::detail {

using namespace mlir;

constexpr int64_t kDyn = ShapedType::kDynamic;

/// Element `i` of a float tensor (fp32 or fp16) as fp32.
float floatAt(const OnnxTensor &t, int64_t i);

class Converter {
public:
  Converter(OnnxModel &model, MLIRContext *context, rt::ParamFileWriter &writer, Location loc)
      : model(model), graph(model.proto().graph()), writer(writer), loc(loc), b(context) {}

  OwningOpRef<ModuleOp> run(StringRef paramFile, std::string &error);
  /// Whether the graph has MatMulNBits nodes and every one asks for accuracy_level 4:
  /// ONNX Runtime then multiplies them with int8 activations, one scale per block_size
  /// columns, and the imported module asks the runtime to do the same.
  bool matMulNBitsAskForInt8() const;

private:
  // Failure reporting: the first error wins.
  Value fail(const std::string &message) {
    if (error.empty())
      error = message;
    return {};
  }
  std::string where(const onnx::NodeProto &node) const {
    std::string domain = node.domain().empty() ? "ai.onnx" : node.domain();
    return "node '" + node.name() + "' (" + domain + "::" + node.op_type() + ") in graph '" +
           graph.name() + "'";
  }

  Type elementType(int32_t onnxType);
  Value input(const std::string &name);
  /// The weight an initializer (or its transpose, or an Identity of it) holds, read by
  /// `user`, which must have `rank` dimensions: converters index its shape, so a weight of
  /// another rank is refused here (the fuzzer found a 1-D embedding table read past its end).
  Value weight(const std::string &name, int64_t rank, const onnx::NodeProto &user);
  Value weightOfAnyRank(const std::string &name);
  Value convertOutput(const onnx::NodeProto &node, int index);
  const onnx::NodeProto *producer(const std::string &name) const {
    auto it = producers.find(name);
    return it == producers.end() ? nullptr : it->second.first;
  }
  const onnx::AttributeProto *attr(const onnx::NodeProto &node, StringRef name) const {
    for (const onnx::AttributeProto &a : node.attribute())
      if (a.name() == name)
        return &a;
    return nullptr;
  }
  int64_t intAttr(const onnx::NodeProto &node, StringRef name, int64_t def) const {
    const onnx::AttributeProto *a = attr(node, name);
    return a ? a->i() : def;
  }
  float floatAttr(const onnx::NodeProto &node, StringRef name, float def) const {
    const onnx::AttributeProto *a = attr(node, name);
    return a ? a->f() : def;
  }

  /// Converts one node with the converter registered for its domain and op type.
  bool convertNode(const onnx::NodeProto &node);
  /// One entry of the converter registry (OpConverters.cpp): an op type of a domain, the
  /// opset versions of that domain it is converted in, and the member converting it.
  struct OpConverter {
    StringRef opType;
    int64_t minOpset, maxOpset;
    bool (Converter::*convert)(const onnx::NodeProto &);
  };
  /// The registry of one domain ("" for the default ONNX domain).
  static ArrayRef<OpConverter> convertersOf(StringRef domain);

  bool convertMatMul(const onnx::NodeProto &node);
  bool convertIdentity(const onnx::NodeProto &node);
  bool convertSimplifiedNorm(const onnx::NodeProto &node) { return convertNorm(node, false); }
  bool convertSkipNorm(const onnx::NodeProto &node) { return convertNorm(node, true); }
  bool convertGather(const onnx::NodeProto &node);
  bool convertNorm(const onnx::NodeProto &node, bool skip);
  bool convertMul(const onnx::NodeProto &node);
  bool convertCast(const onnx::NodeProto &node);
  bool convertGQA(const onnx::NodeProto &node);
  bool convertMatMulNBits(const onnx::NodeProto &node);
  bool convertRotaryEmbedding(const onnx::NodeProto &node);
  bool convertMHA(const onnx::NodeProto &node);
  /// [B, S, heads * headDim] as [B, S, heads, headDim] (an llm.reshape).
  Value headsOf(Value x, int64_t heads, int64_t headDim);
  /// Builds llm.attention for 3-D [B, S, heads * D] q/k/v, with an optional KV cache whose
  /// updated tensors are the node's outputs from `presentOutput` on, or else the values
  /// named in `presentNames`.
  bool emitAttention(const onnx::NodeProto &node, Value q, Value k, Value v, int64_t heads,
                     int64_t kvHeads, int64_t headDim, ValueRange past, float scale,
                     int presentOutput, ArrayRef<std::string> presentNames = {});
  /// llm.attention of [B, S, heads, D] q4/k4/v4 (its present cache typed `presentTypes`,
  /// empty without a past) with its output merged back to [B, S, heads * D] as the node's
  /// first output (`qt`: the 3-D query's type). Returns the present key and value (none
  /// without a past).
  SmallVector<Value, 2> attendAndMerge(const onnx::NodeProto &node, RankedTensorType qt,
                                       Value q4, Value k4, Value v4, ValueRange past,
                                       ArrayRef<Type> presentTypes, int64_t heads,
                                       int64_t kvHeads, int64_t headDim, float scale);
  bool convertGatherBlockQuantized(const onnx::NodeProto &node);
  /// The affine-quantized weight of a MatMulNBits / GatherBlockQuantized node: codes from
  /// `codes` (possibly through a Reshape), scales and optional packed zero points.
  Value quantizedWeight(const onnx::NodeProto &node, const std::string &codes,
                        const std::string &scales, const std::string &zeroPoints, int64_t n,
                        int64_t k, int64_t bits, int64_t blockSize);
  /// The projection weight behind a MatMul or MatMulNBits node and its input activation.
  bool projection(const onnx::NodeProto &node, Value &x, Value &weightOut);
  bool rotaryTheta(const onnx::NodeProto &node, const std::string &cosName,
                   const std::string &sinName, double &theta, int64_t &rotaryDim);
  Value positions();
  /// The [out, in] view of an [in, out] weight, one per weight so tied uses stay one
  /// parameter after materialization.
  Value transposed(Value w);
  DenseMap<Value, Value> transposes;

  // --- Decomposed torch.onnx subgraphs, raised by pattern (RaiseDecomposed.cpp,
  // RaiseAttention.cpp) ---
  bool convertAdd(const onnx::NodeProto &node);
  bool convertReshape(const onnx::NodeProto &node);
  /// Mul(gamma, x * rsqrt(mean(x^2) + eps)) and its variants -> llm.rms_norm.
  /// `normalized` as x * 1/sqrt(variance) or x / sqrt(variance), in any of the exporters'
  /// spellings; false when it is neither.
  bool splitNormalization(const std::string &normalized, std::string &x,
                          std::string &variance);
  /// x when `name` is Pow(x, 2) or x * x (through Casts), else empty.
  std::string squaredOperand(const std::string &name);
  bool raiseRMSNorm(const onnx::NodeProto &mul, int gammaOperand);
  /// Reshape(Transpose(MatMul(Softmax(Q K^T * scale + mask), V))) -> llm.attention.
  bool raiseAttention(const onnx::NodeProto &reshape);
  /// The parts of attention's scores: Softmax input = (Q K^T) * scale + mask.
  struct ScoresMatch {
    const onnx::NodeProto *qk = nullptr;      // MatMul(Q, K^T)
    const onnx::NodeProto *maskAdd = nullptr; // the Add of the mask (null: none)
    std::string mask;
    double scale = 1.0; // every scalar factor on the scores, Q and K^T together
  };
  /// Strips the additive mask and scalar scales from the Softmax input down to Q K^T.
  bool matchScores(const onnx::NodeProto &softmax, ScoresMatch &m);
  /// `name` with scalar Mul/Div factors stripped, each folded into `scale`.
  std::string stripScale(std::string name, double &scale);
  /// The 4-D keys K whose last two axes `kT` swaps: Transpose [0, 1, 3, 2], or torch's
  /// Reshape -> Transpose [0, 2, 1] -> Reshape of a flattened batch. Empty if neither.
  std::string transposedKeys(const std::string &kT);
  /// [B, S, n, d] llm value of a [B, n, S, d] ONNX tensor made by splitting a projection
  /// into heads (Reshape + Transpose [0, 2, 1, 3]); `x3` names the projection.
  Value splitHeads(const std::string &name4, int64_t &n, int64_t &d, std::string *x3 = nullptr);
  /// The same through an optional rotate-half rotary embedding (x*cos + rotate_half(x)*sin).
  Value rotatedHeads(const std::string &name4, int64_t &n, int64_t &d);
  /// Whether `name` has the structure of rotate_half(x) = Concat(-x[..., h:], x[..., :h])
  /// on the last axis (the slice bounds are checked by rotateHalfSplit).
  bool isRotateHalfOf(const std::string &name, const std::string &x);
  /// The split point h of rotate_half `name` of heads `x` ([B, heads, S, headDim]); a
  /// mismatch when its slices are not [:h] and [h:] of the last axis.
  bool rotateHalfSplit(const std::string &name, const std::string &x, int64_t heads,
                       int64_t headDim, int64_t &half);
  /// An integer vector that is constant or computed from the shape of heads `x` only.
  std::optional<SmallVector<int64_t>> headShapeInts(const std::string &name,
                                                    const std::string &x, int64_t heads,
                                                    int64_t headDim);
  /// Whether `reshape` gives its input's own shape at every evaluation size.
  bool isIdentityReshape(const onnx::NodeProto &reshape);
  /// Locates the constant inverse frequencies and the positions' value in the rotary
  /// frequencies `freqs` (see rotaryAngles); a mismatch when it is none of the known forms.
  bool frequencyFactors(const std::string &freqs, const OnnxTensor *&inv, std::string &posName);
  /// The cos/sin operands of a rotary embedding -> base theta (from the inverse frequencies)
  /// and the positions they were computed at.
  bool rotaryAngles(const std::string &cosName, const std::string &sinName, int64_t rotaryDim,
                    double &theta, Value &positions);
  /// A key or value tensor [B, kvH, T, d] as attention reads it: strips repeat_kv
  /// (Unsqueeze/Expand/Reshape) and the KV-cache Concat, leaving the new tokens' tensor.
  struct CacheChain {
    std::string fresh;                       // new tokens, [B, kvH, S, d]
    std::string past;                        // graph input, empty without a cache
    const onnx::NodeProto *concat = nullptr; // its output is the present tensor
  };
  void stripCache(const std::string &name4, CacheChain &chain);
  bool isCacheConcat(const std::string &name) const;

  // --- What the exporter's bookkeeping means, checked by evaluation (SemanticChecks.cpp) ---
  /// The mask added to the attention scores at `at` is exactly causal: 0 where a query may
  /// see a key (key position <= query position), -inf or the type's lowest elsewhere.
  bool checkCausalMask(const onnx::NodeProto &at, const std::string &mask, int64_t heads);
  /// The cos/sin factors of a rotate-half rotary embedding are those of base `theta` at the
  /// tokens' positions.
  bool checkRotaryFactors(const onnx::NodeProto &at, const std::string &cosName,
                          const std::string &sinName, double theta, int64_t rotaryDim,
                          int64_t heads);
  /// `name` holds the new tokens' positions.
  bool checkPositions(const onnx::NodeProto &at, const std::string &name);
  /// GroupQueryAttention's seqlens_k and total_sequence_length are those of contiguous
  /// sequences.
  bool checkSequenceLengths(const onnx::NodeProto &gqa);
  bool evaluate(const onnx::NodeProto &at, const std::string &name, StringRef what,
                GraphEvaluator &eval, EvalTensor &out);
  llvm::ArrayRef<std::unique_ptr<GraphEvaluator>> evaluatorsFor();
  std::vector<std::unique_ptr<GraphEvaluator>> evaluators;
  std::string positionsInput; // the graph input the rotary embedding reads, once found

  /// Whether `node` is a contrib op with an attribute table (ContribAttributes.cpp).
  static bool isContribOp(const onnx::NodeProto &node);
  /// Why an attribute of a contrib op is refused, or empty when all are supported.
  static std::string unsupportedAttribute(const onnx::NodeProto &node);

  // ONNX-level pattern helpers.
  static bool isStandard(const onnx::NodeProto &node) {
    return node.domain().empty() || node.domain() == "ai.onnx";
  }
  /// The producer of `name` if it is the standard op `opType`.
  const onnx::NodeProto *def(const std::string &name, StringRef opType) const;
  /// `name` seen through Identity and Cast nodes and Concats of one input.
  std::string skipCasts(const std::string &name) const;
  /// An initializer or the value of a Constant node (seen through Identity).
  const OnnxTensor *constant(const std::string &name);
  /// A one-element numeric constant (seen through Cast), as double.
  std::optional<double> scalar(const std::string &name);
  /// An integer constant vector.
  std::optional<SmallVector<int64_t>> ints(const std::string &name);
  /// The last `count` entries of a shape tensor built by Concat from constants and
  /// computed parts; entries that are not constant are kUnknown.
  static constexpr int64_t kUnknown = INT64_MIN;
  SmallVector<int64_t> trailingInts(const std::string &shape, int count);
  /// Records why a pattern did not match (the first reason wins) and returns false.
  bool mismatch(const std::string &why) {
    if (mismatchReason.empty())
      mismatchReason = why;
    return false;
  }
  std::string mismatchReason;
  std::deque<OnnxTensor> constantTensors;
  std::deque<std::vector<uint8_t>> constantBytes;
  llvm::StringMap<const OnnxTensor *> constantCache;

  OnnxModel &model;
  const onnx::GraphProto &graph;
  rt::ParamFileWriter &writer;
  Location loc;
  OpBuilder b;
  std::string error;
  ModuleOp module;
  func::FuncOp func;
  Block *entry = nullptr;
  Producers producers; // value -> (node, output)
  llvm::DenseSet<const onnx::NodeProto *> converting; // on the conversion stack
  llvm::StringMap<Value> values;  // converted activations
  llvm::StringMap<Value> weights; // converted weight reads
  llvm::StringMap<bool> declared; // parameters declared
  Value positionsArg;
};

} // namespace midllama::onnx_import::detail

#endif // MIDLLAMA_LIB_IMPORT_ONNX_CONVERTER_H
