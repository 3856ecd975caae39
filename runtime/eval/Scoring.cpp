//===- Scoring.cpp - Log-probabilities and logit comparisons --------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/eval/Scoring.h"

#include "runtime/cpu/Kernels.h"

#include <algorithm>
#include <cmath>

using namespace midllama::rt::eval;

double midllama::rt::eval::logProb(const float *logits, int64_t vocab, int64_t target,
                                   std::vector<double> *logProbs) {
  // Exponentials in fp32 (each within an ulp; half the cost of fp64 over a 32000-token
  // vocabulary), 16 at a time where the CPU has AVX-512 (one by one they were 6% of
  // SmolLM2's perplexity evaluation), summed in fp64.
  float maxLogit = logits[cpu::argmax(logits, vocab)];
  double logZ = double(maxLogit) + std::log(cpu::sumExp(logits, vocab, maxLogit));
  if (logProbs) {
    logProbs->resize(size_t(vocab));
    for (int64_t v = 0; v < vocab; ++v)
      (*logProbs)[size_t(v)] = double(logits[v]) - logZ;
  }
  return double(logits[target]) - logZ;
}

double midllama::rt::eval::klDivergence(const std::vector<double> &logP,
                                        const std::vector<double> &logQ) {
  double d = 0; // sum p (log p - log q)
  for (size_t v = 0; v < logP.size(); ++v)
    d += std::exp(logP[v]) * (logP[v] - logQ[v]);
  return d;
}

PositionComparison midllama::rt::eval::compareToBase(const float *logits,
                                                     const float *baseLogits, int64_t vocab,
                                                     int64_t target) {
  PositionComparison r;
  const int64_t top = cpu::argmax(logits, vocab), baseTop = cpu::argmax(baseLogits, vocab);
  const float maxQ = logits[top];
  r.nll = double(maxQ) + std::log(cpu::sumExp(logits, vocab, maxQ)) - double(logits[target]);
  r.kl = cpu::softmaxKL(baseLogits, logits, vocab, baseLogits[baseTop]);
  r.sameTop = top == baseTop;
  return r;
}

int64_t midllama::rt::eval::argmax(const float *logits, int64_t vocab) {
  return cpu::argmax(logits, vocab);
}

int32_t midllama::rt::eval::sample(const float *logits, int64_t vocab, double temperature,
                                   std::mt19937_64 &rng) {
  std::vector<double> p(static_cast<size_t>(vocab));
  double maxLogit = *std::max_element(logits, logits + vocab), total = 0;
  for (int64_t v = 0; v < vocab; ++v)
    total += p[size_t(v)] = std::exp((logits[v] - maxLogit) / temperature);
  double u = std::uniform_real_distribution<double>(0, total)(rng), acc = 0;
  for (int64_t v = 0; v < vocab; ++v)
    if ((acc += p[size_t(v)]) > u)
      return int32_t(v);
  return int32_t(vocab - 1);
}

LogitsDifference midllama::rt::eval::maxAbsDifference(const float *a, const float *b,
                                                      size_t count) {
  LogitsDifference r;
  for (size_t i = 0; i < count; ++i) {
    double d = std::fabs(double(a[i]) - double(b[i]));
    if (!(d <= r.max)) { // NaN counts as a difference
      r.max = std::isnan(d) ? INFINITY : d;
      r.index = i;
    }
  }
  return r;
}
