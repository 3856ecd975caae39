//===- midllama-eval.cpp - Downstream task scores of a compiled model -----===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// midllama-eval MODEL.mlm --task mmlu --data DIR [--shots N] [--subset F --seed S]
//                         [--limit N] [--threads N] [--device D] [--json FILE]
//
// Scores a compiled model on a multiple-choice task the way lm-evaluation-harness does
// (runtime/eval/MultipleChoice.h, runtime/eval/Mmlu.h) and reports accuracy with its
// standard error, per subject and averaged (micro: over questions, as the harness's
// `mmlu` group; macro: over subjects), with the exact protocol, the time and the peak
// memory. Runtime only: no MLIR.
//
//===----------------------------------------------------------------------===//

#include "midllama/Support/FatalErrors.h"
#include "runtime/Executor.h"
#include "runtime/Model.h"
#include "runtime/cpu/Kernels.h"
#include "runtime/eval/Clock.h"
#include "runtime/eval/Mmlu.h"
#include "runtime/eval/ModelSummary.h"
#include "runtime/eval/Report.h"
#include "runtime/support/OutputFile.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <sys/resource.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace midllama::rt;

namespace {

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "midllama-eval: %s\n", message.c_str());
  std::exit(1);
}

const char *kUsage =
    "usage: midllama-eval MODEL.mlm --task mmlu --data DIR [--shots N] [--subset F]\n"
    "                     [--seed S] [--limit N] [--threads N] [--device cpu|cuda|auto]\n"
    "                     [--json FILE]\n";

struct Options {
  std::string model, task, data, json;
  int64_t shots = 0, limit = 0, threads = 0;
  double subset = 1;
  uint64_t seed = 1234;
  Device device = Device::Auto;
};

double parseNumber(const std::string &flag, const std::string &text, double lo, double hi) {
  char *end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end || !(v >= lo && v <= hi))
    die(flag + " must be a number from " + eval::format("%g", lo) + " to " +
        eval::format("%g", hi) + " (got '" + text + "')");
  return v;
}

Options parse(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        die(a + " needs a value\n" + kUsage);
      return argv[++i];
    };
    if (a == "--task")
      o.task = value();
    else if (a == "--data")
      o.data = value();
    else if (a == "--json")
      o.json = value();
    else if (a == "--shots")
      o.shots = int64_t(parseNumber(a, value(), 0, 25));
    else if (a == "--limit")
      o.limit = int64_t(parseNumber(a, value(), 1, 1e9));
    else if (a == "--threads")
      o.threads = int64_t(parseNumber(a, value(), 1, 1024));
    else if (a == "--subset")
      o.subset = parseNumber(a, value(), 0, 1);
    else if (a == "--seed")
      o.seed = uint64_t(parseNumber(a, value(), 0, 9e15));
    else if (a == "--device") {
      std::string d = value();
      o.device = d == "cpu" ? Device::CPU : d == "cuda" ? Device::CUDA : d == "auto"
                                                                        ? Device::Auto
                                                                        : (die("--device must "
                                                                               "be cpu, cuda or "
                                                                               "auto (got '" +
                                                                               d + "')"),
                                                                           Device::Auto);
    } else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (!a.empty() && a[0] == '-')
      die("unknown option '" + a + "'\n" + kUsage);
    else if (o.model.empty())
      o.model = a;
    else
      die("more than one model given ('" + o.model + "', '" + a + "')");
  }
  if (o.model.empty())
    die(std::string("no model given\n") + kUsage);
  if (o.task.empty())
    die("--task is required (mmlu)");
  if (o.task != "mmlu")
    die("unknown task '" + o.task + "' (known: mmlu)");
  if (o.data.empty())
    die("--data DIR is required: the MMLU directory with dev/ and test/");
  if (!(o.subset > 0))
    die("--subset must be more than 0 (an empty subset scores nothing)");
  return o;
}

int64_t peakRSS() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return int64_t(u.ru_maxrss) * 1024;
}

std::unique_ptr<Tokenizer> tokenizerOf(const Model &model) {
  if (!model.tokenizerSize())
    die("the artifact has no tokenizer (the prompts are text); recompile with "
        "midllama-compile --tokenizer FILE");
  std::string error;
  auto t = Tokenizer::fromBytes(std::string_view(reinterpret_cast<const char *>(
                                                     model.tokenizerData()),
                                                 size_t(model.tokenizerSize())),
                                "embedded tokenizer", error);
  if (!t)
    die(error);
  return t;
}

struct SubjectResult {
  std::string name;
  eval::Accuracy acc;
};

/// The test questions scored, per subject (a subset or limit that leaves nothing is an
/// error, not a 0).
std::vector<std::vector<size_t>> pickQuestions(const Options &o,
                                               const std::vector<eval::MmluSubject> &subjects,
                                               int64_t &total) {
  std::vector<std::vector<size_t>> picked;
  total = 0;
  for (const eval::MmluSubject &s : subjects) {
    std::vector<size_t> keep = eval::subsetOf(s.name, s.test.size(), o.subset, o.seed);
    if (o.limit && int64_t(keep.size()) > o.limit)
      keep.resize(size_t(o.limit));
    if (o.shots > int64_t(s.dev.size()))
      die("--shots " + std::to_string(o.shots) + ": subject '" + s.name + "' has only " +
          std::to_string(s.dev.size()) + " dev questions");
    total += int64_t(keep.size());
    picked.push_back(std::move(keep));
  }
  return picked;
}

