//===- WikitextTask.cpp - midllama-eval --task wikitext -------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// WikiText-2 as lm-evaluation-harness's `wikitext` task (runtime/eval/Wikitext.h): word
// perplexity, byte perplexity and bits per byte over the pages of the raw test file, each
// page scored by rolling windows of --max-length tokens (default: the artifact's positions,
// the harness's max_length for a model of that context).
//
//===----------------------------------------------------------------------===//

#include "EvalTool.h"

#include "runtime/eval/Clock.h"
#include "runtime/eval/Wikitext.h"
#include "runtime/support/InputFile.h"

#include <cmath>

using namespace midllama;
using namespace midllama::evaltool;
using namespace midllama::rt;

int midllama::evaltool::runWikitext(const Options &o) {
  std::string raw, error;
  if (!readInputFile(o.data, "WikiText file", kTextInputLimit, raw, error))
    die(error);
  std::vector<std::string> pages = eval::wikitextPages(raw);
  if (pages.empty())
    die("WikiText file '" + o.data + "' holds no pages");
  if (o.limit && int64_t(pages.size()) > o.limit)
    pages.resize(size_t(o.limit));
  Scorer sc = makeScorer(o);
  int64_t maxLength = o.maxLength ? o.maxLength : sc.positions;
  if (maxLength > sc.positions)
    die("--max-length " + std::to_string(maxLength) + " exceeds the artifact's " +
        std::to_string(sc.positions) + " positions (compile with a larger --max-context)");
  if (o.prefixToken < 0 && sc.tokenizer->format() == "bytelevel")
    die("--prefix-token ID is required for a byte-level tokenizer: the harness leads each "
        "document with the tokenizer's BOS (else its EOS) token, which tokenizer.json does "
        "not name (SmolLM2: 1, <|im_start|>)");
  int32_t prefix = o.prefixToken >= 0 ? int32_t(o.prefixToken) : Tokenizer::kBos;
  if (prefix >= sc.vocab)
    die("--prefix-token " + std::to_string(prefix) + " is not below the vocabulary size " +
        std::to_string(sc.vocab));
  SampleLog log{o.samples, {}};
  double ll = 0, start = eval::nowSeconds();
  int64_t words = 0, bytes = 0, tokens = 0;
  for (size_t i = 0; i < pages.size(); ++i) {
    std::string text = eval::wikitextDetokenize(pages[i]);
    requireEncodable(sc, text, "page " + std::to_string(i));
    std::vector<int32_t> ids = sc.tokenizer->encode(text, /*bos=*/false, false);
    double pageLL = 0;
    if (!eval::rollingLogLikelihood(*sc.executor, sc.vocab, sc.chunk, ids, prefix, maxLength,
                                    pageLL, error))
      die("page " + std::to_string(i) + ": " + error);
    int64_t pageWords = eval::wikitextWords(pages[i]), pageBytes = int64_t(pages[i].size());
    ll += pageLL;
    words += pageWords;
    bytes += pageBytes;
    tokens += int64_t(ids.size());
    log.add("{\"doc\": " + std::to_string(i) + ", \"loglikelihood\": " +
            eval::format("%.6f", pageLL) + ", \"words\": " + std::to_string(pageWords) +
            ", \"bytes\": " + std::to_string(pageBytes) + ", \"tokens\": " +
            std::to_string(ids.size()) + "}");
    progress("wikitext: " + std::to_string(i + 1) + "/" + std::to_string(pages.size()) +
                 " pages, " + std::to_string(tokens) + " tokens, word perplexity so far " +
                 eval::format("%.4f", std::exp(-ll / double(words))),
             eval::nowSeconds() - start, int64_t(i + 1), int64_t(pages.size()));
  }
  double seconds = eval::nowSeconds() - start;
  eval::Report report;
  beginReport(report, o, sc);
  std::string protocol =
      "lm-evaluation-harness wikitext: pages of the raw file, wikitext_detokenizer, "
      "loglikelihood_rolling with max_length " + std::to_string(maxLength) +
      " and prefix token " + std::to_string(prefix) +
      (o.limit ? ", the first " + std::to_string(pages.size()) + " pages" : "");
  report.add("protocol", protocol, "protocol", eval::quote(protocol));
  report.add("pages / tokens / words / bytes",
             std::to_string(pages.size()) + " / " + std::to_string(tokens) + " / " +
                 std::to_string(words) + " / " + std::to_string(bytes),
             "pages", std::to_string(pages.size()));
  report.addJson("tokens", std::to_string(tokens));
  report.addJson("words", std::to_string(words));
  report.addJson("bytes", std::to_string(bytes));
  report.add("word perplexity", eval::format("%.4f", std::exp(-ll / double(words))),
             "word_perplexity", eval::format("%.6f", std::exp(-ll / double(words))));
  report.add("byte perplexity", eval::format("%.4f", std::exp(-ll / double(bytes))),
             "byte_perplexity", eval::format("%.6f", std::exp(-ll / double(bytes))));
  report.add("bits per byte", eval::format("%.4f", -ll / double(bytes) / std::log(2.0)),
             "bits_per_byte", eval::format("%.6f", -ll / double(bytes) / std::log(2.0)));
  report.addJson("loglikelihood", eval::format("%.6f", ll));
  log.finish();
  finishReport(report, o, sc, seconds);
  return 0;
}
