//===- Pruning.h - What the pruning passes share ------------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The pruning passes (--llm-prune-magnitude here; Wanda, GBLM and SparseGPT, calibrated,
// in Calibrated/) read their PruningPatternOptions (Passes.td) alike and store what they
// keep alike (SparseEncoding.h); the scores are in lib/Sparsify.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_PASSES_TRANSFORMS_PRUNING_H
#define MIDLLAMA_PASSES_TRANSFORMS_PRUNING_H

#include "passes/Transforms/WeightRewriter.h"

#include "midllama/Sparsify/Sparsify.h"

#include <string>
#include <vector>

namespace midllama {

/// Parses `sparsity`, `pattern` and `tail` into `p`; false with `error` ("<pass>: ...") on
/// a bad value.
bool parsePattern(const std::string &pass, double sparsity, const std::string &pattern,
                  const std::string &tail, sparse::Pattern &p, std::string &error);

/// The rules the pruning passes share, for checkOptions: a pattern that parses, and no
/// sparsity that an N:M pattern would ignore (N:M prunes 1 - N/M of each run). Empty when
/// they hold.
std::string checkPruningOptions(const std::string &pass, double sparsity, bool sparsityGiven,
                                const std::string &pattern, const std::string &tail,
                                const std::string &comparison);

/// The comparison group an option names: "row" or "layer".
inline sparse::Comparison comparisonOf(const std::string &comparison) {
  return comparison == "row" ? sparse::Comparison::Row : sparse::Comparison::Layer;
}

/// Encodes a pruned weight, refusing a pattern the weight's K does not allow.
bool encodePruned(llm::WeightType type, const std::vector<float> &values,
                  const std::vector<uint8_t> &mask, const sparse::Pattern &p,
                  EncodedWeight &out, std::string &error);

} // namespace midllama

#endif // MIDLLAMA_PASSES_TRANSFORMS_PRUNING_H
