//===- midllama-tokenize.cpp - Text to token ids with a model's tokenizer -===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Prints the token ids a tokenizer file (tokenizer.json, tokenizer.model, tokenizer.bin)
// gives a text, as midllama-run and the calibration encode it: what a user checks a
// prompt with, and what the tokenizer tests compare with Hugging Face `tokenizers`
// (test/runtime/tokenizer/). With --lines-per-block N the text is encoded in blocks of N
// lines (each keeping its newline), one output line of ids per block; --roundtrip also
// decodes each block and fails when the text does not come back.
//
//===----------------------------------------------------------------------===//

#include "runtime/support/InputFile.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <cstdio>
#include <cstdlib>
#include <string>

using namespace midllama::rt;

namespace {

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "midllama-tokenize: %s\n", message.c_str());
  std::exit(1);
}

struct Options {
  std::string tokenizer, text;
  long linesPerBlock = 0; // 0: the whole text at once
  bool bos = false, roundtrip = false;
};

Options parse(int argc, char **argv) {
  const char *usage = "usage: midllama-tokenize --tokenizer FILE [--lines-per-block N] [--bos] "
                      "[--roundtrip] TEXT_FILE";
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&] {
      if (i + 1 >= argc)
        die(a + " needs a value\n" + usage);
      return std::string(argv[++i]);
    };
    if (a == "--tokenizer") {
      o.tokenizer = value();
    } else if (a == "--lines-per-block") {
      std::string v = value();
      char *end = nullptr;
      o.linesPerBlock = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end || o.linesPerBlock < 1 || o.linesPerBlock > 1000000)
        die("--lines-per-block must be an integer in [1, 1000000], got '" + v + "'");
    } else if (a == "--bos") {
      o.bos = true;
    } else if (a == "--roundtrip") {
      o.roundtrip = true;
    } else if (a == "-h" || a == "--help") {
      std::printf("%s\n", usage);
      std::exit(0);
    } else if (!a.empty() && a[0] == '-') {
      die("unknown option '" + a + "'\n" + usage);
    } else if (o.text.empty()) {
      o.text = a;
    } else {
      die("more than one text file ('" + o.text + "', '" + a + "')");
    }
  }
  if (o.tokenizer.empty() || o.text.empty())
    die(usage);
  return o;
}

} // namespace

int main(int argc, char **argv) {
  Options o = parse(argc, argv);
  std::string error, text;
  std::unique_ptr<Tokenizer> tok = Tokenizer::load(o.tokenizer, error);
  if (!tok)
    die(error);
  if (!readInputFile(o.text, "text", kTextInputLimit, text, error))
    die(error);
  size_t begin = 0, failures = 0;
  while (begin < text.size() || (begin == 0 && text.empty())) {
    size_t end = text.size();
    if (o.linesPerBlock)
      for (long n = 0, at = long(begin); n < o.linesPerBlock; ++n) {
        size_t nl = text.find('\n', size_t(at));
        end = nl == std::string::npos ? text.size() : nl + 1;
        if (end == text.size())
          break;
        at = long(end);
      }
    std::string_view block(text.data() + begin, end - begin);
    std::vector<int32_t> ids = tok->encode(block, o.bos, /*eos=*/false);
    std::string line;
    for (size_t i = 0; i < ids.size(); ++i)
      line += (i ? " " : "") + std::to_string(ids[i]);
    std::printf("%s\n", line.c_str());
    if (o.roundtrip && tok->decode(ids) != block)
      ++failures;
    begin = end;
    if (text.empty())
      break;
  }
  if (failures)
    die(std::to_string(failures) + " block(s) do not decode back to their text");
  return 0;
}
