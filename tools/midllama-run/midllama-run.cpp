//===- midllama-run.cpp - Run a compiled model and report -----------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// midllama-run MODEL.mlm [--prompt TEXT] [--steps N] [--temperature T --seed S]
//              [--perplexity FILE --ctx N [--kl-base BASE.mlm]] [--repeat R]
//              [--threads T] [--json FILE|-] [--device auto|cpu|cuda]
//
// An artifact compiled for a GPU runs on the CUDA backend when a usable GPU is present
// (--device auto, the default), else on the CPU backend with a line saying why; --device
// cuda makes that an error, --device cpu never tries the GPU.
//
// Generation writes the text (and only the text) to stdout as it is produced; the report
// (artifact size, weight bytes by storage type, peak RSS, time to first token, prefill and
// decode tokens/s as the median of --repeat runs, perplexity with its protocol) goes to
// stderr as a table and, with --json, as JSON. Needs nothing but the artifact: the
// tokenizer is inside it.
//
//===----------------------------------------------------------------------===//

#include "midllama/Support/FatalErrors.h"
#include "runtime/DeviceProbe.h"
#include "runtime/Executor.h"
#include "runtime/Model.h"
#include "runtime/cpu/Session.h"
#include "runtime/eval/Activations.h"
#include "runtime/eval/KVCache.h"
#include "runtime/eval/Generation.h"
#include "runtime/eval/ModelSummary.h"
#include "runtime/eval/Perplexity.h"
#include "runtime/eval/Report.h"
#include "runtime/eval/Scoring.h"
#include "runtime/support/Memory.h"
#include "midllama/Search/Budget.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cerrno>
#include <fstream>
#include <new>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

#include "runtime/support/InputFile.h"
#include "runtime/support/OutputFile.h"

using namespace midllama::rt;

namespace {

struct Options {
  std::string model, prompt, perplexityFile, klBase, json, promptIds, logitsOut, expectLogits;
  bool havePrompt = false, havePromptIds = false, ignoreEos = false;
  double atol = 1e-4;
  int64_t maxWindows = 0, batch = 1;
  std::string sequencesOut, memoryBudget;
  int64_t steps = 256, ctx = 0, repeat = 1, threads = 0, seed = 0;
  double temperature = 0.0;
  Device device = Device::Auto;
  bool synthetic = false;
  eval::ActivationChoice activations; // nothing asked: the artifact's default
  std::string kvCache;                // --kv-cache; empty: the artifact's default
};

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "midllama-run: %s\n", message.c_str());
  std::exit(1);
}

const char *kUsage =
    "usage: midllama-run MODEL.mlm [--prompt TEXT] [--steps N] [--temperature T] [--seed S]\n"
    "                    [--perplexity FILE --ctx N [--kl-base BASE.mlm]] [--repeat R]\n"
    "                    [--threads T] [--json FILE|-] [--ignore-eos] [--max-windows W]\n"
    "                    [--batch B [--sequences-out PREFIX]] [--device auto|cpu|cuda]\n"
    "                    [--synthetic-weights] [--max-input-mb N] [--memory-budget SIZE]\n"
    "                    [--int8-activations] [--bf16-activations] | [--fp32-activations]\n"
    "                    [--kv-cache f32|f16]\n"
    "       midllama-run MODEL.mlm --prompt-ids \"ID ID ...\" [--logits-out FILE]\n"
    "                    [--expect-logits FILE [--atol X]]\n"
    "       midllama-run --probe-gpu\n";

int64_t parseInt(const std::string &flag, const char *value, int64_t lo, int64_t hi) {
  char *end;
  errno = 0;
  long long v = std::strtoll(value, &end, 10);
  // ERANGE: strtoll clamps a number beyond 64 bits to the largest; that is a bad value too.
  if (!*value || *end || errno == ERANGE || v < lo || v > hi)
    die("bad value '" + std::string(value) + "' for " + flag + " (an integer from " +
        std::to_string(lo) + " to " + std::to_string(hi) + ")");
  return v;
}

