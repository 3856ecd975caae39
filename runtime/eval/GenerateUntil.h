//===- GenerateUntil.h - Greedy generation up to stop strings ---*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// lm-evaluation-harness's `generate_until` requests (its HF model, lm-eval 0.4): the
// prompt is left-truncated to max_length - max_gen_toks tokens (max_length: here the
// positions the artifact was compiled for, by default the model's context), tokens are
// chosen greedily until the end-of-text token, a stop string in the decoded continuation,
// or max_gen_toks tokens; the text is then cut before the stop strings, each in turn
// (`generation.split(term)[0]`).
//
// Tasks such as BBH share a long few-shot prefix between their questions: the KV cache is
// kept between calls (`KvPrefix`), and a prompt runs only from the first token where it
// differs from what the cache holds. Comparing token ids (not text) keeps this exact: the
// logits are those of the whole prompt run from position 0.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_EVAL_GENERATEUNTIL_H
#define MIDLLAMA_RUNTIME_EVAL_GENERATEUNTIL_H

#include "runtime/Executor.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <cstdint>
#include <string>
#include <vector>

namespace midllama::rt::eval {

/// The tokens an executor's KV cache holds at positions 0 .. size - 1.
struct KvPrefix {
  std::vector<int32_t> tokens;
};

struct UntilOptions {
  int64_t maxNewTokens = 256;
  std::vector<std::string> until; // stop strings
};

struct UntilResult {
  std::string text;            // the continuation, cut before the stop strings
  std::vector<int32_t> tokens; // the generated tokens (the end-of-text token excluded)
  int64_t promptTokens = 0;    // after truncation
  int64_t reusedTokens = 0;    // of them, found in the KV cache
  bool truncated = false;      // the prompt lost tokens on its left
};

/// One greedy generation of `prompt` on `model` (`positions` of KV cache, forward passes
/// of at most `chunk` tokens), continuing from `cache` and leaving it updated. False with
/// `error` when a forward pass fails, the logits are not finite, or `maxNewTokens` leaves
/// no room for a prompt.
bool generateUntil(Executor &model, const Tokenizer &tokenizer, int64_t vocab,
                   int64_t positions, int64_t chunk, std::vector<int32_t> prompt,
                   const UntilOptions &options, KvPrefix &cache, UntilResult &result,
                   std::string &error);

/// `text` cut before each stop string in turn, as Python's text.split(term)[0].
std::string cutAtStops(std::string text, const std::vector<std::string> &until);

} // namespace midllama::rt::eval

#endif // MIDLLAMA_RUNTIME_EVAL_GENERATEUNTIL_H
