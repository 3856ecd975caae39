//===- WeightRewriter.h - Re-encode selected weights of a module -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// What every weight-only compression pass does around its numerics: pick the weights (read
// only as the weight of a linear / LM head, names matching `include` and not `exclude`),
// read each as fp32 from the module's parameter file, hand it to the method, write a new
// parameter file with the method's components in place of the fp values (the other tensors
// copied), print progress, and retype the IR. Every weight compression pass uses it; the
// calibrated ones encode during calibration and hand the results over (precomputedEncoder).
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_PASSES_TRANSFORMS_WEIGHTREWRITER_H
#define MIDLLAMA_PASSES_TRANSFORMS_WEIGHTREWRITER_H

#include "midllama/Dialect/LLM/IR/LLMDialect.h"
#include "midllama/Quantize/Affine.h"
#include "passes/Transforms/EncodedSpill.h"
#include "runtime/params/DType.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringMap.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace midllama {

struct EncodedWeight {
  llm::WeightType type; // the new type (its format says how the components encode it)
  struct Component {
    std::string suffix; // ".qweight", ".scales", ...
    rt::DType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
    // Or, once spilled (EncodedSpill.h: calibrated passes), where the bytes are now.
    const EncodedSpill *spill = nullptr;
    int64_t spilledAt = 0, spilledBytes = 0;
  };
  std::vector<Component> components;
  std::string description; // for progress: "int4 g32", "nf4 b64 dq"
  double millis = -1;      // time spent encoding, when done before rewriteWeights (calibrated)
};

/// Encodes the [n, k] fp32 `values` of weight `name` (of `type`); false with `error` set
/// to refuse.
using WeightEncoder =
    std::function<bool(const std::string &name, llm::WeightType type,
                       const std::vector<float> &values, EncodedWeight &out, std::string &error)>;

/// Runs `encode` over the selected weights of `module` and rewrites it and its parameter
/// file (`output`, relative to the IR file). On bad options, a missing tensor, nothing
/// selected or an encoder's refusal it emits one error, "PASS: ...", at the llm.param of
/// the weight concerned (at the module when it concerns none), and fails; the module is
/// then unchanged and nothing is written.
/// `allowPruned`: see selectWeights. `dense`, when given, holds new fp32 values for
/// parameters that stay unquantized (AWQ's rescaled norms and projections), written in
/// their own element type; a pruned one keeps its mask and compressed storage.
mlir::LogicalResult rewriteWeights(mlir::ModuleOp module, const std::string &passName,
                                   const std::string &include, const std::string &exclude,
                                   const std::string &output, const WeightEncoder &encode,
                                   const std::map<std::string, std::vector<float>> *dense =
                                       nullptr,
                                   bool allowPruned = false);

/// An encoder handing out what a calibrated method already encoded (moved out of
/// `encoded`); it refuses a weight the method did not reach.
WeightEncoder precomputedEncoder(llvm::StringMap<EncodedWeight> &encoded);

/// The names of the weights rewriteWeights would hand to its encoder (dense f32/f16
/// matrices read only as a linear / LM head weight, matching `include`, not `exclude`), in
/// parameter order. False with `error` on a bad regular expression or when none matches.
/// Pruned weights are refused unless `allowPruned` (passes that keep their mask). An error
/// about one weight sets `culprit`, when given, to its llm.param (else to null). A query
/// (callers may want only the names), so it reports through `error`, not diagnostics.
bool selectWeights(mlir::ModuleOp module, const std::string &passName,
                   const std::string &include, const std::string &exclude,
                   std::vector<std::string> &names, std::string &error,
                   bool allowPruned = false, mlir::Operation **culprit = nullptr);

/// The fp32 values of dense parameter `name` read from the module's parameter file; a
/// pruned one expanded from its compressed storage, its mask (1 = kept) into `keep`.
bool readWeightF32(mlir::ModuleOp module, const std::string &name, std::vector<float> &values,
                   std::string &error, std::vector<uint8_t> *keep = nullptr);

/// The error for affine options out of range (bits 2 to 8, group size at least 1), or empty.
/// RTN, GPTQ and AWQ check them alike.
std::string checkAffineOptions(const std::string &passName, int bits, int64_t groupSize);

/// `out`'s type (#llm.affine) and components for the affine-quantized `m` of a weight of
/// `type`; its scales are stored in the weight's element type (fp16 for f16 weights).
void encodeAffine(llm::WeightType type, const quant::AffineMatrix &m,
                  const quant::AffineParams &p, EncodedWeight &out);

} // namespace midllama

#endif // MIDLLAMA_PASSES_TRANSFORMS_WEIGHTREWRITER_H