Options parse(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char * {
      if (i + 1 >= argc)
        die("missing value for " + a);
      return argv[++i];
    };
    if (a == "--prompt") {
      o.prompt = value();
      o.havePrompt = true;
    } else if (a == "--prompt-ids") {
      o.promptIds = value();
      o.havePromptIds = true;
    } else if (a == "--logits-out") {
      o.logitsOut = value();
    } else if (a == "--expect-logits") {
      o.expectLogits = value();
    } else if (a == "--atol") {
      char *end;
      const char *v = value();
      o.atol = std::strtod(v, &end);
      if (!*v || *end || !std::isfinite(o.atol) || !(o.atol >= 0))
        die("bad value '" + std::string(v) + "' for --atol (a non-negative number)");
    } else if (a == "--batch") {
      o.batch = parseInt(a, value(), 1, 4096);
    } else if (a == "--sequences-out") {
      o.sequencesOut = value();
    } else if (a == "--ignore-eos") {
      o.ignoreEos = true;
    } else if (std::string clash; eval::parseActivationFlag(a, o.activations, clash)) {
      if (!clash.empty())
        die(clash);
    } else if (a == "--kv-cache") {
      o.kvCache = value();
      if (std::string why; !eval::checkKVCacheFlag(o.kvCache, why))
        die(why);
    } else if (a == "--memory-budget") {
      o.memoryBudget = value();
      midllama::search::Budget b;
      std::string why;
      if (!midllama::search::parseBudget(o.memoryBudget, b, why))
        die("--memory-budget: " + why);
    } else if (a == "--max-windows") {
      o.maxWindows = parseInt(a, value(), 1, INT64_MAX);
    } else if (a == "--steps") {
      o.steps = parseInt(a, value(), 0, int64_t(1) << 24);
    } else if (a == "--temperature") {
      char *end;
      const char *v = value();
      o.temperature = std::strtod(v, &end);
      if (!*v || *end || !(o.temperature >= 0) || o.temperature > 100)
        die("bad value '" + std::string(v) + "' for --temperature (0 for greedy, up to 100)");
    } else if (a == "--seed") {
      o.seed = parseInt(a, value(), 0, INT64_MAX);
    } else if (a == "--perplexity") {
      o.perplexityFile = value();
    } else if (a == "--ctx") {
      o.ctx = parseInt(a, value(), 2, int64_t(1) << 24);
    } else if (a == "--kl-base") {
      o.klBase = value();
    } else if (a == "--repeat") {
      o.repeat = parseInt(a, value(), 1, 1000);
    } else if (a == "--threads") {
      o.threads = parseInt(a, value(), 1, 1024);
    } else if (a == "--json") {
      o.json = value();
    } else if (a == "--max-input-mb") {
      setInputLimitOverride(parseInt(a, value(), 1, int64_t(1) << 30) * kMiB);
    } else if (a == "--device") {
      std::string d = value();
      if (d != "auto" && d != "cpu" && d != "cuda")
        die("bad value '" + d + "' for --device (auto, cpu or cuda)");
      o.device = d == "cpu" ? Device::CPU : d == "cuda" ? Device::CUDA : Device::Auto;
    } else if (a == "--synthetic-weights") {
      o.synthetic = true;
      o.ignoreEos = true; // random weights: an end-of-text token means nothing
    } else if (a == "--probe-gpu") {
      // Whether this machine can run GPU artifacts, and why not: for scripts and the tests.
      GpuProbe probe = probeGpu();
      if (!probe.usable) {
        std::printf("no usable GPU: %s\n", probe.reason.c_str());
        std::exit(1);
      }
      std::printf("%s sm_%d%d %zu MiB\n", probe.name.c_str(), probe.computeMajor,
                  probe.computeMinor, probe.totalMemoryBytes >> 20);
      std::exit(0);
    } else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (!a.empty() && a[0] == '-') {
      die("unknown option '" + a + "'\n" + kUsage);
    } else if (o.model.empty()) {
      o.model = a;
    } else {
      die("more than one model given ('" + o.model + "', '" + a + "')");
    }
  }
  if (o.model.empty())
    die(std::string("no model given\n") + kUsage);
  if ((!o.logitsOut.empty() || !o.expectLogits.empty()) && o.promptIds.empty())
    die("--logits-out and --expect-logits score the tokens of --prompt-ids");
  if (!o.perplexityFile.empty() && !o.ctx)
    die("--perplexity needs --ctx N (the window length)");
  if (!o.klBase.empty() && o.perplexityFile.empty())
    die("--kl-base compares models on the --perplexity windows; give --perplexity too");
  return o;
}

