//===- BbhTask.cpp - midllama-eval --task bbh -----------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// BIG-Bench Hard as lm-evaluation-harness's `bbh_cot_fewshot` group (runtime/eval/Bbh.h):
// 3-shot chain-of-thought prompts, greedy generation, the answer after "the answer is ",
// exact match. Reports exact match with its standard error per task, over all questions
// (the group's figure: weighted by task size) and averaged over tasks. A task's few-shot
// prefix is run once: every question continues from its KV cache.
//
//===----------------------------------------------------------------------===//

#include "EvalTool.h"

#include "runtime/eval/Bbh.h"
#include "runtime/eval/Clock.h"
#include "runtime/eval/GenerateUntil.h"
#include "runtime/eval/MultipleChoice.h"

using namespace midllama;
using namespace midllama::evaltool;
using namespace midllama::rt;

namespace {

struct TaskResult {
  std::string name;
  eval::Accuracy exactMatch;
  int64_t invalid = 0; // generations without "the answer is "
};

struct Totals {
  std::vector<double> outcomes;
  int64_t generated = 0, prefilled = 0, reused = 0, truncated = 0, invalid = 0;
};

/// The question of `task` scored: generation, answer, outcome (and its sample line).
double scoreItem(const Options &o, Scorer &sc, eval::KvPrefix &cache,
                 const eval::BbhTask &task, size_t index, SampleLog &log, Totals &totals) {
  const eval::BbhItem &item = task.items[index];
  std::string prompt = eval::bbhPrompt(task, item), error;
  requireEncodable(sc, prompt, "task '" + task.name + "', question " + std::to_string(index));
  eval::UntilOptions until;
  until.maxNewTokens = o.maxGenTokens;
  until.until = eval::bbhStops();
  eval::UntilResult r;
  if (!eval::generateUntil(*sc.executor, *sc.tokenizer, sc.vocab, sc.positions, sc.chunk,
                           sc.tokenizer->encode(prompt, /*bos=*/true, /*eos=*/false), until,
                           cache, r, error))
    die("task '" + task.name + "', question " + std::to_string(index) + ": " + error);
  std::string answer = eval::bbhAnswer(r.text);
  double outcome = answer == item.target ? 1.0 : 0.0;
  totals.generated += int64_t(r.tokens.size());
  totals.prefilled += r.promptTokens - r.reusedTokens;
  totals.reused += r.reusedTokens;
  totals.truncated += r.truncated;
  totals.invalid += answer == "[invalid]";
  log.add("{\"task\": " + eval::quote(task.name) + ", \"doc\": " + std::to_string(index) +
          ", \"prompt\": " + eval::quote(prompt) + ", \"generation\": " + eval::quote(r.text) +
          ", \"answer\": " + eval::quote(answer) + ", \"target\": " +
          eval::quote(item.target) + ", \"exact_match\": " + eval::format("%.0f", outcome) +
          ", \"prompt_tokens\": " + std::to_string(r.promptTokens) + "}");
  return outcome;
}

} // namespace

