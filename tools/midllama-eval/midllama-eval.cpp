//===- midllama-eval.cpp - Downstream task scores of a compiled model -----===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// midllama-eval MODEL.mlm --task mmlu|bbh|hellaswag|wikitext --data PATH [--shots N]
//                         [--subset F --seed S] [--limit N] [--max-gen-tokens N]
//                         [--max-length N] [--prefix-token ID] [--threads N] [--device D]
//                         [--int8-activations] [--bf16-activations] | [--fp32-activations]
//                         [--kv-cache f32|f16]
//                         [--json FILE]
//                         [--samples FILE]
//
// Scores a compiled model on a downstream task the way lm-evaluation-harness does
// (runtime/eval/: MultipleChoice with Mmlu and Hellaswag, GenerateUntil and Bbh, Wikitext)
// and reports accuracy with its standard error, per subject or task and averaged
// (perplexities for wikitext), with the exact protocol, the time and the peak memory;
// --samples logs every question. Runtime only: no MLIR.
//
//===----------------------------------------------------------------------===//

#include "EvalTool.h"

#include "midllama/Support/FatalErrors.h"
#include "runtime/cpu/Kernels.h"
#include "runtime/eval/KVCache.h"
#include "runtime/eval/Report.h"

#include <cstdio>
#include <cstdlib>
#include <string>

using namespace midllama;
using namespace midllama::evaltool;
using namespace midllama::rt;

namespace {

const char *kUsage =
    "usage: midllama-eval MODEL.mlm --task mmlu|bbh|hellaswag|wikitext --data PATH\n"
    "                     [--shots N] [--subset F] [--seed S] [--limit N] [--max-gen-tokens N]\n"
    "                     [--max-length N] [--prefix-token ID] [--threads N]\n"
    "                     [--device cpu|cuda|auto]\n"
    "                     [--int8-activations] [--bf16-activations] | [--fp32-activations]\n"
    "                     [--kv-cache f32|f16]\n"
    "                     [--json FILE]\n"
    "                     [--samples FILE]\n"
    "  --data: mmlu: the directory with dev/ and test/ (data/eval/mmlu); bbh: the directory\n"
    "          with <task>.json and cot-prompts/ (data/eval/bbh); hellaswag: the jsonl file\n"
    "          (data/eval/hellaswag/hellaswag_val.jsonl); wikitext: the raw test file\n"
    "          (data/wikitext2/wiki.test.raw)\n";

double parseNumber(const std::string &flag, const std::string &text, double lo, double hi) {
  char *end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end || !(v >= lo && v <= hi))
    die(flag + " must be a number from " + eval::format("%g", lo) + " to " +
        eval::format("%g", hi) + " (got '" + text + "')");
  return v;
}

Device parseDevice(const std::string &d) {
  if (d == "cpu")
    return Device::CPU;
  if (d == "cuda")
    return Device::CUDA;
  if (d != "auto")
    die("--device must be cpu, cuda or auto (got '" + d + "')");
  return Device::Auto;
}

void check(const Options &o) {
  if (o.model.empty())
    die(std::string("no model given\n") + kUsage);
  if (o.task.empty())
    die("--task is required (mmlu, bbh, hellaswag or wikitext)");
  if (o.task != "mmlu" && o.task != "bbh" && o.task != "hellaswag" && o.task != "wikitext")
    die("unknown task '" + o.task + "' (known: mmlu, bbh, hellaswag, wikitext)");
  if (o.data.empty())
    die(o.task == "mmlu"  ? "--data DIR is required: the MMLU directory with dev/ and test/"
        : o.task == "bbh" ? "--data DIR is required: the BBH directory with <task>.json and "
                            "cot-prompts/"
        : o.task == "hellaswag" ? "--data FILE is required: the HellaSwag jsonl file"
                                : "--data FILE is required: the raw WikiText test file");
  if (!(o.subset > 0))
    die("--subset must be more than 0 (an empty subset scores nothing)");
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
    else if (a == "--samples")
      o.samples = value();
    else if (a == "--shots")
      o.shots = int64_t(parseNumber(a, value(), 0, 25));
    else if (a == "--limit")
      o.limit = int64_t(parseNumber(a, value(), 1, 1e9));
    else if (a == "--max-gen-tokens")
      o.maxGenTokens = int64_t(parseNumber(a, value(), 1, 1e6));
    else if (a == "--max-length")
      o.maxLength = int64_t(parseNumber(a, value(), 2, 1e7));
    else if (a == "--prefix-token")
      o.prefixToken = int64_t(parseNumber(a, value(), 0, 1e9));
    else if (a == "--threads")
      o.threads = int64_t(parseNumber(a, value(), 1, 1024));
    else if (a == "--subset")
      o.subset = parseNumber(a, value(), 0, 1);
    else if (a == "--seed")
      o.seed = uint64_t(parseNumber(a, value(), 0, 9e15));
    else if (a == "--device")
      o.device = parseDevice(value());
    else if (std::string clash; eval::parseActivationFlag(a, o.activations, clash)) {
      if (!clash.empty())
        die(clash);
    } else if (a == "--kv-cache") {
      o.kvCache = value();
      if (std::string why; !eval::checkKVCacheFlag(o.kvCache, why))
        die(why);
    }
    else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (!a.empty() && a[0] == '-')
      die("unknown option '" + a + "'\n" + kUsage);
    else if (o.model.empty())
      o.model = a;
    else
      die("more than one model given ('" + o.model + "', '" + a + "')");
  }
  check(o);
  return o;
}

int run(int argc, char **argv) {
  Options o = parse(argc, argv);
  if (o.threads)
    cpu::setThreadCount(int(o.threads));
  if (o.task == "bbh")
    return runBbh(o);
  if (o.task == "hellaswag")
    return runHellaswag(o);
  return o.task == "wikitext" ? runWikitext(o) : runMmlu(o);
}

} // namespace

int main(int argc, char **argv) {
  installFatalExceptionHandler("midllama-eval");
  try {
    return run(argc, argv);
  } catch (const std::bad_alloc &) {
    die("out of memory: the KV cache and activation buffers do not fit (compile with a "
        "smaller midllama-compile --max-context)");
  }
}
