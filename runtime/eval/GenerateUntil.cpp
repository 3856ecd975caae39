//===- GenerateUntil.cpp - Greedy generation up to stop strings -----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/eval/GenerateUntil.h"

#include "runtime/eval/Scoring.h"

#include <algorithm>
#include <cmath>

using namespace midllama::rt;
using namespace midllama::rt::eval;

std::string midllama::rt::eval::cutAtStops(std::string text,
                                           const std::vector<std::string> &until) {
  for (const std::string &term : until)
    if (!term.empty())
      if (size_t at = text.find(term); at != std::string::npos)
        text.resize(at);
  return text;
}

namespace {

/// Whether a stop string ends within the last `added` bytes of `text` (so each is found
/// once, when its last byte arrives).
bool stopArrived(const std::string &text, size_t added, const std::vector<std::string> &until) {
  for (const std::string &term : until) {
    if (term.empty())
      continue;
    size_t from = text.size() - std::min(text.size(), added + term.size() - 1);
    if (text.find(term, from) != std::string::npos)
      return true;
  }
  return false;
}

bool finiteRow(const float *row, int64_t vocab) {
  for (int64_t v = 0; v < vocab; ++v)
    if (!std::isfinite(row[v]))
      return false;
  return true;
}

} // namespace

bool midllama::rt::eval::generateUntil(Executor &model, const Tokenizer &tokenizer,
                                       int64_t vocab, int64_t positions, int64_t chunk,
                                       std::vector<int32_t> prompt,
                                       const UntilOptions &options, KvPrefix &cache,
                                       UntilResult &result, std::string &error) {
  result = UntilResult();
  int64_t room = positions - options.maxNewTokens;
  if (room <= 0) {
    error = "at most " + std::to_string(options.maxNewTokens) + " generated tokens leave " +
            "no room for a prompt in the " + std::to_string(positions) + " positions of the "
            "session (lower --max-gen-tokens or compile with a larger --max-context)";
    return false;
  }
  if (prompt.empty()) {
    error = "a prompt encodes to no tokens";
    return false;
  }
  if (int64_t(prompt.size()) > room) { // the harness keeps the last tokens
    prompt.erase(prompt.begin(), prompt.end() - room);
    result.truncated = true;
  }
  const int64_t n = int64_t(prompt.size());
  // The cached prefix, short of the last token (its logits are needed).
  int64_t reuse = 0;
  while (reuse < n - 1 && size_t(reuse) < cache.tokens.size() &&
         cache.tokens[size_t(reuse)] == prompt[size_t(reuse)])
    ++reuse;
  cache.tokens.assign(prompt.begin(), prompt.begin() + reuse);
  const float *logits = nullptr;
  for (int64_t at = reuse; at < n; at += chunk) {
    int64_t count = std::min(chunk, n - at);
    if (!(logits = model.forward(prompt.data() + at, count, at, /*lastOnly=*/true, error))) {
      cache.tokens.clear(); // what the failed pass left is unknown
      return false;
    }
    cache.tokens.insert(cache.tokens.end(), prompt.begin() + at, prompt.begin() + at + count);
  }
  result.promptTokens = n;
  result.reusedTokens = reuse;
  std::string text;
  int32_t previous = prompt.back();
  for (int64_t step = 0; step < options.maxNewTokens; ++step) {
    if (!finiteRow(logits, vocab)) {
      error = "the logits after " + std::to_string(n + step) +
              " tokens are not finite (damaged or overflowing weights?)";
      return false;
    }
    int32_t next = int32_t(argmax(logits, vocab));
    if (tokenizer.endsText(next))
      break;
    result.tokens.push_back(next);
    std::string piece = tokenizer.decodePiece(step ? previous : -1, next);
    text += piece;
    previous = next;
    if (stopArrived(text, piece.size(), options.until) || step + 1 == options.maxNewTokens)
      break;
    if (!(logits = model.forward(&next, 1, n + step, /*lastOnly=*/true, error))) {
      cache.tokens.clear();
      return false;
    }
    cache.tokens.push_back(next);
  }
  result.text = cutAtStops(tokenizer.decode(result.tokens), options.until);
  return true;
}
