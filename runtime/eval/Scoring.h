//===- Scoring.h - Log-probabilities and logit comparisons ------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The arithmetic every evaluation shares: the log-softmax at a target (perplexity, KL),
// the greedy choice, sampling at a temperature, and the largest difference of two logit
// arrays (the comparison against reference implementations).
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_EVAL_SCORING_H
#define MIDLLAMA_RUNTIME_EVAL_SCORING_H

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace midllama::rt::eval {

/// log-softmax of `logits` at `target`; with `logProbs`, the whole log-distribution too.
double logProb(const float *logits, int64_t vocab, int64_t target,
               std::vector<double> *logProbs);

/// KL(p || q) of two log-distributions, in nats.
double klDivergence(const std::vector<double> &logP, const std::vector<double> &logQ);

/// One position of a model scored against a base model's logits there: the model's
/// negative log-likelihood of `target`, KL(base || model) in nats, and whether both put
/// the same token first, from one pass over the vocabulary for each (cpu::softmaxKL: the
/// KL to about 1e-7 relative, tiny ones included; logProb and klDivergence, whose
/// log-normalizers come from fp32 exponentials, are off by up to ~1e-8 nats).
struct PositionComparison {
  double nll = 0, kl = 0;
  bool sameTop = false;
};
PositionComparison compareToBase(const float *logits, const float *baseLogits, int64_t vocab,
                                 int64_t target);

/// The first index of the largest logit (greedy decoding, top-1 agreement).
int64_t argmax(const float *logits, int64_t vocab);

/// A token drawn from softmax(logits / temperature) with `rng` (temperature > 0).
int32_t sample(const float *logits, int64_t vocab, double temperature, std::mt19937_64 &rng);

/// The largest |a[i] - b[i]| and its index; NaN counts as an infinite difference.
struct LogitsDifference {
  double max = 0;
  size_t index = 0;
};
LogitsDifference maxAbsDifference(const float *a, const float *b, size_t count);

} // namespace midllama::rt::eval

#endif // MIDLLAMA_RUNTIME_EVAL_SCORING_H