int64_t peakRSS() {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return int64_t(u.ru_maxrss) * 1024;
}

double median(std::vector<double> v) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

/// All of `path`, a regular file within the limit for `what` (runtime/support/InputFile.h).
std::string readFile(const std::string &path, const std::string &what, int64_t limit) {
  std::string contents, error;
  if (!readInputFile(path, what, limit, contents, error))
    die(error);
  return contents;
}

/// Writes `size` bytes at `data` to `path` as an OutputFile: staged in the run's transaction.
void writeFile(const std::string &path, const std::string &what, const void *data,
               size_t size) {
  std::string error;
  std::unique_ptr<OutputFile> f = OutputFile::create(path, what, error);
  if (!f)
    die(error);
  f->write(data, size); // a write error is reported by commit
  if (!f->commit(error))
    die(error);
}
void writeFile(const std::string &path, const std::string &what, const std::string &text) {
  writeFile(path, what, text.data(), text.size());
}

std::unique_ptr<Tokenizer> tokenizerOf(const Model &model) {
  if (!model.tokenizerSize())
    die("the artifact has no tokenizer; recompile with midllama-compile --tokenizer FILE");
  std::string error;
  auto t = Tokenizer::fromBytes(
      std::string_view(reinterpret_cast<const char *>(model.tokenizerData()),
                       size_t(model.tokenizerSize())),
      "embedded tokenizer", error);
  if (!t)
    die(error);
  if (t->vocabSize() != model.vocabSize())
    die("the embedded tokenizer has " + std::to_string(t->vocabSize()) +
        " tokens, the model " + std::to_string(model.vocabSize()));
  return t;
}

/// The whitespace-separated words of --prompt-ids (counted before the model is read).
std::vector<std::string> givenIdsText(const Options &o) {
  std::istringstream in(o.promptIds);
  std::vector<std::string> words;
  for (std::string w; in >> w;)
    words.push_back(w);
  return words;
}

/// The token ids of --prompt-ids, each checked against the vocabulary.
std::vector<int32_t> givenIds(const Options &o, int64_t vocab) {
  std::vector<int32_t> ids;
  if (!o.havePromptIds)
    return ids;
  for (const std::string &word : givenIdsText(o))
    ids.push_back(int32_t(parseInt("--prompt-ids", word.c_str(), 0, vocab - 1)));
  if (ids.empty())
    die("--prompt-ids has no token ids");
  return ids;
}

/// Every input and output checked before any work: regular files for inputs, and no
/// output that is an input (the artifact, say) or a device to be replaced.
void checkFiles(const Options &o) {
  std::string error;
  if (!o.perplexityFile.empty() &&
      !checkInputFile(o.perplexityFile, "perplexity text", kTextInputLimit, error))
    die(error);
  if (!o.expectLogits.empty() &&
      !checkInputFile(o.expectLogits, "expected logits", kNoInputLimit, error))
    die(error);
  if (!o.klBase.empty() && !checkInputFile(o.klBase, "KL base artifact", kNoInputLimit, error))
    die(error);
  if ((!o.json.empty() && o.json != "-" && !checkOutputPath(o.json, "--json", error)) ||
      (!o.logitsOut.empty() && !checkOutputPath(o.logitsOut, "--logits-out", error)) ||
      (!o.sequencesOut.empty() &&
       !checkOutputPath(o.sequencesOut + ".0.txt", "--sequences-out", error)))
    die(error);
}

/// Refuses up front what cannot fit in the memory this machine has available.
/// The session the run plans: its positions, sequences, and the bytes of its KV cache and
/// activation buffers.
struct SessionPlan {
  int64_t positions = 0, batch = 1, bytes = 0;
};

SessionPlan planSession(const Options &o, const Model &model) {
  size_t given = givenIdsText(o).size();
  int64_t tokens = !o.perplexityFile.empty() ? o.ctx
                   : given                   ? int64_t(given) + o.steps
                                             : o.steps + 256;
  SessionPlan p;
  // Generation runs --batch sequences, each with its own KV cache; scoring runs one.
  p.batch =
      o.perplexityFile.empty() && o.logitsOut.empty() && o.expectLogits.empty() ? o.batch : 1;
  p.positions = std::min(tokens, model.maxContext());
  p.bytes = Session::plannedBytes(model, p.positions, tokens, p.batch);
  return p;
}

