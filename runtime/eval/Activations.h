//===- Activations.h - Which activations the CPU multiplies with -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The CPU backend multiplies 4- and 8-bit affine weights either with fp32 activations or
// with activations quantized to int8 in blocks of 32 (as llama.cpp does with its Q8
// activations; faster, slightly different numbers). An artifact records its default
// (config "activations": int8 for weights kept in ggml's blocks, fp32 otherwise); the
// tools' --int8-activations and --fp32-activations override it. One place decides and
// reports it, for midllama-run and midllama-eval.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_EVAL_ACTIVATIONS_H
#define MIDLLAMA_RUNTIME_EVAL_ACTIVATIONS_H

#include "runtime/Model.h"
#include "runtime/eval/Report.h"

#include <string>

namespace midllama::rt::eval {

/// What the command line asked for.
enum class ActivationChoice { ArtifactDefault, Int8, Fp32 };

/// If `flag` is --int8-activations or --fp32-activations: records it in `choice` and
/// returns true (`error` set when it contradicts an earlier one). False for other flags.
bool parseActivationFlag(const std::string &flag, ActivationChoice &choice, std::string &error);

/// Whether the artifact's default is int8 activations.
bool artifactPrefersInt8(const Model &model);
/// Sets the CPU backend's activations for `model` (cpu::setInt8Activations).
void applyActivations(const Model &model, ActivationChoice choice);
/// The report row: how the CPU multiplies and why (omitted for fp32 everywhere).
void addActivations(Report &report, const Model &model, ActivationChoice choice);

} // namespace midllama::rt::eval

#endif // MIDLLAMA_RUNTIME_EVAL_ACTIVATIONS_H
