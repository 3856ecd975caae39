//===- Wikitext.cpp - WikiText as lm-evaluation-harness scores it ---------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/eval/Wikitext.h"

#include "runtime/eval/PythonText.h"
#include "runtime/eval/Scoring.h"

#include <algorithm>
#include <cmath>

using namespace midllama::rt;
using namespace midllama::rt::eval;

namespace {

/// re.sub(r"O\s*([^C]*?)\s*C", r"O\1C", s): each opener with the first closer after it,
/// the text between stripped.
std::string tightenPairs(const std::string &s, char open, char close) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    size_t end = s[i] == open ? s.find(close, i + 1) : std::string::npos;
    if (end == std::string::npos) {
      out += s[i++];
      continue;
    }
    out += open;
    out += pyStrip(s.substr(i + 1, end - i - 1));
    out += close;
    i = end + 1;
  }
  return out;
}

} // namespace

std::vector<std::string> midllama::rt::eval::wikitextPages(const std::string &raw) {
  std::vector<std::string> pages;
  std::string page;
  bool any = false;
  size_t at = 0;
  while (at <= raw.size()) {
    size_t end = raw.find('\n', at);
    if (end == std::string::npos)
      end = raw.size();
    std::string line = raw.substr(at, end - at);
    bool heading = line.rfind(" = ", 0) == 0 && line.rfind(" = = ", 0) != 0;
    if (heading && any && !pyStrip(page).empty()) {
      pages.push_back(page);
      page.clear();
      any = false;
    }
    page += (any ? "\n" : "") + line;
    any = true;
    at = end + 1;
  }
  if (!pyStrip(page).empty())
    pages.push_back(page);
  return pages;
}

std::string midllama::rt::eval::wikitextDetokenize(const std::string &page) {
  std::string s = pyReplace(page, "s '", "s'");
  // re.sub(r"/' [0-9]/", r"/'[0-9]/", s): the harness's pattern, its replacement literal.
  for (size_t hit = s.find("/' "); hit != std::string::npos; hit = s.find("/' ", hit + 1))
    if (hit + 4 < s.size() && std::isdigit(uint8_t(s[hit + 3])) && s[hit + 4] == '/')
      s.replace(hit, 5, "/'[0-9]/");
  for (auto [from, to] : {std::pair<const char *, const char *>{" @-@ ", "-"},
                          {" @,@ ", ","}, {" @.@ ", "."}, {" : ", ": "}, {" ; ", "; "},
                          {" . ", ". "}, {" ! ", "! "}, {" ? ", "? "}, {" , ", ", "}})
    s = pyReplace(s, from, to);
  s = tightenPairs(s, '(', ')');
  s = tightenPairs(s, '[', ']');
  s = tightenPairs(s, '{', '}');
  s = tightenPairs(s, '"', '"');
  s = tightenPairs(s, '\'', '\'');
  for (auto [from, to] : {std::pair<const char *, const char *>{"= = = =", "===="},
                          {"= = =", "==="}, {"= =", "=="}, {" \xC2\xB0 ", "\xC2\xB0"},
                          {" \n", "\n"}, {"\n ", "\n"}, {" N ", " 1 "}, {" 's", "'s"}})
    s = pyReplace(s, from, to);
  return s;
}

int64_t midllama::rt::eval::wikitextWords(const std::string &page) {
  int64_t runs = 0;
  for (size_t i = 0; i < page.size();) {
    size_t n = pySpaceAt(page, i);
    if (!n) {
      ++i;
      continue;
    }
    ++runs;
    while (i < page.size() && (n = pySpaceAt(page, i)))
      i += n;
  }
  return runs + 1;
}

std::vector<RollingWindow> midllama::rt::eval::rollingWindows(const std::vector<int32_t> &tokens,
                                                               int32_t prefix,
                                                               int64_t maxLength) {
  std::vector<RollingWindow> windows;
  const int64_t n = int64_t(tokens.size());
  if (n == 0 || maxLength < 1)
    return windows;
  // The first window: the prefix, then predict min(maxLength, n) tokens.
  int64_t first = std::min(maxLength, n);
  RollingWindow w;
  w.input.push_back(prefix);
  w.input.insert(w.input.end(), tokens.begin(), tokens.begin() + first - 1);
  w.targets.assign(tokens.begin(), tokens.begin() + first);
  w.scored = first;
  windows.push_back(std::move(w));
  for (int64_t predicted = first; predicted < n;) {
    int64_t count = std::min(n - predicted, maxLength), end = predicted + count;
    // Input tokens[end - maxLength - 1, end - 1) (end > maxLength here: the first window
    // predicted maxLength tokens), targets the next token of each.
    int64_t begin = end - maxLength - 1;
    RollingWindow next;
    next.input.assign(tokens.begin() + begin, tokens.begin() + end - 1);
    next.targets.assign(tokens.begin() + begin + 1, tokens.begin() + end);
    next.scored = count;
    windows.push_back(std::move(next));
    predicted = end;
  }
  return windows;
}

bool midllama::rt::eval::rollingLogLikelihood(Executor &model, int64_t vocab, int64_t chunk,
                                              const std::vector<int32_t> &tokens,
                                              int32_t prefix, int64_t maxLength, double &sum,
                                              std::string &error) {
  sum = 0;
  for (const RollingWindow &w : rollingWindows(tokens, prefix, maxLength)) {
    int64_t length = int64_t(w.input.size()), from = length - w.scored;
    for (int64_t at = 0; at < length; at += chunk) {
      int64_t count = std::min(chunk, length - at);
      bool needed = at + count > from; // a chunk before the scored part only fills the cache
      const float *rows = model.forward(w.input.data() + at, count, at, !needed, error);
      if (!rows)
        return false;
      if (!needed)
        continue;
      for (int64_t i = std::max<int64_t>(0, from - at); i < count; ++i)
        sum += logProb(rows + i * vocab, vocab, w.targets[size_t(at + i)], nullptr);
    }
  }
  if (!std::isfinite(sum)) {
    error = "the log-likelihood is not finite (NaN or overflowing logits)";
    return false;
  }
  return true;
}
