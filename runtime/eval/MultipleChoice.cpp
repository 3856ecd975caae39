//===- MultipleChoice.cpp - Log-likelihood scoring of answer choices ------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/eval/MultipleChoice.h"

#include "runtime/eval/Scoring.h"

#include <algorithm>
#include <cmath>

using namespace midllama::rt;
using namespace midllama::rt::eval;

EncodedQuestion midllama::rt::eval::encodeQuestion(const Tokenizer &tokenizer,
                                                   const ChoiceQuestion &q) {
  EncodedQuestion e;
  // lm-evaluation-harness's _encode_pair: context "Answer: " and choice " A" are scored as
  // "Answer:" and "  A" (trailing spaces move to the continuation).
  std::string context = q.context;
  size_t kept = context.find_last_not_of(' ');
  std::string moved = kept == std::string::npos ? context : context.substr(kept + 1);
  context.resize(context.size() - moved.size());
  e.context = tokenizer.encode(context, /*bos=*/true, /*eos=*/false);
  for (const std::string &choice : q.choices) {
    std::vector<int32_t> whole =
        tokenizer.encode(context + moved + q.delimiter + choice, /*bos=*/true, /*eos=*/false);
    // The harness slices whole[len(context):] without checking that the context's tokens
    // are a prefix of the whole's; so does this.
    size_t from = std::min(whole.size(), e.context.size());
    e.continuations.emplace_back(whole.begin() + std::ptrdiff_t(from), whole.end());
    e.choiceLength.push_back(codePointCount(choice));
  }
  return e;
}

bool midllama::rt::eval::scoreQuestion(Executor &model, int64_t vocab, int64_t maxTokens,
                                       int64_t chunk, const EncodedQuestion &q,
                                       ChoiceScores &scores, std::string &error) {
  int64_t n = int64_t(q.context.size());
  scores.logLikelihood.assign(q.continuations.size(), 0);
  scores.greedy.assign(q.continuations.size(), true);
  if (n == 0) {
    error = "a question's context encodes to no tokens";
    return false;
  }
  // The context once (in chunks of the session's size), keeping its last row: the
  // distribution of every continuation's first token.
  const float *last = nullptr;
  for (int64_t at = 0; at < n; at += chunk) {
    int64_t count = std::min(chunk, n - at);
    if (!(last = model.forward(q.context.data() + at, count, at, /*lastOnly=*/true, error)))
      return false;
  }
  std::vector<float> first(last, last + vocab);
  for (size_t c = 0; c < q.continuations.size(); ++c) {
    const std::vector<int32_t> &cont = q.continuations[c];
    int64_t m = int64_t(cont.size());
    if (m == 0) {
      error = "choice " + std::to_string(c) + " encodes to no tokens after its context";
      return false;
    }
    if (n + m > maxTokens || m - 1 > chunk) {
      error = "a question of " + std::to_string(n + m) + " tokens does not fit the " +
              std::to_string(maxTokens) + " positions of the session (compile with a larger "
              "midllama-compile --max-context)";
      return false;
    }
    double sum = logProb(first.data(), vocab, cont[0], nullptr);
    bool greedy = argmax(first.data(), vocab) == cont[0];
    if (m > 1) {
      // Continues the context's cache: positions n .. n + m - 1, the previous choice's
      // entries overwritten.
      const float *rows = model.forward(cont.data(), m - 1, n, /*lastOnly=*/false, error);
      if (!rows)
        return false;
      for (int64_t j = 1; j < m; ++j) {
        const float *row = rows + (j - 1) * vocab;
        sum += logProb(row, vocab, cont[size_t(j)], nullptr);
        greedy = greedy && argmax(row, vocab) == cont[size_t(j)];
      }
    }
    if (!std::isfinite(sum)) {
      error = "choice " + std::to_string(c) + "'s log-likelihood is not finite (NaN or "
              "overflowing logits)";
      return false;
    }
    scores.logLikelihood[c] = sum;
    scores.greedy[c] = greedy;
  }
  return true;
}

int64_t midllama::rt::eval::bestChoice(const std::vector<double> &scores) {
  return int64_t(std::max_element(scores.begin(), scores.end()) - scores.begin());
}

int64_t midllama::rt::eval::bestNormalizedChoice(const std::vector<double> &logLikelihood,
                                                 const std::vector<size_t> &choiceLength) {
  // numpy: lls / completion_len, a length of 0 giving +-inf (or NaN for 0 / 0, which
  // argmax takes as the maximum: the first NaN wins).
  std::vector<double> per(logLikelihood.size());
  for (size_t i = 0; i < per.size(); ++i) {
    per[i] = logLikelihood[i] / double(choiceLength[i]);
    if (std::isnan(per[i]))
      return int64_t(i);
  }
  return bestChoice(per);
}

size_t midllama::rt::eval::codePointCount(const std::string &utf8) {
  size_t n = 0;
  for (char c : utf8)
    n += (uint8_t(c) & 0xC0) != 0x80; // every byte but continuation bytes starts one
  return n;
}

Accuracy midllama::rt::eval::accuracyOf(const std::vector<double> &outcomes) {
  Accuracy a;
  a.count = int64_t(outcomes.size());
  if (outcomes.empty())
    return a;
  double sum = 0;
  for (double v : outcomes)
    sum += v;
  a.mean = sum / double(a.count);
  if (a.count > 1) {
    double ss = 0;
    for (double v : outcomes)
      ss += (v - a.mean) * (v - a.mean);
    a.standardError = std::sqrt(ss / double(a.count - 1)) / std::sqrt(double(a.count));
  }
  return a;
}
