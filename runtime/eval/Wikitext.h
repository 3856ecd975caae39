//===- Wikitext.h - WikiText as lm-evaluation-harness scores it -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// lm-evaluation-harness's `wikitext` task (lm-eval 0.4): each Wikipedia article ("page")
// is one document; its text is the harness's `wikitext_detokenizer` of the page, scored by
// `loglikelihood_rolling`: the tokens (the tokenizer's own BOS rule) cut into disjoint
// windows of max_length predicted tokens, the first window led by a prefix token (the
// tokenizer's BOS, else its EOS), each later window conditioned on the max_length tokens
// before its last; every token predicted once. Reported as the harness does, summed over
// documents: word_perplexity = exp(-Σ log-likelihood / Σ words), words counted in the page
// *before* detokenization as len(re.split(r"\s+", page)); byte_perplexity and
// bits_per_byte over the page's UTF-8 bytes.
//
// Pages: the raw test file split before every level-1 heading line (" = Title = ", not
// " = = "), the document-level layout of the harness's dataset
// (EleutherAI/wikitext_document_level), rebuilt here from the raw file because that
// dataset cannot be fetched on this machine; scripts/reference-wikitext.py gives the
// harness the same pages.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_EVAL_WIKITEXT_H
#define MIDLLAMA_RUNTIME_EVAL_WIKITEXT_H

#include "runtime/Executor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace midllama::rt::eval {

/// The pages of a raw WikiText file, each its lines joined with "\n".
std::vector<std::string> wikitextPages(const std::string &raw);

/// The harness's wikitext_detokenizer.
std::string wikitextDetokenize(const std::string &page);

/// len(re.split(r"\s+", page)): whitespace runs + 1.
int64_t wikitextWords(const std::string &page);

/// One window of loglikelihood_rolling: the model's input and how many of its last
/// positions are scored (the prediction of the next token at each).
struct RollingWindow {
  std::vector<int32_t> input;
  std::vector<int32_t> targets; // one per input position: the token that follows it
  int64_t scored = 0;           // the last `scored` positions
};

/// The harness's get_rolling_token_windows(context_len=1) + make_disjoint_window.
std::vector<RollingWindow> rollingWindows(const std::vector<int32_t> &tokens, int32_t prefix,
                                          int64_t maxLength);

/// Σ log p over every window of `tokens` (forward passes of at most `chunk` tokens).
/// False with `error` when a pass fails or the sum is not finite.
bool rollingLogLikelihood(Executor &model, int64_t vocab, int64_t chunk,
                          const std::vector<int32_t> &tokens, int32_t prefix,
                          int64_t maxLength, double &sum, std::string &error);

} // namespace midllama::rt::eval

#endif // MIDLLAMA_RUNTIME_EVAL_WIKITEXT_H