int midllama::evaltool::runBbh(const Options &o) {
  if (o.shots >= 0 && o.shots != 3)
    die("--shots " + std::to_string(o.shots) + ": bbh is asked with the 3 chain-of-thought "
        "examples of its prompt files");
  std::string error;
  std::vector<eval::BbhTask> tasks;
  if (!eval::loadBbh(o.data, tasks, error))
    die(error);
  std::vector<std::vector<size_t>> picked;
  int64_t total = 0;
  for (const eval::BbhTask &t : tasks) {
    picked.push_back(pickItems(o, t.name, t.items.size()));
    total += int64_t(picked.back().size());
  }
  Scorer sc = makeScorer(o);
  if (o.maxGenTokens >= sc.positions)
    die("--max-gen-tokens " + std::to_string(o.maxGenTokens) + " leaves no room for a prompt "
        "in the artifact's " + std::to_string(sc.positions) + " positions (the harness "
        "needs max_gen_toks < max_length; compile with a larger midllama-compile "
        "--max-context)");
  SampleLog log{o.samples, {}};
  eval::KvPrefix cache;
  Totals totals;
  std::vector<TaskResult> results;
  double start = eval::nowSeconds();
  for (size_t ti = 0; ti < tasks.size(); ++ti) {
    std::vector<double> outcomes;
    int64_t invalidBefore = totals.invalid;
    for (size_t i : picked[ti])
      outcomes.push_back(scoreItem(o, sc, cache, tasks[ti], i, log, totals));
    totals.outcomes.insert(totals.outcomes.end(), outcomes.begin(), outcomes.end());
    results.push_back(
        {tasks[ti].name, eval::accuracyOf(outcomes), totals.invalid - invalidBefore});
    progress("bbh: " + std::to_string(ti + 1) + "/" + std::to_string(tasks.size()) +
                 " tasks, " + std::to_string(totals.outcomes.size()) + "/" +
                 std::to_string(total) + " questions, exact match so far " +
                 eval::format("%.4f", eval::accuracyOf(totals.outcomes).mean),
             eval::nowSeconds() - start, int64_t(totals.outcomes.size()), total);
  }
  double seconds = eval::nowSeconds() - start;

  eval::Accuracy micro = eval::accuracyOf(totals.outcomes);
  double macro = 0;
  for (const TaskResult &r : results)
    macro += r.exactMatch.mean / double(results.size());
  eval::Report report;
  beginReport(report, o, sc);
  std::string protocol =
      "lm-evaluation-harness bbh_cot_fewshot: 3-shot chain-of-thought prompts, greedy "
      "until \"</s>\", \"Q\", \"\\n\\n\" or end of text, at most " +
      std::to_string(o.maxGenTokens) + " tokens, answer after \"the answer is \", exact "
      "match; subset " + eval::format("%g", o.subset) + " seed " + std::to_string(o.seed) +
      (o.limit ? ", at most " + std::to_string(o.limit) + " per task" : "");
  report.add("protocol", protocol, "protocol", eval::quote(protocol));
  report.add("questions",
             std::to_string(micro.count) + " in " + std::to_string(tasks.size()) + " tasks",
             "questions", std::to_string(micro.count));
  report.add("BBH exact match (over questions)",
             eval::format("%.4f", micro.mean) + " ± " + eval::format("%.4f", micro.standardError),
             "exact_match", eval::format("%.6f", micro.mean));
  report.addJson("exact_match_stderr", eval::format("%.6f", micro.standardError));
  report.add("BBH exact match (mean over tasks)", eval::format("%.4f", macro),
             "exact_match_macro", eval::format("%.6f", macro));
  report.add("no \"the answer is\"", std::to_string(totals.invalid), "invalid",
             std::to_string(totals.invalid));
  report.add("tokens generated / prefilled / from the KV cache",
             std::to_string(totals.generated) + " / " + std::to_string(totals.prefilled) +
                 " / " + std::to_string(totals.reused),
             "generated_tokens", std::to_string(totals.generated));
  report.addJson("prefilled_tokens", std::to_string(totals.prefilled));
  report.addJson("reused_tokens", std::to_string(totals.reused));
  report.add("prompts left-truncated", std::to_string(totals.truncated), "truncated_prompts",
             std::to_string(totals.truncated));
  std::string perTask = "{";
  for (const TaskResult &r : results)
    perTask += (perTask.size() > 1 ? ", " : "") + eval::quote(r.name) +
               ": {\"exact_match\": " + eval::format("%.6f", r.exactMatch.mean) +
               ", \"exact_match_stderr\": " + eval::format("%.6f", r.exactMatch.standardError) +
               ", \"n\": " + std::to_string(r.exactMatch.count) +
               ", \"invalid\": " + std::to_string(r.invalid) + "}";
  report.addJson("tasks", perTask + "}");
  log.finish();
  finishReport(report, o, sc, seconds);
  return 0;
}
