//===- Generation.h - Text generation with timings --------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// One generation run: `batch` sequences from the same prompt, each with its own KV cache
// (and, when sampling, its own random stream: seed + its index), greedy or at a
// temperature, until `steps` tokens or llama2.c's end of text (BOS or EOS), timed as the
// report needs it: time to first token, prefill and decode throughput.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_EVAL_GENERATION_H
#define MIDLLAMA_RUNTIME_EVAL_GENERATION_H

#include "runtime/Executor.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace midllama::rt::eval {

struct GenerationOptions {
  int64_t steps = 256;
  double temperature = 0; // 0: greedy
  int64_t seed = 0;
  int64_t batch = 1;
  bool ignoreEos = false;
  /// Whether a token ends the text (the tokenizer's endsText); unset: <s> and </s>, as
  /// llama2.c stops.
  std::function<bool(int32_t)> endsText;
};

struct GenerationRun {
  std::vector<std::vector<int32_t>> outputs; // the generated tokens of each sequence
  int64_t generated = 0;                     // in all sequences
  double ttftSeconds = 0;                    // the prefill's forward pass
  double prefillTokensPerSecond = 0;
  /// Tokens produced after the first step's (which came from the prefill) per second;
  /// absent (negative) when no sequence went past its first token.
  double decodeTokensPerSecond = -1;
};

/// Called for each token sequence 0 produces, with the token before it (to decode the
/// piece: SentencePiece drops a leading space after BOS).
using TokenCallback = std::function<void(int32_t previous, int32_t next)>;

/// Runs `session` (made for the prompt's length, prompt + steps of context and `batch`
/// sequences) once. False with `error` when a forward pass fails or logits are not finite
/// (greedy and sampling would pick an arbitrary token).
bool generate(Executor &session, const std::vector<int32_t> &prompt, int64_t vocab,
              const GenerationOptions &options, const TokenCallback &onToken,
              GenerationRun &run, std::string &error);

} // namespace midllama::rt::eval

#endif // MIDLLAMA_RUNTIME_EVAL_GENERATION_H
