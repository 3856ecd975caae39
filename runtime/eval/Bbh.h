//===- Bbh.h - BIG-Bench Hard as lm-evaluation-harness asks it --*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// BIG-Bench Hard (Suzgun et al. 2022) in its repository's layout: `<task>.json` with
// {"examples": [{"input", "target"}]} and `cot-prompts/<task>.txt` (a canary line,
// "-----", then the task's description and three worked chain-of-thought examples, all
// separated by blank lines). Asked as lm-evaluation-harness's `bbh_cot_fewshot` tasks
// (lm-eval 0.4, whose prompts are generated from those files): the prompt file's text,
// "\n\n", then "Q: <input>\nA: Let's think step by step.\n"; greedy generation until "</s>",
// "Q", "\n\n" or the end-of-text token, at most 1024 tokens; the answer is what follows the
// first "the answer is " on its line, less the line's last character (the harness's regex
// `(?<=the answer is )(.*)(?=.)`), stripped, else "[invalid]"; scored by exact match with
// the target. The prompts are checked byte for byte against the harness's own in
// test/unittests/runtime/BbhTest.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_EVAL_BBH_H
#define MIDLLAMA_RUNTIME_EVAL_BBH_H

#include <cstdint>
#include <string>
#include <vector>

namespace midllama::rt::eval {

struct BbhItem {
  std::string input, target;
};

struct BbhTask {
  std::string name;     // file stem: "boolean_expressions"
  std::string fewShot;  // the prompt file after its "-----" line: description and examples
  std::vector<BbhItem> items;
};

/// Every task of a BBH directory (`dir/*.json` with `dir/cot-prompts/<task>.txt`), sorted
/// by name; false with `error` naming the file of anything malformed or missing.
bool loadBbh(const std::string &dir, std::vector<BbhTask> &tasks, std::string &error);

/// The harness's prompt for `item`.
std::string bbhPrompt(const BbhTask &task, const BbhItem &item);

/// The harness's stop strings (its HF model adds the end-of-text token's, which ends
/// generation here as a token).
const std::vector<std::string> &bbhStops();

/// The harness's `get-answer` filter of a generation: the answer after "the answer is ",
/// or "[invalid]".
std::string bbhAnswer(const std::string &generation);

} // namespace midllama::rt::eval

#endif // MIDLLAMA_RUNTIME_EVAL_BBH_H
