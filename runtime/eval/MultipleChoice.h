//===- MultipleChoice.h - Log-likelihood scoring of answer choices -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Multiple-choice tasks as lm-evaluation-harness scores them (output_type
// multiple_choice): each choice is a continuation of the question's context, and the
// model's answer is the continuation of largest log-likelihood, sum over its tokens of
// log p(token | context, earlier tokens). `acc` compares the raw sums; `acc_norm` divides
// each by its choice's length in characters (Unicode code points, the delimiter not
// counted: the harness's `len(choice)`).
//
// The context and a continuation are tokenized as the harness does for causal models
// (`_encode_pair`): trailing spaces of the context move to the continuation, the context
// and context + continuation are encoded (with the tokenizer's own BOS rule), and the
// continuation's tokens are what the second encoding has beyond the first. The context is
// run once; every continuation then continues from its KV cache.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_EVAL_MULTIPLECHOICE_H
#define MIDLLAMA_RUNTIME_EVAL_MULTIPLECHOICE_H

#include "runtime/Executor.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <cstdint>
#include <string>
#include <vector>

namespace midllama::rt::eval {

/// A question: its context, the texts of its choices (without the delimiter the harness
/// puts between context and choice, its `target_delimiter`), and the index of the right one.
struct ChoiceQuestion {
  std::string context;
  std::vector<std::string> choices;
  std::string delimiter = " ";
  int64_t answer = 0;
};

/// The tokens of one question, as the harness encodes them.
struct EncodedQuestion {
  std::vector<int32_t> context;
  std::vector<std::vector<int32_t>> continuations;
  std::vector<size_t> choiceLength; // each choice's length in code points, for acc_norm
};

EncodedQuestion encodeQuestion(const Tokenizer &tokenizer, const ChoiceQuestion &q);

/// The log-likelihood of every continuation, and whether each is the greedy one at every
/// token; the context runs in chunks of `chunk` tokens (the session's largest forward).
/// False with `error` when a forward pass fails, a continuation is empty, or the question
/// does not fit in `maxTokens` positions.
struct ChoiceScores {
  std::vector<double> logLikelihood;
  std::vector<bool> greedy;
};
bool scoreQuestion(Executor &model, int64_t vocab, int64_t maxTokens, int64_t chunk,
                   const EncodedQuestion &q, ChoiceScores &scores, std::string &error);

/// The index of the largest score, the first on ties (numpy's argmax, as the harness).
int64_t bestChoice(const std::vector<double> &scores);

/// acc_norm's choice: the largest log-likelihood per character of the choice.
int64_t bestNormalizedChoice(const std::vector<double> &logLikelihood,
                             const std::vector<size_t> &choiceLength);

/// The number of code points of UTF-8 text (Python's len of the decoded string).
size_t codePointCount(const std::string &utf8);

/// Mean of per-question 0/1 outcomes and its standard error, as the harness reports it:
/// the sample standard deviation (n - 1) over sqrt(n).
struct Accuracy {
  double mean = 0, standardError = 0;
  int64_t count = 0;
};
Accuracy accuracyOf(const std::vector<double> &outcomes);

} // namespace midllama::rt::eval

#endif // MIDLLAMA_RUNTIME_EVAL_MULTIPLECHOICE_H
