//===- MmluTask.cpp - midllama-eval --task mmlu ---------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// MMLU scored as lm-evaluation-harness's `mmlu` task (runtime/eval/Mmlu.h): accuracy with
// its standard error per subject, micro-averaged over questions (the harness's group
// figure) and macro-averaged over subjects.
//
//===----------------------------------------------------------------------===//

#include "EvalTool.h"

#include "runtime/eval/Clock.h"
#include "runtime/eval/Mmlu.h"

using namespace midllama;
using namespace midllama::evaltool;
using namespace midllama::rt;

namespace {

struct SubjectResult {
  std::string name;
  eval::Accuracy acc;
};

/// The test questions scored, per subject (a subset or limit that leaves nothing is an
/// error, not a 0).
std::vector<std::vector<size_t>> pickQuestions(const Options &o,
                                               const std::vector<eval::MmluSubject> &subjects,
                                               int64_t shots, int64_t &total) {
  std::vector<std::vector<size_t>> picked;
  total = 0;
  for (const eval::MmluSubject &s : subjects) {
    std::vector<size_t> keep = pickItems(o, s.name, s.test.size());
    if (shots > int64_t(s.dev.size()))
      die("--shots " + std::to_string(shots) + ": subject '" + s.name + "' has only " +
          std::to_string(s.dev.size()) + " dev questions");
    total += int64_t(keep.size());
    picked.push_back(std::move(keep));
  }
  return picked;
}

/// Scores the picked questions subject by subject, with a progress line each.
std::vector<SubjectResult> scoreAll(const Options &o, Scorer &sc, int64_t shots,
                                    const std::vector<eval::MmluSubject> &subjects,
                                    const std::vector<std::vector<size_t>> &picked,
                                    int64_t total, std::vector<double> &all, SampleLog &log,
                                    double &seconds) {
  double start = eval::nowSeconds();
  std::string error;
  std::vector<SubjectResult> results;
  for (size_t si = 0; si < subjects.size(); ++si) {
    const eval::MmluSubject &s = subjects[si];
    std::vector<double> outcomes;
    for (size_t i : picked[si]) {
      eval::ChoiceQuestion q = eval::mmluQuestion(s, s.test[i], shots);
      requireEncodable(sc, q.context,
                       "subject '" + s.name + "', question " + std::to_string(i));
      eval::EncodedQuestion e = eval::encodeQuestion(*sc.tokenizer, q);
      eval::ChoiceScores scores;
      if (!eval::scoreQuestion(*sc.executor, sc.vocab, sc.positions, sc.chunk, e, scores,
                               error))
        die("subject '" + s.name + "', question " + std::to_string(i) + ": " + error);
      int64_t chosen = eval::bestChoice(scores.logLikelihood);
      outcomes.push_back(chosen == q.answer ? 1.0 : 0.0);
      std::string ll;
      for (double v : scores.logLikelihood)
        ll += (ll.empty() ? "" : ", ") + eval::format("%.6f", v);
      log.add("{\"subject\": " + eval::quote(s.name) + ", \"doc\": " + std::to_string(i) +
              ", \"prompt\": " + eval::quote(q.context) + ", \"loglikelihoods\": [" + ll +
              "], \"chosen\": " + std::to_string(chosen) +
              ", \"answer\": " + std::to_string(q.answer) + "}");
    }
    all.insert(all.end(), outcomes.begin(), outcomes.end());
    results.push_back({s.name, eval::accuracyOf(outcomes)});
    progress("mmlu: " + std::to_string(si + 1) + "/" + std::to_string(subjects.size()) +
                 " subjects, " + std::to_string(all.size()) + "/" + std::to_string(total) +
                 " questions, acc so far " + eval::format("%.4f", eval::accuracyOf(all).mean),
             eval::nowSeconds() - start, int64_t(all.size()), total);
  }
  seconds = eval::nowSeconds() - start;
  return results;
}

} // namespace

int midllama::evaltool::runMmlu(const Options &o) {
  int64_t shots = o.shots < 0 ? 0 : o.shots;
  std::string error;
  std::vector<eval::MmluSubject> subjects;
  if (!eval::loadMmlu(o.data, subjects, error))
    die(error);
  int64_t total = 0;
  std::vector<std::vector<size_t>> picked = pickQuestions(o, subjects, shots, total);
  Scorer sc = makeScorer(o);
  std::vector<double> all;
  double seconds = 0;
  SampleLog log{o.samples, {}};
  std::vector<SubjectResult> results =
      scoreAll(o, sc, shots, subjects, picked, total, all, log, seconds);

  eval::Accuracy micro = eval::accuracyOf(all);
  double macro = 0;
  for (const SubjectResult &r : results)
    macro += r.acc.mean / double(results.size());
  eval::Report report;
  beginReport(report, o, sc);
  std::string protocol =
      "lm-evaluation-harness mmlu prompt, " + std::to_string(shots) +
      "-shot (first dev questions), log-likelihood of \" A\"..\" D\", subset " +
      eval::format("%g", o.subset) + " seed " + std::to_string(o.seed) +
      (o.limit ? ", at most " + std::to_string(o.limit) + " per subject" : "");
  report.add("protocol", protocol, "protocol", eval::quote(protocol));
  report.add("questions",
             std::to_string(micro.count) + " in " + std::to_string(subjects.size()) +
                 " subjects",
             "questions", std::to_string(micro.count));
  report.add("MMLU acc (micro)",
             eval::format("%.4f", micro.mean) + " ± " + eval::format("%.4f", micro.standardError),
             "acc", eval::format("%.6f", micro.mean));
  report.addJson("acc_stderr", eval::format("%.6f", micro.standardError));
  report.add("MMLU acc (macro over subjects)", eval::format("%.4f", macro), "acc_macro",
             eval::format("%.6f", macro));
  std::string perSubject = "{";
  for (const SubjectResult &r : results)
    perSubject += (perSubject.size() > 1 ? ", " : "") + eval::quote(r.name) +
                  ": {\"acc\": " + eval::format("%.6f", r.acc.mean) +
                  ", \"acc_stderr\": " + eval::format("%.6f", r.acc.standardError) +
                  ", \"n\": " + std::to_string(r.acc.count) + "}";
  report.addJson("subjects", perSubject + "}");
  log.finish();
  finishReport(report, o, sc, seconds);
  return 0;
}