void checkMemoryFits(const Options &o, const Model &model) {
  SessionPlan p = planSession(o, model);
  int64_t available = availableMemoryBytes();
  if (available >= 0 && p.bytes > available)
    die("the session needs " + std::to_string(p.bytes / (1 << 20)) + " MiB (KV cache for " +
        std::to_string(p.positions) + " positions x " + std::to_string(p.batch) +
        " sequence(s) and activation buffers) but " + std::to_string(available >> 20) +
        " MiB are available; use a smaller --batch or --steps, or compile with a smaller "
        "midllama-compile --max-context");
}

/// --memory-budget: the model's weights and its session's KV cache and buffers must fit, or
/// the run is refused; the report says how much room is left. The budget in bytes (0: none).
int64_t checkMemoryBudget(const Options &o, const Model &model, eval::Report &report) {
  if (o.memoryBudget.empty())
    return 0;
  midllama::search::Budget b;
  std::string why;
  (void)midllama::search::parseBudget(o.memoryBudget, b, why); // checked when parsed
  int64_t weights = eval::weightBytes(model);
  int64_t budget = b.bytes(eval::parameterCount(model)), session = planSession(o, model).bytes;
  if (weights > budget || session > budget - weights)
    die("--memory-budget " + o.memoryBudget + " (" + std::to_string(budget) +
        " bytes): the weights take " + std::to_string(weights) +
        " bytes and this run's KV cache and buffers " + std::to_string(session) +
        "; compress further (--llm-search-recipe budget=...) or shorten the context");
  report.add("memory budget",
             std::to_string(budget) + " bytes: weights " + std::to_string(weights) +
                 " + KV cache and buffers " + std::to_string(session) + ", " +
                 std::to_string(budget - weights - session) + " to spare",
             "memory_budget_bytes", std::to_string(budget));
  report.addJson("session_planned_bytes", std::to_string(session));
  return budget;
}

/// Makes the executors of the run on --device, printing a fallback's reason once and
/// remembering the main model's device for the report.
class Executors {
public:
  Executors(const Options &o, const Model &main) : device(o.device), main(main) {}

  std::unique_ptr<Executor> make(const Model &m, int64_t maxTokens, int64_t context,
                                 int64_t batch) {
    std::string notice, why;
    std::unique_ptr<Executor> e = makeExecutor(m, maxTokens, context, batch, device, notice, why);
    if (!e)
      die(why);
    if (!notice.empty() && std::find(notices.begin(), notices.end(), notice) == notices.end()) {
      notices.push_back(notice);
      std::fprintf(stderr, "midllama-run: %s\n", notice.c_str());
    }
    if (&m == &main) {
      deviceName = e->deviceName();
      deviceBytes = std::max(deviceBytes, e->deviceBytes());
      mainOnGpu = e->onGpu();
    }
    return e;
  }

  void addToReport(eval::Report &report) const {
    if (!deviceName.empty())
      report.add("device", deviceName, "device", eval::quote(deviceName));
    if (deviceBytes > 0)
      report.add("GPU memory",
                 eval::format("%.1f MB (weights, KV cache, activations: one arena)",
                              double(deviceBytes) / 1e6),
                 "gpu_bytes", std::to_string(deviceBytes));
  }

private:
  Device device;
  const Model &main;
  std::vector<std::string> notices;
  std::string deviceName;
  int64_t deviceBytes = 0;
  bool mainOnGpu = false;

public:
  bool ranOnGpu() const { return mainOnGpu; }
};

