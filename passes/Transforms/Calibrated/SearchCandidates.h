//===- SearchCandidates.h - What --llm-search-recipe may pick ---*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The candidates of the recipe search, named as the built-in recipes are: `keep` (the
// weight as stored), `rtn-w<bits>g<group>[-sym]`, `gptq-w<bits>g<group>[-sym][-act]` (act-order) and
// `nf4-b<block>[-dq]`. For one weight a candidate gives the type it would get (so its
// bytes come from the same WeightLayout the artifact is written with), the values the
// runtime would compute with (so its error is measured, not assumed), and the recipe rule
// that applies it.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_PASSES_TRANSFORMS_CALIBRATED_SEARCHCANDIDATES_H
#define MIDLLAMA_PASSES_TRANSFORMS_CALIBRATED_SEARCHCANDIDATES_H

#include "midllama/Dialect/LLM/IR/LLMDialect.h"
#include "midllama/Quantize/GPTQ.h"

#include <string>
#include <utility>
#include <vector>

namespace midllama {

struct SearchCandidate {
  std::string name;   // as written: "gptq-w4g128"
  std::string method; // the recipe method: keep, cast, rtn, gptq, nf4
  std::string dtype;  // cast only: f16 or bf16
  int bits = 0;
  int64_t groupSize = 0;
  bool symmetric = false;
  bool actOrder = false; // gptq only: columns by decreasing H_jj, static groups
  int64_t blockSize = 0;
  bool doubleQuant = false;

  /// The recipe rule's options ("bits": "4", ...); the methods clamp a group to a weight's
  /// input columns as candidateType does.
  std::vector<std::pair<std::string, std::string>> recipeOptions() const;
};

/// Parses a comma-separated list; false with `error` naming the bad entry and the grammar.
bool parseSearchCandidates(const std::string &list, std::vector<SearchCandidate> &candidates,
                           std::string &error);

/// The type `type` (a dense [n, k] weight) gets from `c`.
llm::WeightType candidateType(const SearchCandidate &c, llm::WeightType type);

/// GPTQ's damping, the pass's default: the search measures what `gptq-...` rules apply.
constexpr double kSearchGPTQDamp = 0.01;

/// The [n, k] values the runtime computes with once `c` encodes `w`; GPTQ needs the
/// Hessian of the weight's input prepared with c.actOrder (null for the others). False
/// with `error`.
bool candidateValues(const SearchCandidate &c, const std::vector<float> &w, int64_t n,
                     int64_t k, const quant::GPTQHessian *hessian, std::vector<float> &out,
                     std::string &error);

} // namespace midllama

#endif // MIDLLAMA_PASSES_TRANSFORMS_CALIBRATED_SEARCHCANDIDATES_H
