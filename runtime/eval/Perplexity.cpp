//===- Perplexity.cpp - Perplexity and KL over a tokenized text -----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/eval/Perplexity.h"

#include "runtime/cpu/Kernels.h"
#include "runtime/eval/Clock.h"
#include "runtime/eval/Scoring.h"

#include <cmath>

using namespace midllama::rt;
using namespace midllama::rt::eval;

bool midllama::rt::eval::evaluatePerplexity(Executor &model, Executor *base, int64_t vocab,
                                            const std::vector<int32_t> &ids, int64_t ctx,
                                            int64_t windows, const PerplexityProgress &progress,
                                            PerplexityResult &result, std::string &error) {
  double nll = 0, kl = 0;
  int64_t predicted = 0, agree = 0;
  double start = nowSeconds();
  for (int64_t w = 0; w < windows; ++w) {
    const int32_t *window = ids.data() + w * ctx;
    const float *logits = model.forward(window, ctx, 0, false, error);
    if (!logits)
      return false;
    const float *baseLogits = nullptr;
    if (base && !(baseLogits = base->forward(window, ctx, 0, false, error)))
      return false;
    // Every position scored on the runtime's threads (the positions are independent);
    // summed in order, so the result does not depend on them.
    std::vector<PositionComparison> rows(size_t(ctx - 1));
    cpu::parallelFor(ctx - 1, vocab, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const float *row = logits + t * vocab;
        if (baseLogits)
          rows[size_t(t)] = compareToBase(row, baseLogits + t * vocab, vocab, window[t + 1]);
        else
          rows[size_t(t)].nll = -logProb(row, vocab, window[t + 1], nullptr);
      }
    });
    for (int64_t t = 0; t + 1 < ctx; ++t) {
      const PositionComparison &row = rows[size_t(t)];
      nll += row.nll;
      if (!std::isfinite(nll)) {
        error = "the loss is not finite at window " + std::to_string(w) + ", position " +
                std::to_string(t) + " (token " + std::to_string(w * ctx + t + 1) +
                " of the file): the model's logits there are NaN or infinite (damaged or "
                "overflowing weights?)";
        return false;
      }
      kl += row.kl;
      agree += row.sameTop;
      ++predicted;
    }
    if (progress)
      progress(w + 1, windows, std::exp(nll / double(predicted)));
  }
  result.seconds = nowSeconds() - start;
  result.windows = windows;
  result.predicted = predicted;
  result.perplexity = std::exp(nll / double(predicted));
  result.kl = base ? kl / double(predicted) : 0;
  result.top1 = base ? double(agree) / double(predicted) : 0;
  return true;
}