/// --logits-out / --expect-logits: the logits of every position of --prompt-ids, one
/// forward pass from an empty cache (what reference implementations are compared on).
/// Returns the exit status.
int runLogits(const Options &o, const Model &model, const std::vector<int32_t> &ids,
              Executors &executors) {
  const int64_t vocab = model.vocabSize();
  if (int64_t(ids.size()) > model.maxContext())
    die("--prompt-ids has " + std::to_string(ids.size()) +
        " tokens, more than the model's context of " + std::to_string(model.maxContext()));
  std::string error;
  std::unique_ptr<Executor> session =
      executors.make(model, int64_t(ids.size()), int64_t(ids.size()), 1);
  const float *logits = session->forward(ids.data(), int64_t(ids.size()), 0, false, error);
  if (!logits)
    die(error);
  size_t count = ids.size() * size_t(vocab);
  if (!o.logitsOut.empty())
    writeFile(o.logitsOut, "--logits-out", logits, count * sizeof(float));
  if (o.expectLogits.empty())
    return 0;
  std::string golden = readFile(o.expectLogits, "expected logits", kNoInputLimit);
  if (golden.size() != count * sizeof(float))
    die("'" + o.expectLogits + "' holds " + std::to_string(golden.size() / 4) +
        " floats, not " + std::to_string(ids.size()) + " positions x " +
        std::to_string(vocab) + " logits");
  eval::LogitsDifference diff =
      eval::maxAbsDifference(logits, reinterpret_cast<const float *>(golden.data()), count);
  std::fprintf(stdout,
               "max |logit - expected| = %.3g over %zu logits (position %zu, token %zu); "
               "tolerance %.3g: %s\n",
               diff.max, count, diff.index / size_t(vocab), diff.index % size_t(vocab), o.atol,
               diff.max <= o.atol ? "ok" : "FAILED");
  return diff.max <= o.atol ? 0 : 1;
}

/// --perplexity FILE --ctx N [--kl-base BASE]: the protocol of runtime/eval/Perplexity.h.
void runPerplexity(const Options &o, const Model &model, Executors &executors,
                   eval::Report &report) {
  if (o.ctx > model.maxContext())
    die("--ctx " + std::to_string(o.ctx) + " exceeds the model's context of " +
        std::to_string(model.maxContext()) + " tokens");
  std::string text = readFile(o.perplexityFile, "perplexity text", kTextInputLimit);
  if (text.empty())
    die("'" + o.perplexityFile + "' is empty");
  std::vector<int32_t> ids = tokenizerOf(model)->encode(text, /*bos=*/false, /*eos=*/false);
  int64_t windows = int64_t(ids.size()) / o.ctx;
  if (o.maxWindows && windows > o.maxWindows)
    windows = o.maxWindows; // a quick estimate on the file's first windows
  if (windows == 0)
    die("'" + o.perplexityFile + "' has " + std::to_string(ids.size()) +
        " tokens, fewer than one window of " + std::to_string(o.ctx));
  std::string error;
  std::unique_ptr<Model> base;
  if (!o.klBase.empty()) {
    if (!(base = Model::load(o.klBase, error)))
      die(error);
    if (base->vocabSize() != model.vocabSize())
      die("--kl-base model has another vocabulary");
    if (o.ctx > base->maxContext())
      die("--ctx exceeds the --kl-base model's context");
  }
  std::unique_ptr<Executor> session = executors.make(model, o.ctx, o.ctx, 1);
  std::unique_ptr<Executor> baseSession = base ? executors.make(*base, o.ctx, o.ctx, 1) : nullptr;
  // Progress: on a terminal a line rewritten in place, in logs one line per 10%.
  bool tty = isatty(2);
  auto start = std::chrono::steady_clock::now();
  auto progress = [&](int64_t done, int64_t all, double ppl) {
    int64_t every = std::max<int64_t>(1, all / (tty ? 200 : 10));
    if (done % every == 0 || done == all)
      std::fprintf(stderr, "%sperplexity: window %lld/%lld, running ppl %.4f, %.0f s%s",
                   tty ? "\r" : "", (long long)done, (long long)all, ppl,
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                       .count(),
                   tty ? "" : "\n");
  };
  eval::PerplexityResult r;
  if (!eval::evaluatePerplexity(*session, baseSession.get(), model.vocabSize(), ids, o.ctx,
                                windows, progress, r, error))
    die(error);
  if (tty)
    std::fprintf(stderr, "\n");
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                (unsigned long long)fnv1a(reinterpret_cast<const uint8_t *>(text.data()),
                                          text.size()));
  report.add("perplexity", eval::format("%.4f", r.perplexity), "perplexity",
             eval::format("%.6f", r.perplexity));
  std::string ctx = std::to_string(o.ctx), n = std::to_string(r.windows),
              predicted = std::to_string(r.predicted), tokens = std::to_string(ids.size());
  report.add("protocol",
             o.perplexityFile + " (fnv1a " + hex + ", joined as-is, no BOS), ctx " + ctx +
                 ", stride " + ctx + ", " + n + " windows, " + predicted +
                 " predicted tokens of " + tokens,
             "protocol",
             "{\"file\": " + eval::quote(o.perplexityFile) + ", \"fnv1a\": \"" + hex +
                 "\", \"join\": \"as-is\", \"bos\": false, \"ctx\": " + ctx +
                 ", \"stride\": " + ctx + ", \"windows\": " + n +
                 ", \"predicted_tokens\": " + predicted + ", \"file_tokens\": " + tokens + "}");
  if (base) {
    report.add("KL(base || model)", eval::format("%.6f", r.kl) + " nats/token", "kl",
               eval::format("%.8f", r.kl));
    report.add("top-1 agreement", eval::format("%.4f", r.top1), "top1_agreement",
               eval::format("%.6f", r.top1));
  }
  double rate = double(r.predicted) / r.seconds;
  report.add("evaluation throughput", eval::format("%.1f", rate) + " tokens/s",
             "eval_tokens_per_s", eval::format("%.3f", rate));
}

