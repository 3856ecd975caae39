//===- Llama3Split.cpp - The Llama 3 / Qwen2 pre-tokenizer regex ----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/tokenizer/Llama3Split.h"

#include "runtime/tokenizer/UnicodeClass.h"

#include <cctype>

using namespace midllama::rt;

const char *const midllama::rt::kLlama3SplitRegex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char *const midllama::rt::kQwen2SplitRegex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

namespace {

struct Cursor {
  std::string_view s;

  Utf8Char at(size_t i) const { return decodeUtf8(s, i); }
  CharClass cls(size_t i) const {
    return i < s.size() ? classify(at(i).codePoint) : CharClass::Other;
  }
  size_t next(size_t i) const { return i + size_t(at(i).length); }
  bool newline(size_t i) const { return i < s.size() && (s[i] == '\r' || s[i] == '\n'); }

  /// The end of the run of class `c` from `i`, at most `limit` characters.
  size_t run(size_t i, CharClass c, size_t limit = SIZE_MAX) const {
    for (size_t n = 0; i < s.size() && n < limit && cls(i) == c; ++n)
      i = next(i);
    return i;
  }

  /// (?i:'s|'t|'re|'ve|'m|'ll|'d) at the apostrophe `i`: its end, or 0. Case folding
  /// matches the long s (U+017F) for s as well.
  size_t contraction(size_t i) const {
    auto letter = [&](size_t j, char want) -> size_t { // the end of `want` at j, or 0
      if (j < s.size() && std::tolower(uint8_t(s[j])) == want)
        return j + 1;
      if (want == 's' && s.substr(j, 2) == "\xC5\xBF")
        return j + 2;
      return 0;
    };
    for (const char *suffix : {"s", "t", "re", "ve", "m", "ll", "d"}) {
      size_t j = i + 1;
      for (const char *c = suffix; *c && j; ++c)
        j = letter(j, *c);
      if (j)
        return j;
    }
    return 0;
  }

  /// The end of the regex's match at `i` (the first alternative that matches).
  size_t match(size_t i, int maxDigits) const {
    if (s[i] == '\'')
      if (size_t end = contraction(i))
        return end;
    CharClass c = cls(i);
    if (c == CharClass::Letter) // [^\r\n\p{L}\p{N}]?\p{L}+ without the prefix
      return run(i, CharClass::Letter);
    if (c != CharClass::Number && !newline(i) && next(i) < s.size() &&
        cls(next(i)) == CharClass::Letter) // ... with one prefix character
      return run(next(i), CharClass::Letter);
    if (c == CharClass::Number) // \p{N}{1,maxDigits}
      return run(i, CharClass::Number, size_t(maxDigits));
    size_t other = s[i] == ' ' && next(i) < s.size() && cls(next(i)) == CharClass::Other ? next(i)
                   : c == CharClass::Other                                               ? i
                                                                                         : SIZE_MAX;
    if (other != SIZE_MAX) { // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
      size_t end = run(other, CharClass::Other);
      while (newline(end))
        ++end;
      return end;
    }
    // Whitespace: \s*[\r\n]+ ends after the run's last line break; else \s+(?!\S) leaves
    // the run's last character to what follows, unless the run is that one character
    // (then \s+) or ends the text.
    size_t end = run(i, CharClass::Space), lastBreak = SIZE_MAX, last = i;
    for (size_t j = i; j < end; j = next(j)) {
      if (newline(j))
        lastBreak = j;
      last = j;
    }
    if (lastBreak != SIZE_MAX)
      return lastBreak + 1;
    return end == s.size() || last == i ? end : last;
  }
};

} // namespace

void midllama::rt::splitLlama3(std::string_view text, int maxDigits,
                               std::vector<std::string_view> &out) {
  Cursor c{text};
  for (size_t at = 0; at < text.size();) {
    size_t end = c.match(at, maxDigits);
    out.push_back(text.substr(at, end - at));
    at = end;
  }
}
