//===- Hellaswag.h - HellaSwag as lm-evaluation-harness asks it -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// HellaSwag (Zellers et al. 2019) in its release's jsonl layout
// (rowanz/hellaswag's `hellaswag_val.jsonl`, the hub's `Rowan/hellaswag`): one
// object per line with "activity_label", "ctx_a", "ctx_b", "endings" (4
// strings) and "label" (0-3, as a number or a string). Asked as
// lm-evaluation-harness's `hellaswag` task (v0.4, 0-shot): the context is
// preprocess(activity_label + ": " + ctx_a + " " + ctx_b.capitalize()), the
// choices preprocess(ending), each scored as " " + choice; `acc` on the raw
// log-likelihoods, `acc_norm` on each divided by its choice's length in
// characters. preprocess is the harness's: strip, " [title]" -> ". ", every
// "[...]" on one line removed, then "  " -> " " (one pass). Checked byte for
// byte against the harness's own process_docs in
// test/unittests/runtime/HellaswagTest.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_EVAL_HELLASWAG_H
#define MIDLLAMA_RUNTIME_EVAL_HELLASWAG_H

#include "runtime/eval/MultipleChoice.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace midllama::rt::eval {

struct HellaswagItem {
  int64_t ind = 0; // the record's "ind" (its line number when it has none)
  std::string activityLabel, ctxA, ctxB;
  std::array<std::string, 4> endings;
  int64_t label = 0;
};

/// Every item of a HellaSwag jsonl file; false with `error` naming the file and
/// line of anything malformed (a missing or mistyped field, a label outside
/// 0-3, not 4 endings).
bool loadHellaswag(const std::string &path, std::vector<HellaswagItem> &items, std::string &error);

/// The harness's `preprocess` of a text.
std::string hellaswagPreprocess(const std::string &text);

/// Python's str.capitalize() for ASCII letters (the first upper-cased, the rest
/// lower-cased); other bytes are kept (no ctx_b of HellaSwag has a non-ASCII
/// character).
std::string capitalizeAscii(const std::string &text);

/// The harness's question for `item`: its query, the four preprocessed endings
/// (delimiter " ") and the gold index.
ChoiceQuestion hellaswagQuestion(const HellaswagItem &item);

} // namespace midllama::rt::eval

#endif // MIDLLAMA_RUNTIME_EVAL_HELLASWAG_H
