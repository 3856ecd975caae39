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
#include "runtime/support/Memory.h"
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
#include <random>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
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
  std::string sequencesOut;
  int64_t steps = 256, ctx = 0, repeat = 1, threads = 0, seed = 0;
  double temperature = 0.0;
  Device device = Device::Auto;
  bool synthetic = false;
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
    "                    [--synthetic-weights] [--max-input-mb N]\n"
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

double seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
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

/// log-softmax of `logits` at `target`, and the distribution (for KL) when `probs`.
double logProb(const float *logits, int64_t vocab, int64_t target, std::vector<double> *probs) {
  // Exponentials in fp32 (each within an ulp; half the cost of fp64 over a 32000-token
  // vocabulary), summed in fp64.
  float maxLogit = *std::max_element(logits, logits + vocab);
  double total = 0;
  for (int64_t v = 0; v < vocab; ++v)
    total += double(std::exp(logits[v] - maxLogit));
  double logZ = double(maxLogit) + std::log(total);
  if (probs) {
    probs->resize(vocab);
    for (int64_t v = 0; v < vocab; ++v)
      (*probs)[v] = double(logits[v]) - logZ; // log-probabilities
  }
  return double(logits[target]) - logZ;
}

int64_t argmax(const float *logits, int64_t vocab) {
  return std::max_element(logits, logits + vocab) - logits;
}

struct Report {
  std::vector<std::pair<std::string, std::string>> rows; // label, value (table)
  std::vector<std::pair<std::string, std::string>> json; // key, JSON value
  void add(const std::string &label, const std::string &value, const std::string &key,
           const std::string &jsonValue) {
    rows.push_back({label, value});
    json.push_back({key, jsonValue});
  }
};

/// The whitespace-separated words of --prompt-ids (counted before the model is read).
std::vector<std::string> givenIdsText(const Options &o) {
  std::istringstream in(o.promptIds);
  std::vector<std::string> words;
  for (std::string w; in >> w;)
    words.push_back(w);
  return words;
}

