//===- Mmlu.h - MMLU as lm-evaluation-harness asks it -----------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// MMLU (Hendrycks et al. 2021) in its CSV release (`dev/<subject>_dev.csv`,
// `test/<subject>_test.csv`; columns question, choice0..choice3, answer index) and the
// prompt of lm-evaluation-harness's `mmlu` task (v0.4): the description "The following are
// multiple choice questions (with answers) about <subject>.\n\n", the first `shots` dev
// questions each as "<question>\nA. <a>\nB. <b>\nC. <c>\nD. <d>\nAnswer: <letter>\n\n",
// then the test question ending in "Answer:", scored on the choices " A" .. " D".
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_EVAL_MMLU_H
#define MIDLLAMA_RUNTIME_EVAL_MMLU_H

#include "runtime/eval/MultipleChoice.h"
#include "runtime/eval/Subset.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace midllama::rt::eval {

struct MmluItem {
  std::string question;
  std::array<std::string, 4> choices;
  int64_t answer = 0;
};

struct MmluSubject {
  std::string name; // file stem: "high_school_physics"
  std::vector<MmluItem> dev, test;
};

/// RFC 4180 CSV (quoted fields with doubled quotes and line breaks, CRLF or LF); false
/// with `error` naming the line of an unterminated quote.
bool parseCsv(std::string_view text, std::vector<std::vector<std::string>> &rows,
              std::string &error);

/// Every subject of an MMLU directory (`dir/test/*_test.csv`, with `dir/dev/*_dev.csv`),
/// sorted by name; false with `error` naming the file and row of anything malformed.
bool loadMmlu(const std::string &dir, std::vector<MmluSubject> &subjects, std::string &error);

/// The harness's context for test item `item` with the first `shots` dev items as
/// examples, and its four choices.
ChoiceQuestion mmluQuestion(const MmluSubject &subject, const MmluItem &item, int64_t shots);

} // namespace midllama::rt::eval

#endif // MIDLLAMA_RUNTIME_EVAL_MMLU_H
