//===- Perplexity.h - Perplexity and KL over a tokenized text ---*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The protocol of docs/algorithms.md: the text tokenized once (no BOS), non-overlapping
// windows of `ctx` tokens, each from an empty cache, every token after the first of its
// window predicted; the tail shorter than a window is dropped. With a base model, also the
// mean KL(base || model) per predicted token and the top-1 agreement.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_EVAL_PERPLEXITY_H
#define MIDLLAMA_RUNTIME_EVAL_PERPLEXITY_H

#include "runtime/Executor.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace midllama::rt::eval {

struct PerplexityResult {
  double perplexity = 0;
  double kl = 0;   // nats per predicted token; with a base model only
  double top1 = 0; // fraction of positions where both models' argmax agree; ditto
  int64_t windows = 0, predicted = 0;
  double seconds = 0;
};

/// Called after each window: windows done, windows in all, the running perplexity.
using PerplexityProgress = std::function<void(int64_t, int64_t, double)>;

/// Scores the first `windows` windows of `ids` with `model` (and `base`, when given; both
/// executors sized for `ctx` tokens). False with `error` when a forward pass fails or the
/// loss is not finite (NaN or overflowing weights): such a perplexity is no result.
bool evaluatePerplexity(Executor &model, Executor *base, int64_t vocab,
                        const std::vector<int32_t> &ids, int64_t ctx, int64_t windows,
                        const PerplexityProgress &progress, PerplexityResult &result,
                        std::string &error);

} // namespace midllama::rt::eval

#endif // MIDLLAMA_RUNTIME_EVAL_PERPLEXITY_H
