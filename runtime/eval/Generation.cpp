//===- Generation.cpp - Text generation with timings ----------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/eval/Generation.h"

#include "runtime/eval/Clock.h"
#include "runtime/eval/Scoring.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <cmath>
#include <random>

using namespace midllama::rt;
using namespace midllama::rt::eval;

namespace {

/// Why `row` cannot be decoded from, or empty.
std::string nonFinite(const float *row, int64_t vocab, int64_t position, int64_t sequence) {
  for (int64_t v = 0; v < vocab; ++v)
    if (!std::isfinite(row[v]))
      return "the logits at position " + std::to_string(position) + " of sequence " +
             std::to_string(sequence) + " are not finite (token " + std::to_string(v) +
             " is " + (std::isnan(row[v]) ? "NaN" : "infinite") +
             "): damaged or overflowing weights?";
  return {};
}
} // namespace

bool midllama::rt::eval::generate(Executor &session, const std::vector<int32_t> &prompt,
                                  int64_t vocab, const GenerationOptions &options,
                                  const TokenCallback &onToken, GenerationRun &run,
                                  std::string &error) {
  const int64_t batch = options.batch;
  std::vector<std::mt19937_64> rngs;
  for (int64_t b = 0; b < batch; ++b)
    rngs.emplace_back(uint64_t(options.seed + b));
  std::vector<int32_t> tokens;
  for (int64_t b = 0; b < batch; ++b)
    tokens.insert(tokens.end(), prompt.begin(), prompt.end());
  double t0 = nowSeconds();
  const float *logits = session.forward(tokens.data(), int64_t(prompt.size()), 0, true, error);
  if (!logits)
    return false;
  double t1 = nowSeconds();
  int64_t pos = int64_t(prompt.size()), active = batch, count = 0;
  std::vector<int32_t> previous(size_t(batch), prompt.back()), next(size_t(batch), 0);
  std::vector<bool> done(size_t(batch), false);
  run.outputs.assign(size_t(batch), {});
  double decodeStart = nowSeconds();
  for (int64_t step = 0; step < options.steps && active > 0; ++step) {
    for (int64_t b = 0; b < batch; ++b) {
      const float *row = logits + b * vocab;
      if (error = nonFinite(row, vocab, pos - 1, b); !error.empty())
        return false;
      next[b] = options.temperature == 0 ? int32_t(argmax(row, vocab))
                                         : sample(row, vocab, options.temperature, rngs[b]);
      if (done[b]) {
        next[b] = previous[b]; // an ended sequence idles in the batch
        continue;
      }
      bool ends = options.endsText ? options.endsText(next[b])
                                   : next[b] == Tokenizer::kBos || next[b] == Tokenizer::kEos;
      if (!options.ignoreEos && ends) {
        done[b] = true; // the end of the text
        --active;
        next[b] = previous[b];
        continue;
      }
      ++count;
      run.outputs[b].push_back(next[b]);
      if (b == 0 && onToken)
        onToken(previous[b], next[b]);
      previous[b] = next[b];
    }
    if (step + 1 == options.steps || active == 0)
      break;
    if (!(logits = session.forward(next.data(), 1, pos++, true, error)))
      return false;
  }
  double t2 = nowSeconds();
  run.generated = count;
  run.ttftSeconds = t1 - t0;
  run.prefillTokensPerSecond = double(batch) * double(prompt.size()) / (t1 - t0);
  run.decodeTokensPerSecond = count > batch ? double(count - batch) / (t2 - decodeStart) : -1;
  return true;
}
