//===- EvalTool.cpp - What midllama-eval's tasks share --------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "EvalTool.h"

#include "runtime/eval/KVCache.h"
#include "runtime/eval/ModelSummary.h"
#include "runtime/eval/Subset.h"
#include "runtime/support/OutputFile.h"

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>

using namespace midllama;
using namespace midllama::evaltool;
using namespace midllama::rt;

void midllama::evaltool::die(const std::string &message) {
  std::fprintf(stderr, "midllama-eval: %s\n", message.c_str());
  std::exit(1);
}

namespace {

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

/// Writes `text` to `path` (atomically) or to stdout for "-".
void writeOutput(const std::string &path, const std::string &what, const std::string &text) {
  if (path == "-") {
    std::fputs(text.c_str(), stdout);
    return;
  }
  std::string error;
  auto out = OutputFile::create(path, what, error);
  if (!out)
    die(error);
  out->write(text); // a write error is reported by commit
  if (!out->commit(error))
    die(error);
}

} // namespace

Scorer midllama::evaltool::makeScorer(const Options &o) {
  Scorer sc;
  std::string error, notice;
  if (!(sc.model = Model::load(o.model, error)))
    die(error);
  eval::applyActivations(*sc.model, o.activations);
  eval::applyKVCache(*sc.model, o.kvCache);
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

void midllama::evaltool::requireEncodable(const Scorer &sc, const std::string &text,
                                          const std::string &where) {
  int64_t at = sc.tokenizer->firstUnencodable(text);
  if (at >= 0)
    die(where + ": the model's tokenizer cannot encode byte " +
        eval::format("0x%02X", unsigned(uint8_t(text[size_t(at)]))) + " at offset " +
        std::to_string(at) + " (its vocabulary has no token for it; Hugging Face's "
        "tokenizer would drop it silently and score another text)");
}

void SampleLog::finish() const {
  if (!path.empty())
    writeOutput(path, "--samples", text);
}

void midllama::evaltool::beginReport(eval::Report &report, const Options &o,
                                     const Scorer &sc) {
  eval::addModelSummary(report, *sc.model, o.model);
  if (!sc.executor->onGpu()) // the CPU's activations; GPU kernels take fp32 ones
    eval::addActivations(report, *sc.model, o.activations);
  eval::addKVCache(report, *sc.model, o.kvCache, sc.executor->onGpu());
}

void midllama::evaltool::finishReport(eval::Report &report, const Options &o,
                                      const Scorer &sc, double seconds) {
  report.add("time", eval::format("%.1f s", seconds), "seconds", eval::format("%.3f", seconds));
  report.add("device", sc.executor->deviceName(), "device",
             eval::quote(sc.executor->deviceName()));
  report.add("peak RSS", eval::format("%.1f MB", double(peakRSS()) / 1e6), "peak_rss_bytes",
             std::to_string(peakRSS()));
  report.printTable(stderr, "midllama-eval report");
  if (!o.json.empty())
    writeOutput(o.json, "--json", report.json());
}

std::vector<size_t> midllama::evaltool::pickItems(const Options &o, const std::string &name,
                                                 size_t count) {
  std::vector<size_t> keep = rt::eval::subsetOf(name, count, o.subset, o.seed);
  if (o.limit && int64_t(keep.size()) > o.limit)
    keep.resize(size_t(o.limit));
  return keep;
}

void midllama::evaltool::progress(const std::string &line, double elapsed, int64_t done,
                                  int64_t total) {
  std::fprintf(stderr, "%s, %.0f s, ETA %.0f s\n", line.c_str(), elapsed,
               done ? elapsed / double(done) * double(total - done) : 0.0);
}
