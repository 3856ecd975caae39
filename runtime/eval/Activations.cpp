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
  if (flag == "--int8-activations")
    choice.int8 = true;
  else if (flag == "--bf16-activations")
    choice.bf16 = true;
  else if (flag == "--fp32-activations")
    choice.fp32 = true;
  else
    return false;
  if (choice.fp32 && (choice.int8 || choice.bf16))
    error = std::string(choice.int8 ? "--int8-activations" : "--bf16-activations") +
            " and --fp32-activations exclude each other";
  return true;
}

namespace {

std::string artifactActivations(const Model &model) {
  auto it = model.program().config.find("activations");
  return it == model.program().config.end() ? "fp32" : it->second;
}

/// "int8-weight-groups+bf16" and the like: the int8 kind before the "+", bf16 after it.
bool scalesFollowWeightGroups(const Model &model) {
  return artifactActivations(model).rfind(eval::kInt8InWeightGroups, 0) == 0;
}

/// The pass that chose the artifact's default (--llm-set-activations=...), or "" when its
/// importer did.
std::string setBy(const Model &model) {
  auto by = model.program().config.find("activations_set_by");
  return by == model.program().config.end() ? "" : by->second;
}

/// Why an artifact defaults to what it does, for the report.
std::string whyDefault(const Model &model) {
  if (std::string by = setBy(model); !by.empty())
    return "set at compile (" + by + ")";
  return scalesFollowWeightGroups(model)
             ? "its ONNX MatMulNBits ask for accuracy_level 4, multiplied as ONNX Runtime does"
             : "its weights are ggml's blocks, multiplied as llama.cpp does";
}

/// The artifact's default and its source in a few words, once a flag has replaced it.
std::string defaultInShort(const Model &model) {
  if (std::string by = setBy(model); !by.empty())
    return artifactActivations(model) + " (set at compile: " + by + ")";
  return scalesFollowWeightGroups(model) ? "int8 (ONNX MatMulNBits at accuracy_level 4)"
                                         : "int8 (ggml's blocks)";
}

} // namespace

bool eval::artifactPrefersInt8(const Model &model) {
  return artifactActivations(model).compare(0, 4, "int8") == 0;
}

bool eval::artifactPrefersBf16(const Model &model) {
  const std::string kind = artifactActivations(model);
  return kind.size() >= 4 && kind.compare(kind.size() - 4, 4, "bf16") == 0;
}

void eval::applyActivations(const Model &model, ActivationChoice choice) {
  cpu::setInt8Activations(choice.int8 || (!choice.asked() && artifactPrefersInt8(model)));
  // The scales' span is the artifact's convention whoever turned int8 on.
  cpu::setInt8ScalesFollowWeightGroups(scalesFollowWeightGroups(model));
  cpu::setBf16Activations(choice.bf16 || (!choice.asked() && artifactPrefersBf16(model)));
}

namespace {

/// The flags that chose, for the report: " (--int8-activations --bf16-activations)".
std::string flagsOf(const eval::ActivationChoice &choice) {
  std::string flags;
  for (auto [on, name] : {std::pair{choice.int8, "--int8-activations"},
                          std::pair{choice.bf16, "--bf16-activations"},
                          std::pair{choice.fp32, "--fp32-activations"}})
    if (on)
      flags += std::string(flags.empty() ? " (" : " ") + name;
  return flags.empty() ? flags : flags + ")";
}

} // namespace

void eval::addActivations(Report &report, const Model &model, ActivationChoice choice) {
  const bool preferred = artifactPrefersInt8(model) || artifactPrefersBf16(model);
  const bool int8 = cpu::int8Activations() && cpu::int8ActivationsAvailable();
  const bool bf16 = cpu::bf16Activations() && cpu::bf16ActivationsAvailable();
  if (!int8 && !bf16) {
    std::string text = "fp32";
    if (cpu::int8Activations() || cpu::bf16Activations())
      text += cpu::int8Activations()
                  ? ": int8 activations need AVX-512 VNNI, which this CPU lacks"
                  : ": bf16 activations need AVX512_BF16, which this CPU lacks";
    else if (preferred) // the artifact asked for int8 or bf16; say that it was turned off
      text += flagsOf(choice) + "; the artifact's default is " + defaultInShort(model);
    else
      return; // fp32 everywhere, as asked or by default: nothing to say
    if (cpu::int8Activations() || cpu::bf16Activations())
      text += flagsOf(choice);
    report.add("activations", text, "int8_activations", "false");
    report.addJson("bf16_activations", "false");
    return;
  }
  std::string text;
  if (int8)
    text = std::string(cpu::int8ScalesFollowWeightGroups()
                           ? "int8 with a scale per weight group (32 columns at least)"
                           : "int8 in blocks of 32") +
           " for 4-, 5-, 6- and 8-bit affine weights, 2- and 3-bit at decode (AVX-512 VNNI)";
  if (bf16)
    text += int8 ? "; bf16 at prefill for the other weights not stored in fp32 and at NF4 "
                   "decode (AVX512_BF16)"
                 : "bf16 at prefill for every weight not stored in fp32 and at NF4 decode "
                   "(AVX512_BF16)";
  if (cpu::bf16Activations() && !bf16)
    text += "; no bf16: this CPU lacks AVX512_BF16";
  text += !choice.asked() ? "; the artifact's default: " + whyDefault(model) +
                                " (--fp32-activations for fp32)"
                          : flagsOf(choice);
  report.add("activations", text, "int8_activations", int8 ? "true" : "false");
  report.addJson("bf16_activations", bf16 ? "true" : "false");
}
