//===- Activations.cpp - Which activations the CPU multiplies with --------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/eval/Activations.h"

#include "runtime/cpu/Kernels.h"

using namespace midllama::rt;

bool eval::parseActivationFlag(const std::string &flag, ActivationChoice &choice,
                               std::string &error) {
  if (flag != "--int8-activations" && flag != "--fp32-activations")
    return false;
  auto asked = flag == "--int8-activations" ? ActivationChoice::Int8 : ActivationChoice::Fp32;
  if (choice != ActivationChoice::ArtifactDefault && choice != asked)
    error = "--int8-activations and --fp32-activations exclude each other";
  choice = asked;
  return true;
}

bool eval::artifactPrefersInt8(const Model &model) {
  auto it = model.program().config.find("activations");
  return it != model.program().config.end() && it->second == "int8";
}

void eval::applyActivations(const Model &model, ActivationChoice choice) {
  cpu::setInt8Activations(choice == ActivationChoice::Int8 ||
                          (choice == ActivationChoice::ArtifactDefault &&
                           artifactPrefersInt8(model)));
}

void eval::addActivations(Report &report, const Model &model, ActivationChoice choice) {
  const bool preferred = artifactPrefersInt8(model);
  const char *why = choice == ActivationChoice::Int8   ? " (--int8-activations)"
                    : choice == ActivationChoice::Fp32 ? " (--fp32-activations)"
                                                       : "";
  if (!cpu::int8Activations()) {
    if (preferred) // the artifact asked for int8; say that it was turned off
      report.add("activations",
                 std::string("fp32") + why + "; the artifact's default is int8 (ggml's blocks)",
                 "int8_activations", "false");
    return;
  }
  if (!cpu::int8ActivationsAvailable()) {
    report.add("activations", "fp32: int8 activations need AVX-512 VNNI, which this CPU lacks",
               "int8_activations", "false");
    return;
  }
  std::string text = "int8 in blocks of 32 for 4- and 8-bit affine weights (AVX-512 VNNI)";
  text += choice == ActivationChoice::ArtifactDefault
              ? "; the artifact's default: its weights are ggml's blocks, multiplied as "
                "llama.cpp does (--fp32-activations for fp32)"
              : why;
  report.add("activations", text, "int8_activations", "true");
}