/// Generation from --prompt (or --prompt-ids): the text to stdout as it is produced, the
/// timings as the median of --repeat runs.
void runGeneration(const Options &o, const Model &model, const std::vector<int32_t> &ids,
                   Executors &executors, eval::Report &report) {
  std::unique_ptr<Tokenizer> tok;
  std::vector<int32_t> prompt = ids;
  if (prompt.empty() || model.tokenizerSize())
    tok = tokenizerOf(model);
  if (prompt.empty())
    prompt = tok->encode(o.prompt, /*bos=*/true, /*eos=*/false);
  if (o.havePrompt && !ids.empty())
    die("give --prompt or --prompt-ids, not both");
  if (int64_t(prompt.size()) + o.steps > model.maxContext())
    die("the prompt (" + std::to_string(prompt.size()) + " tokens) and " +
        std::to_string(o.steps) + " steps exceed the model's context of " +
        std::to_string(model.maxContext()) + " tokens");
  eval::GenerationOptions options{o.steps, o.temperature, o.seed, o.batch, o.ignoreEos, {}};
  if (tok)
    options.endsText = [&tok](int32_t id) { return tok->endsText(id); };
  std::vector<double> ttft, prefill, decode;
  eval::GenerationRun run;
  for (int64_t r = 0; r < o.repeat; ++r) {
    std::unique_ptr<Executor> session =
        executors.make(model, int64_t(prompt.size()), int64_t(prompt.size()) + o.steps, o.batch);
    size_t printed = 0;
    auto print = [&](int32_t previous, int32_t next) {
      if (r != 0 || o.json == "-")
        return; // the text once, and never into the JSON on stdout
      std::string piece = tok ? tok->decodePiece(previous, next)
                              : (printed ? " " : "") + std::to_string(next);
      ++printed;
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    };
    std::string error;
    if (!eval::generate(*session, prompt, model.vocabSize(), options, print, run, error))
      die(error);
    ttft.push_back(run.ttftSeconds);
    prefill.push_back(run.prefillTokensPerSecond);
    if (run.decodeTokensPerSecond >= 0)
      decode.push_back(run.decodeTokensPerSecond);
  }
  if (!o.sequencesOut.empty()) // each sequence's text in PREFIX.<index>.txt
    for (int64_t b = 0; b < o.batch; ++b) {
      std::string text;
      int32_t prev = prompt.back();
      for (int32_t t : run.outputs[size_t(b)]) {
        text += tok ? tok->decodePiece(prev, t) : std::to_string(t) + " ";
        prev = t;
      }
      writeFile(o.sequencesOut + "." + std::to_string(b) + ".txt", "--sequences-out", text);
    }
  std::fprintf(stderr, "\n");
  report.add("batch", std::to_string(o.batch) + " sequence" + (o.batch > 1 ? "s" : ""), "batch",
             std::to_string(o.batch));
  report.add("prompt tokens", std::to_string(prompt.size()), "prompt_tokens",
             std::to_string(prompt.size()));
  report.add("generated tokens", std::to_string(run.generated), "generated_tokens",
             std::to_string(run.generated));
  report.add("sampling",
             o.temperature == 0 ? "greedy"
                                : eval::format("temperature %.3g", o.temperature) + ", seed " +
                                      std::to_string(o.seed),
             "temperature", eval::format("%.6g", o.temperature));
  report.add("time to first token", eval::format("%.3f ms", median(ttft) * 1e3), "ttft_ms",
             eval::format("%.4f", median(ttft) * 1e3));
  report.add("prefill", eval::format("%.1f tokens/s", median(prefill)), "prefill_tokens_per_s",
             eval::format("%.3f", median(prefill)));
  report.add("decode",
             eval::format("%.1f tokens/s", median(decode)) + " (median of " +
                 std::to_string(o.repeat) + " runs)",
             "decode_tokens_per_s", eval::format("%.3f", median(decode)));
}

} // namespace