/// The model and what scoring a question needs.
struct Scorer {
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<Executor> executor;
  int64_t vocab = 0, positions = 0, chunk = 0;
};

Scorer makeScorer(const Options &o) {
  Scorer sc;
  std::string error, notice;
  if (!(sc.model = Model::load(o.model, error)))
    die(error);
  sc.tokenizer = tokenizerOf(*sc.model);
  sc.vocab = sc.model->vocabSize();
  sc.positions = sc.model->maxContext();
  sc.chunk = std::min<int64_t>(sc.positions, 512);
  sc.executor = makeExecutor(*sc.model, sc.chunk, sc.positions, 1, o.device, notice, error);
  if (!sc.executor)
    die(error);
  if (!notice.empty())
    std::fprintf(stderr, "midllama-eval: %s\n", notice.c_str());
  return sc;
}

/// Scores the picked questions subject by subject, with a progress line each.
std::vector<SubjectResult> scoreAll(const Options &o, Scorer &sc,
                                    const std::vector<eval::MmluSubject> &subjects,
                                    const std::vector<std::vector<size_t>> &picked,
                                    int64_t total, std::vector<double> &all, double &seconds) {
  double start = eval::nowSeconds();
  std::string error;
  std::vector<SubjectResult> results;
  for (size_t si = 0; si < subjects.size(); ++si) {
    const eval::MmluSubject &s = subjects[si];
    std::vector<double> outcomes;
    for (size_t i : picked[si]) {
      eval::ChoiceQuestion q = eval::mmluQuestion(s, s.test[i], o.shots);
      eval::EncodedQuestion e = eval::encodeQuestion(*sc.tokenizer, q);
      eval::ChoiceScores scores;
      if (!eval::scoreQuestion(*sc.executor, sc.vocab, sc.positions, sc.chunk, e, scores,
                               error))
        die("subject '" + s.name + "', question " + std::to_string(i) + ": " + error);
      outcomes.push_back(eval::bestChoice(scores.logLikelihood) == q.answer ? 1.0 : 0.0);
    }
    all.insert(all.end(), outcomes.begin(), outcomes.end());
    results.push_back({s.name, eval::accuracyOf(outcomes)});
    double elapsed = eval::nowSeconds() - start;
    int64_t done = int64_t(all.size());
    std::fprintf(stderr, "mmlu: %zu/%zu subjects, %lld/%lld questions, acc so far %.4f, "
                         "%.0f s, ETA %.0f s\n",
                 si + 1, subjects.size(), (long long)done, (long long)total,
                 eval::accuracyOf(all).mean, elapsed,
                 done ? elapsed / double(done) * double(total - done) : 0.0);
  }
  seconds = eval::nowSeconds() - start;
  return results;
}

void writeReport(const Options &o, const Scorer &sc, size_t subjectCount,
                 const std::vector<SubjectResult> &results, const std::vector<double> &all,
                 double seconds) {
  eval::Accuracy micro = eval::accuracyOf(all);
  double macro = 0;
  for (const SubjectResult &r : results)
    macro += r.acc.mean / double(results.size());
  eval::Report report;
  eval::addModelSummary(report, *sc.model, o.model);
  std::string protocol =
      "lm-evaluation-harness mmlu prompt, " + std::to_string(o.shots) +
      "-shot (first dev questions), log-likelihood of \" A\"..\" D\", subset " +
      eval::format("%g", o.subset) + " seed " + std::to_string(o.seed) +
      (o.limit ? ", at most " + std::to_string(o.limit) + " per subject" : "");
  report.add("protocol", protocol, "protocol", eval::quote(protocol));
  report.add("questions",
             std::to_string(micro.count) + " in " + std::to_string(subjectCount) + " subjects",
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
  report.add("time", eval::format("%.1f s", seconds), "seconds", eval::format("%.3f", seconds));
  report.add("device", sc.executor->deviceName(), "device",
             eval::quote(sc.executor->deviceName()));
  report.add("peak RSS", eval::format("%.1f MB", double(peakRSS()) / 1e6), "peak_rss_bytes",
             std::to_string(peakRSS()));
  report.printTable(stderr, "midllama-eval report");
  if (o.json.empty())
    return;
  std::string text = report.json(), error;
  if (o.json == "-") {
    std::fputs(text.c_str(), stdout);
    return;
  }
  auto out = OutputFile::create(o.json, "--json", error);
  if (!out)
    die(error);
  out->write(text); // a write error is reported by commit
  if (!out->commit(error))
    die(error);
}

int run(int argc, char **argv) {
  Options o = parse(argc, argv);
  if (o.threads)
    cpu::setThreadCount(int(o.threads));
  std::string error;
  std::vector<eval::MmluSubject> subjects;
  if (!eval::loadMmlu(o.data, subjects, error))
    die(error);
  int64_t total = 0;
  std::vector<std::vector<size_t>> picked = pickQuestions(o, subjects, total);
  Scorer sc = makeScorer(o);
  std::vector<double> all;
  double seconds = 0;
  std::vector<SubjectResult> results = scoreAll(o, sc, subjects, picked, total, all, seconds);
  writeReport(o, sc, subjects.size(), results, all, seconds);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  midllama::installFatalExceptionHandler("midllama-eval");
  try {
    return run(argc, argv);
  } catch (const std::bad_alloc &) {
    die("out of memory: the KV cache and activation buffers do not fit (compile with a "
        "smaller midllama-compile --max-context)");
  }
}
