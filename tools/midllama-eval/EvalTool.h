//===- EvalTool.h - What midllama-eval's tasks share ------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The options, the loaded model with its tokenizer and executor, and the end of every
// report (time, device, peak memory; the table on stderr, the JSON to --json) that each
// task of midllama-eval uses (MmluTask.cpp, BbhTask.cpp, HellaswagTask.cpp,
// WikitextTask.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_TOOLS_MIDLLAMA_EVAL_EVALTOOL_H
#define MIDLLAMA_TOOLS_MIDLLAMA_EVAL_EVALTOOL_H

#include "runtime/Executor.h"
#include "runtime/Model.h"
#include "runtime/eval/Activations.h"
#include "runtime/eval/Report.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace midllama::evaltool {

struct Options {
  std::string model, task, data, json, samples;
  int64_t shots = -1, limit = 0, threads = 0, maxGenTokens = 1024, maxLength = 0;
  rt::eval::ActivationChoice activations; // nothing asked: the artifact's default
  std::string kvCache;                     // --kv-cache; empty: the artifact's default
  int64_t prefixToken = -1;
  double subset = 1;
  uint64_t seed = 1234;
  rt::Device device = rt::Device::Auto;
};

[[noreturn]] void die(const std::string &message);

/// The model and what scoring or generating needs.
struct Scorer {
  std::unique_ptr<rt::Model> model;
  std::unique_ptr<rt::Tokenizer> tokenizer;
  std::unique_ptr<rt::Executor> executor;
  int64_t vocab = 0, positions = 0, chunk = 0;
};
Scorer makeScorer(const Options &o);

/// Dies naming `where` when the model's tokenizer would drop a byte of `text` (a
/// byte-level vocabulary without a token for it): the model would be scored on another
/// text than the task's.
void requireEncodable(const Scorer &sc, const std::string &text, const std::string &where);

/// The --samples file: one JSON object per line, each question's prompt, generation and
/// outcome (as the harness's --log_samples), written atomically by finish(); nothing when
/// no path is given.
struct SampleLog {
  std::string path, text;
  void add(const std::string &jsonObject) {
    if (!path.empty())
      text += jsonObject + "\n";
  }
  void finish() const;
};

/// Adds the model summary first (call before the task's rows).
void beginReport(rt::eval::Report &report, const Options &o, const Scorer &sc);
/// Adds time, device and peak RSS, prints the table and writes --json.
void finishReport(rt::eval::Report &report, const Options &o, const Scorer &sc,
                  double seconds);

/// The items of a subject or task that --subset/--seed keep, at most --limit of them.
std::vector<size_t> pickItems(const Options &o, const std::string &name, size_t count);

/// "<what>: i/n ..., S s, ETA T s" progress on stderr.
void progress(const std::string &line, double elapsed, int64_t done, int64_t total);

int runMmlu(const Options &o);
int runBbh(const Options &o);
int runHellaswag(const Options &o);
int runWikitext(const Options &o);

} // namespace midllama::evaltool

#endif // MIDLLAMA_TOOLS_MIDLLAMA_EVAL_EVALTOOL_H
