//===- Activations.h - Which activations the CPU multiplies with -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The CPU backend multiplies weights with fp32 activations by default. Two reduced-
// precision paths trade a little accuracy for speed: int8 activations in blocks of 32 for
// 4- to 8-bit affine weights (as llama.cpp does with its Q8 activations; AVX-512 VNNI),
// and bf16 activations and weights for the prefill of every weight not stored as dense
// fp32 (AVX512_BF16). An artifact records its default (config "activations": int8 for
// weights kept in ggml's blocks, int8-weight-groups for ONNX MatMulNBits at
// accuracy_level 4 (a scale per weight group, as ONNX Runtime), what --llm-set-activations
// chose (bf16, int8+bf16, ...; config "activations_set_by" says so), fp32 otherwise); the
// tools' --int8-activations and --bf16-activations (together: int8 where it applies, bf16
// for the rest) and --fp32-activations replace it. One place decides and reports it,
// for midllama-run and midllama-eval.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_EVAL_ACTIVATIONS_H
#define MIDLLAMA_RUNTIME_EVAL_ACTIVATIONS_H

#include "runtime/Model.h"
#include "runtime/eval/Report.h"

#include <string>

namespace midllama::rt::eval {

/// What the command line asked for; nothing: the artifact's default.
struct ActivationChoice {
  bool fp32 = false, int8 = false, bf16 = false;
  bool asked() const { return fp32 || int8 || bf16; }
};

/// If `flag` is --int8-activations, --bf16-activations or --fp32-activations: records it
/// in `choice` and returns true (`error` set when it contradicts an earlier one: fp32 with
/// either of the others). False for other flags.
bool parseActivationFlag(const std::string &flag, ActivationChoice &choice, std::string &error);

/// The artifact config's "activations" for int8 scaled per weight group.
inline constexpr const char *kInt8InWeightGroups = "int8-weight-groups";

/// Whether the artifact's default is int8 activations (either kind), and whether bf16 (alone
/// or for the weights int8 does not take: "int8+bf16").
bool artifactPrefersInt8(const Model &model);
bool artifactPrefersBf16(const Model &model);
/// Sets the CPU backend's activations for `model` (cpu::setInt8Activations,
/// cpu::setBf16Activations).
void applyActivations(const Model &model, ActivationChoice choice);
/// The report row: how the CPU multiplies and why (omitted for fp32 everywhere).
void addActivations(Report &report, const Model &model, ActivationChoice choice);

} // namespace midllama::rt::eval

#endif // MIDLLAMA_RUNTIME_EVAL_ACTIVATIONS_H
