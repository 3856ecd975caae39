//===- HellaswagTask.cpp - midllama-eval --task hellaswag -----------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// HellaSwag as lm-evaluation-harness's `hellaswag` task (runtime/eval/Hellaswag.h): four
// endings scored by log-likelihood after the shared context (run once), `acc` and the
// length-normalized `acc_norm`, each with its standard error. --subset/--seed pick the
// items under the name "hellaswag" (scripts/reference-hellaswag.py gives the harness the
// same ones).
//
//===----------------------------------------------------------------------===//

#include "EvalTool.h"

#include "runtime/eval/Clock.h"
#include "runtime/eval/Hellaswag.h"

using namespace midllama;
using namespace midllama::evaltool;
using namespace midllama::rt;

namespace {

struct Outcomes {
  std::vector<double> acc, accNorm;
};

/// Scores one item: its two outcomes and its sample line.
void scoreItem(Scorer &sc, const eval::HellaswagItem &item, Outcomes &out, SampleLog &log) {
  eval::ChoiceQuestion q = eval::hellaswagQuestion(item);
  std::string where = "HellaSwag item " + std::to_string(item.ind);
  requireEncodable(sc, q.context, where + "'s context");
  for (const std::string &c : q.choices)
    requireEncodable(sc, c, where + "'s ending");
  eval::EncodedQuestion e = eval::encodeQuestion(*sc.tokenizer, q);
  eval::ChoiceScores scores;
  std::string error;
  if (!eval::scoreQuestion(*sc.executor, sc.vocab, sc.positions, sc.chunk, e, scores, error))
    die(where + ": " + error);
  int64_t chosen = eval::bestChoice(scores.logLikelihood);
  int64_t chosenNorm = eval::bestNormalizedChoice(scores.logLikelihood, e.choiceLength);
  out.acc.push_back(chosen == q.answer ? 1.0 : 0.0);
  out.accNorm.push_back(chosenNorm == q.answer ? 1.0 : 0.0);
  std::string ll, choices;
  for (size_t c = 0; c < q.choices.size(); ++c) {
    ll += (c ? ", " : "") + eval::format("%.6f", scores.logLikelihood[c]);
    choices += (c ? ", " : "") + eval::quote(q.choices[c]);
  }
  log.add("{\"doc\": " + std::to_string(item.ind) + ", \"prompt\": " + eval::quote(q.context) +
          ", \"choices\": [" + choices + "], \"loglikelihoods\": [" + ll + "], \"chosen\": " +
          std::to_string(chosen) + ", \"chosen_norm\": " + std::to_string(chosenNorm) +
          ", \"answer\": " + std::to_string(q.answer) + "}");
}

} // namespace

int midllama::evaltool::runHellaswag(const Options &o) {
  if (o.shots > 0)
    die("--shots: HellaSwag is scored 0-shot here (the harness's default)");
  std::string error;
  std::vector<eval::HellaswagItem> items;
  if (!eval::loadHellaswag(o.data, items, error))
    die(error);
  std::vector<size_t> picked = pickItems(o, "hellaswag", items.size());
  Scorer sc = makeScorer(o);
  SampleLog log{o.samples, {}};
  Outcomes out;
  double start = eval::nowSeconds();
  for (size_t n = 0; n < picked.size(); ++n) {
    scoreItem(sc, items[picked[n]], out, log);
    if ((n + 1) % 50 == 0 || n + 1 == picked.size())
      progress("hellaswag: " + std::to_string(n + 1) + "/" + std::to_string(picked.size()) +
                   " items, acc_norm so far " +
                   eval::format("%.4f", eval::accuracyOf(out.accNorm).mean),
               eval::nowSeconds() - start, int64_t(n + 1), int64_t(picked.size()));
  }
  double seconds = eval::nowSeconds() - start;

  eval::Accuracy acc = eval::accuracyOf(out.acc), accNorm = eval::accuracyOf(out.accNorm);
  eval::Report report;
  beginReport(report, o, sc);
  std::string protocol =
      "lm-evaluation-harness hellaswag, 0-shot: preprocess(activity_label: ctx_a "
      "ctx_b.capitalize()), log-likelihood of \" \" + each preprocessed ending; acc_norm "
      "divides by the ending's length in characters; subset " +
      eval::format("%g", o.subset) + " seed " + std::to_string(o.seed) +
      (o.limit ? ", at most " + std::to_string(o.limit) : "");
  report.add("protocol", protocol, "protocol", eval::quote(protocol));
  report.add("items", std::to_string(acc.count) + " of " + std::to_string(items.size()), "items",
             std::to_string(acc.count));
  report.add("HellaSwag acc",
             eval::format("%.4f", acc.mean) + " ± " + eval::format("%.4f", acc.standardError),
             "acc", eval::format("%.6f", acc.mean));
  report.addJson("acc_stderr", eval::format("%.6f", acc.standardError));
  report.add("HellaSwag acc_norm",
             eval::format("%.4f", accNorm.mean) + " ± " +
                 eval::format("%.4f", accNorm.standardError),
             "acc_norm", eval::format("%.6f", accNorm.mean));
  report.addJson("acc_norm_stderr", eval::format("%.6f", accNorm.standardError));
  log.finish();
  finishReport(report, o, sc, seconds);
  return 0;
}