int run(int argc, char **argv);

int main(int argc, char **argv) {
  midllama::installFatalExceptionHandler("midllama-run");
  try {
    return run(argc, argv);
  } catch (const std::bad_alloc &) {
    die("out of memory: the KV cache and activation buffers do not fit (they are sized from "
        "the model's context; compile with a smaller midllama-compile --max-context, or use "
        "a smaller --ctx)");
  }
}

int run(int argc, char **argv) {
  // The run's outputs replace their paths together at the end; a run that dies (exit runs
  // this static's destructor) leaves every path as it was.
  static OutputTransaction transaction;
  Options o = parse(argc, argv);
  // Refused up front: each thread is started at the first kernel call, and hundreds of
  // spinning threads on a few CPUs only slow the run down (or exhaust a process limit).
  if (o.threads > cpu::maxThreadCount())
    die("--threads " + std::to_string(o.threads) + " is more than this machine can use (" +
        std::to_string(cpu::availableCPUs()) + " CPUs; at most " +
        std::to_string(cpu::maxThreadCount()) + ")");
  if (o.threads)
    cpu::setThreadCount(int(o.threads));
  // Synthetic weights are deterministic, so their logits still compare two backends (the
  // GPU's against the CPU's on a shape whose real weights are not at hand); accuracy
  // figures of random weights would mean nothing.
  if (o.synthetic && (!o.perplexityFile.empty() || !o.klBase.empty()))
    die("--synthetic-weights measures speed and memory only: its random weights have no "
        "perplexity or KL worth reporting (--logits-out/--expect-logits compare backends)");
  std::string error;
  auto model = Model::load(o.model, error, o.synthetic);
  if (!model)
    die(error);
  eval::applyActivations(*model, o.activations);
  eval::applyKVCache(*model, o.kvCache); // before the memory checks, which size the cache
  checkFiles(o);
  if (o.synthetic && !model->hasSyntheticWeights())
    die("'" + o.model + "' holds its weights; --synthetic-weights is for artifacts compiled "
        "with midllama-compile --synthetic-weights");
  Executors executors(o, *model);
  eval::Report report;
  eval::addModelSummary(report, *model, o.model);
  checkMemoryFits(o, *model);
  int64_t budget = checkMemoryBudget(o, *model, report);
  report.add("threads", std::to_string(cpu::threadCount()), "threads",
             std::to_string(cpu::threadCount()));
  // Token ids given directly: models compiled without a tokenizer, reference comparisons.
  std::vector<int32_t> ids = givenIds(o, model->vocabSize());
  if (!o.logitsOut.empty() || !o.expectLogits.empty()) {
    int status = runLogits(o, *model, ids, executors);
    if (status == 0 && !transaction.commit(error)) // --logits-out takes its place now
      die(error);
    return status;
  }
  if (!o.perplexityFile.empty())
    runPerplexity(o, *model, executors, report);
  else
    runGeneration(o, *model, ids, executors, report);
  executors.addToReport(report);
  if (!executors.ranOnGpu()) // the CPU's activations; GPU kernels take fp32 ones
    eval::addActivations(report, *model, o.activations);
  eval::addKVCache(report, *model, o.kvCache, executors.ranOnGpu());
  report.add("peak RSS", eval::format("%.1f MB", peakRSS() / 1e6), "peak_rss_bytes",
             std::to_string(peakRSS()));
  if (budget > 0) // the process as a whole: code, libraries, tokenizer, a --kl-base model
    report.add("peak RSS within budget", peakRSS() <= budget ? "yes" : "no",
               "peak_rss_within_budget", peakRSS() <= budget ? "true" : "false");
  report.printTable(stderr, "midllama-run report");
  if (!o.json.empty()) {
    if (o.json == "-")
      std::fputs(report.json().c_str(), stdout);
    else
      writeFile(o.json, "--json", report.json());
  }
  if (!transaction.commit(error))
    die(error);
  return 0;
}