/// `s` as a JSON string literal.
std::string quote(const std::string &s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (uint8_t(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string fmt(const char *f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
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
  std::string error;
  if (o.synthetic && (!o.perplexityFile.empty() || !o.logitsOut.empty() ||
                      !o.expectLogits.empty() || !o.klBase.empty()))
    die("--synthetic-weights measures speed and memory only: its random weights have no "
        "perplexity, KL or logits worth reporting");
  auto model = Model::load(o.model, error, o.synthetic);
  if (!model)
    die(error);
  // Every input and output checked before any work: regular files for inputs, and no
  // output that is an input (the artifact, say) or a device to be replaced.
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
  if (o.synthetic && !model->hasSyntheticWeights())
    die("'" + o.model + "' holds its weights; --synthetic-weights is for artifacts compiled "
        "with midllama-compile --synthetic-weights");
  // The backend of every executor made below; a fallback's reason is printed once.
  std::string deviceName;
  int64_t deviceBytes = 0;
  std::vector<std::string> notices;
  auto executor = [&](const Model &m, int64_t maxTokens, int64_t context, int64_t batch) {
    std::string notice, why;
    std::unique_ptr<Executor> e = makeExecutor(m, maxTokens, context, batch, o.device, notice, why);
    if (!e)
      die(why);
    if (!notice.empty() && std::find(notices.begin(), notices.end(), notice) == notices.end()) {
      notices.push_back(notice);
      std::fprintf(stderr, "midllama-run: %s\n", notice.c_str());
    }
    if (&m == model.get()) {
      deviceName = e->deviceName();
      deviceBytes = std::max(deviceBytes, e->deviceBytes());
    }
    return e;
  };
  Report report;
  struct stat st;
  int64_t fileBytes = stat(o.model.c_str(), &st) == 0 ? int64_t(st.st_size) : 0;
  report.add("artifact", o.model, "artifact", quote(o.model));
  report.add("artifact size", std::to_string(fileBytes) + " bytes", "artifact_bytes",
             std::to_string(fileBytes));
  if (model->hasSyntheticWeights())
    report.add("weights", "synthetic (random values, generated at load: speed and memory only)",
               "synthetic_weights", "true");
  int64_t weightBytes = 0, parameters = 0;
  for (auto &[type, bytes] : model->weightBytesByType()) {
    report.add("weights " + type, std::to_string(bytes) + " bytes", "weight_bytes_" + type,
               std::to_string(bytes));
    weightBytes += bytes;
  }
  for (const WeightInfo &w : model->program().weights) {
    int64_t count = 1;
    for (int64_t d : w.shape)
      count *= d;
    parameters += count;
  }
  {
    // What compression saved: the stored bytes against the same parameters in fp32.
    char text[160];
    double bits = parameters ? 8.0 * double(weightBytes) / double(parameters) : 0;
    double ratio = weightBytes ? 4.0 * double(parameters) / double(weightBytes) : 0;
    std::snprintf(text, sizeof text, "%lld bytes, %.3f bits/parameter (fp32: %lld, %.2fx)",
                  (long long)weightBytes, bits, (long long)(4 * parameters), ratio);
    report.add("weights total", text, "weight_bytes_total", std::to_string(weightBytes));
    report.json.push_back({"parameters", std::to_string(parameters)});
    std::snprintf(text, sizeof text, "%.4f", bits);
    report.json.push_back({"bits_per_parameter", text});
  }
  // Refuse up front what cannot fit in the memory this machine has available.
  {
    int64_t tokens = !o.perplexityFile.empty() ? o.ctx
                     : !givenIdsText(o).empty()  ? int64_t(givenIdsText(o).size()) + o.steps
                                                 : o.steps + 256;
    // Generation runs --batch sequences, each with its own KV cache; scoring runs one.
    int64_t batch = o.perplexityFile.empty() && o.logitsOut.empty() && o.expectLogits.empty()
                        ? o.batch
                        : 1;
    int64_t positions = std::min(tokens, model->maxContext());
    int64_t need = Session::plannedBytes(*model, positions, tokens, batch);
    int64_t available = availableMemoryBytes();
    if (available >= 0 && need > available)
      die("the session needs " + std::to_string(need / (1 << 20)) + " MiB (KV cache for " +
          std::to_string(positions) + " positions x " + std::to_string(batch) +
          " sequence(s) and activation buffers) but " + std::to_string(available >> 20) +
          " MiB are available; use a smaller --batch or --steps, or compile with a smaller "
          "midllama-compile --max-context");
  }
  report.add("threads", std::to_string(cpu::threadCount()), "threads",
             std::to_string(cpu::threadCount()));
  const int64_t vocab = model->vocabSize();

  // Token ids given directly: models compiled without a tokenizer, reference comparisons.
  std::vector<int32_t> givenIds;
  if (o.havePromptIds) {
    std::istringstream in(o.promptIds);
    std::string word;
    while (in >> word)
      givenIds.push_back(int32_t(parseInt("--prompt-ids", word.c_str(), 0, vocab - 1)));
    if (givenIds.empty())
      die("--prompt-ids has no token ids");
  }

  if (!o.logitsOut.empty() || !o.expectLogits.empty()) {
    // Logits of every position of a token sequence, one forward pass from an empty cache:
    // what reference implementations are compared on.
    const std::vector<int32_t> &ids = givenIds;
    if (int64_t(ids.size()) > model->maxContext())
      die("--prompt-ids has " + std::to_string(ids.size()) +
          " tokens, more than the model's context of " + std::to_string(model->maxContext()));
    std::unique_ptr<Executor> session =
        executor(*model, int64_t(ids.size()), int64_t(ids.size()), 1);
    const float *logits = session->forward(ids.data(), int64_t(ids.size()), 0, false, error);
    if (!logits)
      die(error);
    size_t count = ids.size() * size_t(vocab);
    if (!o.logitsOut.empty()) {
      writeFile(o.logitsOut, "--logits-out", logits, count * sizeof(float));
    }
    if (!o.expectLogits.empty()) {
      std::string golden = readFile(o.expectLogits, "expected logits", kNoInputLimit);
      if (golden.size() != count * sizeof(float))
        die("'" + o.expectLogits + "' holds " + std::to_string(golden.size() / 4) +
            " floats, not " + std::to_string(ids.size()) + " positions x " +
            std::to_string(vocab) + " logits");
      const float *ref = reinterpret_cast<const float *>(golden.data());
      double maxDiff = 0;
      size_t where = 0;
      for (size_t i = 0; i < count; ++i) {
        double d = std::fabs(double(logits[i]) - double(ref[i]));
        if (!(d <= maxDiff)) { // NaN counts as a difference
          maxDiff = std::isnan(d) ? INFINITY : d;
          where = i;
        }
      }
      std::fprintf(stdout, "max |logit - expected| = %.3g over %zu logits (position %zu, token %zu); "
                           "tolerance %.3g: %s\n",
                   maxDiff, count, where / size_t(vocab), where % size_t(vocab), o.atol,
                   maxDiff <= o.atol ? "ok" : "FAILED");
      if (!(maxDiff <= o.atol))
        return 1;
    }
    if (!transaction.commit(error)) // --logits-out takes its place now
      die(error);
    return 0;
  }

  if (!o.perplexityFile.empty()) {
    // The protocol of docs/algorithms.md: the whole file tokenized once (no BOS),
    // non-overlapping windows of ctx tokens, each from an empty cache, every token after
    // the first of its window predicted; the tail shorter than a window is dropped.
    if (o.ctx > model->maxContext())
      die("--ctx " + std::to_string(o.ctx) + " exceeds the model's context of " +
          std::to_string(model->maxContext()) + " tokens");
    std::string text = readFile(o.perplexityFile, "perplexity text", kTextInputLimit);
    if (text.empty())
      die("'" + o.perplexityFile + "' is empty");
    auto tok = tokenizerOf(*model);
    std::vector<int32_t> ids = tok->encode(text, /*bos=*/false, /*eos=*/false);
    int64_t windows = int64_t(ids.size()) / o.ctx;
    if (o.maxWindows && windows > o.maxWindows)
      windows = o.maxWindows; // a quick estimate on the file's first windows
    if (windows == 0)
      die("'" + o.perplexityFile + "' has " + std::to_string(ids.size()) +
          " tokens, fewer than one window of " + std::to_string(o.ctx));
    std::unique_ptr<Model> base;
    if (!o.klBase.empty()) {
      base = Model::load(o.klBase, error);
      if (!base)
        die(error);
      if (base->vocabSize() != vocab)
        die("--kl-base model has another vocabulary");
      if (o.ctx > base->maxContext())
        die("--ctx exceeds the --kl-base model's context");
    }
    std::unique_ptr<Executor> session = executor(*model, o.ctx, o.ctx, 1);
    std::unique_ptr<Executor> baseSession = base ? executor(*base, o.ctx, o.ctx, 1) : nullptr;
    double nll = 0, kl = 0;
    int64_t predicted = 0, agree = 0;
    std::vector<double> lp, lq;
    double start = seconds();
    for (int64_t w = 0; w < windows; ++w) {
      const int32_t *window = ids.data() + w * o.ctx;
      const float *logits = session->forward(window, o.ctx, 0, false, error);
      if (!logits)
        die(error);
      const float *baseLogits = nullptr;
      if (baseSession && !(baseLogits = baseSession->forward(window, o.ctx, 0, false, error)))
        die(error);
      // Every position's log-probability of its target, on the runtime's threads (the
      // positions are independent); summed in order, so the result does not depend on them.
      std::vector<double> rowNll(size_t(o.ctx - 1));
      if (!baseLogits)
        cpu::parallelFor(o.ctx - 1, vocab, [&](int64_t begin, int64_t end) {
          for (int64_t t = begin; t < end; ++t)
            rowNll[t] = -logProb(logits + t * vocab, vocab, window[t + 1], nullptr);
        });
      for (int64_t t = 0; t + 1 < o.ctx; ++t) {
        const float *row = logits + t * vocab;
        nll += baseLogits ? -logProb(row, vocab, window[t + 1], &lq) : rowNll[t];
        // A NaN or infinite loss (NaN weights, an overflow) would make the perplexity nan
        // or inf: an error, not a result.
        if (!std::isfinite(nll))
          die("the loss is not finite at window " + std::to_string(w) + ", position " +
              std::to_string(t) + " (token " + std::to_string(w * o.ctx + t + 1) +
              " of the file): the model's logits there are NaN or infinite (damaged or "
              "overflowing weights?)");
        if (baseLogits) {
          const float *baseRow = baseLogits + t * vocab;
          logProb(baseRow, vocab, window[t + 1], &lp);
          double d = 0; // KL(base || model) = sum p (log p - log q)
          for (int64_t v = 0; v < vocab; ++v)
            d += std::exp(lp[v]) * (lp[v] - lq[v]);
          kl += d;
          agree += argmax(row, vocab) == argmax(baseRow, vocab);
        }
        ++predicted;
      }
      // Progress: on a terminal a line rewritten in place, in logs one line per 10%.
      bool tty = isatty(2);
      int64_t every = std::max<int64_t>(1, windows / (tty ? 200 : 10));
      if ((w + 1) % every == 0 || w + 1 == windows)
        std::fprintf(stderr, "%sperplexity: window %lld/%lld, running ppl %.4f, %.0f s%s",
                     tty ? "\r" : "", (long long)(w + 1), (long long)windows,
                     std::exp(nll / predicted), seconds() - start, tty ? "" : "\n");
    }
    double elapsed = seconds() - start;
    if (isatty(2))
      std::fprintf(stderr, "\n");
    uint64_t hash = fnv1a(reinterpret_cast<const uint8_t *>(text.data()), text.size());
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", (unsigned long long)hash);
    double ppl = std::exp(nll / predicted);
    report.add("perplexity", fmt("%.4f", ppl), "perplexity", fmt("%.6f", ppl));
    report.add("protocol",
               o.perplexityFile + " (fnv1a " + hex + ", joined as-is, no BOS), ctx " +
                   std::to_string(o.ctx) + ", stride " + std::to_string(o.ctx) + ", " +
                   std::to_string(windows) + " windows, " + std::to_string(predicted) +
                   " predicted tokens of " + std::to_string(ids.size()),
               "protocol",
               "{\"file\": " + quote(o.perplexityFile) + ", \"fnv1a\": \"" + hex +
                   "\", \"join\": \"as-is\", \"bos\": false, \"ctx\": " +
                   std::to_string(o.ctx) + ", \"stride\": " + std::to_string(o.ctx) +
                   ", \"windows\": " + std::to_string(windows) +
                   ", \"predicted_tokens\": " + std::to_string(predicted) +
                   ", \"file_tokens\": " + std::to_string(ids.size()) + "}");
    if (base) {
      report.add("KL(base || model)", fmt("%.6f", kl / predicted) + " nats/token", "kl",
                 fmt("%.8f", kl / predicted));
      report.add("top-1 agreement", fmt("%.4f", double(agree) / predicted), "top1_agreement",
                 fmt("%.6f", double(agree) / predicted));
    }
    report.add("evaluation throughput", fmt("%.1f", predicted / elapsed) + " tokens/s",
               "eval_tokens_per_s", fmt("%.3f", predicted / elapsed));
  } else {
    std::unique_ptr<Tokenizer> tok;
    std::vector<int32_t> prompt = givenIds;
    if (prompt.empty() || model->tokenizerSize())
      tok = tokenizerOf(*model);
    if (prompt.empty())
      prompt = tok->encode(o.prompt, /*bos=*/true, /*eos=*/false);
    if (o.havePrompt && !givenIds.empty())
      die("give --prompt or --prompt-ids, not both");
    if (int64_t(prompt.size()) + o.steps > model->maxContext())
      die("the prompt (" + std::to_string(prompt.size()) + " tokens) and " +
          std::to_string(o.steps) + " steps exceed the model's context of " +
          std::to_string(model->maxContext()) + " tokens");
    std::vector<double> ttft, prefill, decode;
    int64_t generated = 0;
    const int64_t batch = o.batch;
    std::vector<std::vector<int32_t>> outputs(static_cast<size_t>(batch));
    for (int64_t run = 0; run < o.repeat; ++run) {
      // `batch` sequences from the same prompt, each with its own cache (and, when
      // sampling, its own random stream: seed + its index).
      std::unique_ptr<Executor> session =
          executor(*model, int64_t(prompt.size()), int64_t(prompt.size()) + o.steps, batch);
      std::vector<std::mt19937_64> rngs;
      for (int64_t b = 0; b < batch; ++b)
        rngs.emplace_back(uint64_t(o.seed + b));
      std::vector<int32_t> tokens;
      for (int64_t b = 0; b < batch; ++b)
        tokens.insert(tokens.end(), prompt.begin(), prompt.end());
      double t0 = seconds();
      const float *logits =
          session->forward(tokens.data(), int64_t(prompt.size()), 0, true, error);
      if (!logits)
        die(error);
      double t1 = seconds();
      int64_t pos = int64_t(prompt.size()), active = batch, count = 0;
      std::vector<int32_t> previous(static_cast<size_t>(batch), prompt.back());
      std::vector<int32_t> next(static_cast<size_t>(batch), 0);
      std::vector<bool> done(size_t(batch), false);
      for (auto &out : outputs)
        out.clear();
      double decodeStart = seconds();
      for (int64_t step = 0; step < o.steps && active > 0; ++step) {
        for (int64_t b = 0; b < batch; ++b) {
          const float *row = logits + b * vocab;
          // NaN logits would make argmax and sampling pick an arbitrary token, silently.
          for (int64_t v = 0; v < vocab; ++v)
            if (!std::isfinite(row[v]))
              die("the logits at position " + std::to_string(pos - 1) + " of sequence " +
                  std::to_string(b) + " are not finite (token " + std::to_string(v) +
                  " is " + (std::isnan(row[v]) ? "NaN" : "infinite") +
                  "): damaged or overflowing weights?");
          if (o.temperature == 0) {
            next[b] = int32_t(argmax(row, vocab));
          } else {
            std::vector<double> p(vocab);
            double maxLogit = *std::max_element(row, row + vocab), total = 0;
            for (int64_t v = 0; v < vocab; ++v)
              total += p[v] = std::exp((row[v] - maxLogit) / o.temperature);
            double u = std::uniform_real_distribution<double>(0, total)(rngs[b]), acc = 0;
            next[b] = int32_t(vocab - 1);
            for (int64_t v = 0; v < vocab; ++v)
              if ((acc += p[v]) > u) {
                next[b] = int32_t(v);
                break;
              }
          }
          if (done[b]) {
            next[b] = previous[b]; // an ended sequence idles in the batch
            continue;
          }
          if (!o.ignoreEos && (next[b] == Tokenizer::kBos || next[b] == Tokenizer::kEos)) {
            done[b] = true; // llama2.c's end of text
            --active;
            next[b] = previous[b];
            continue;
          }
          ++count;
          outputs[b].push_back(next[b]);
          if (run == 0 && b == 0 && o.json != "-") {
            std::string piece = tok ? tok->decodePiece(previous[b], next[b])
                                    : (outputs[b].size() > 1 ? " " : "") +
                                          std::to_string(next[b]);
            std::fwrite(piece.data(), 1, piece.size(), stdout);
            std::fflush(stdout);
          }
          previous[b] = next[b];
        }
        if (step + 1 == o.steps || active == 0)
          break;
        if (!(logits = session->forward(next.data(), 1, pos++, true, error)))
          die(error);
      }
      double t2 = seconds();
      generated = count;
      ttft.push_back(t1 - t0);
      prefill.push_back(double(batch) * double(prompt.size()) / (t1 - t0));
      // Tokens produced after the first step's (which came from the prefill), per second.
      if (count > batch)
        decode.push_back(double(count - batch) / (t2 - decodeStart));
    }
    if (!o.sequencesOut.empty()) // each sequence's text in PREFIX.<index>.txt
      for (int64_t b = 0; b < batch; ++b) {
        std::string path = o.sequencesOut + "." + std::to_string(b) + ".txt", text;
        int32_t prev = prompt.back();
        for (int32_t t : outputs[b]) {
          text += tok ? tok->decodePiece(prev, t) : std::to_string(t) + " ";
          prev = t;
        }
        writeFile(path, "--sequences-out", text);
      }
    std::fprintf(stderr, "\n");
    report.add("batch", std::to_string(batch) + " sequence" + (batch > 1 ? "s" : ""), "batch",
               std::to_string(batch));
    report.add("prompt tokens", std::to_string(prompt.size()), "prompt_tokens",
               std::to_string(prompt.size()));
    report.add("generated tokens", std::to_string(generated), "generated_tokens",
               std::to_string(generated));
    report.add("sampling", o.temperature == 0 ? "greedy" : fmt("temperature %.3g", o.temperature) +
                   ", seed " + std::to_string(o.seed),
               "temperature", fmt("%.6g", o.temperature));
    report.add("time to first token", fmt("%.3f ms", median(ttft) * 1e3), "ttft_ms",
               fmt("%.4f", median(ttft) * 1e3));
    report.add("prefill", fmt("%.1f tokens/s", median(prefill)), "prefill_tokens_per_s",
               fmt("%.3f", median(prefill)));
    report.add("decode", fmt("%.1f tokens/s", median(decode)) + " (median of " +
                             std::to_string(o.repeat) + " runs)",
               "decode_tokens_per_s", fmt("%.3f", median(decode)));
  }
  if (!deviceName.empty())
    report.add("device", deviceName, "device", quote(deviceName));
  if (deviceBytes > 0)
    report.add("GPU memory", fmt("%.1f MB (weights, KV cache, activations: one arena)",
                                 double(deviceBytes) / 1e6),
               "gpu_bytes", std::to_string(deviceBytes));
  report.add("peak RSS", fmt("%.1f MB", peakRSS() / 1e6), "peak_rss_bytes",
             std::to_string(peakRSS()));

  std::fprintf(stderr, "midllama-run report\n");
  for (auto &[label, value] : report.rows)
    std::fprintf(stderr, "  %-24s %s\n", label.c_str(), value.c_str());
  if (!o.json.empty()) {
    std::string out = "{";
    for (size_t i = 0; i < report.json.size(); ++i)
      out += (i ? ", \"" : "\"") + report.json[i].first + "\": " + report.json[i].second;
    out += "}\n";
    if (o.json == "-") {
      std::fputs(out.c_str(), stdout);
    } else {
      writeFile(o.json, "--json", out);
    }
  }
  if (!transaction.commit(error))
    die(error);
  return 0;
}
