//===- UnicodeClass.cpp - Code points as the GPT-2 pre-tokenizer sees them ===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/tokenizer/UnicodeClass.h"

#include <algorithm>
#include <iterator>

using namespace midllama::rt;

namespace {

struct CodePointRange {
  uint32_t first, last;
};

#include "runtime/tokenizer/UnicodeClasses.inc"

template <size_t N> bool inRanges(const CodePointRange (&ranges)[N], uint32_t cp) {
  const CodePointRange *it = std::upper_bound(
      std::begin(ranges), std::end(ranges), cp,
      [](uint32_t c, const CodePointRange &r) { return c < r.first; });
  return it != std::begin(ranges) && cp <= std::prev(it)->last;
}

/// Unicode's White_Space property (PropList.txt): fixed since Unicode 6.
bool isWhiteSpace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

} // namespace

CharClass midllama::rt::classify(uint32_t cp) {
  if (cp < 0x80) { // ASCII, most of the text: no search
    if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z')
      return CharClass::Letter;
    if (cp >= '0' && cp <= '9')
      return CharClass::Number;
    return isWhiteSpace(cp) ? CharClass::Space : CharClass::Other;
  }
  if (isWhiteSpace(cp))
    return CharClass::Space;
  if (inRanges(kLetterRanges, cp))
    return CharClass::Letter;
  if (inRanges(kNumberRanges, cp))
    return CharClass::Number;
  return CharClass::Other;
}

Utf8Char midllama::rt::decodeUtf8(std::string_view s, size_t at) {
  const Utf8Char invalid{0xFFFFFFFFu, 1};
  uint8_t b0 = uint8_t(s[at]);
  if (b0 < 0x80)
    return {b0, 1};
  int length = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC0 ? 2 : 0;
  if (length == 0 || b0 > 0xF4 || at + size_t(length) > s.size())
    return invalid;
  uint32_t cp = b0 & (0x7F >> length);
  for (int i = 1; i < length; ++i) {
    uint8_t b = uint8_t(s[at + size_t(i)]);
    if ((b & 0xC0) != 0x80)
      return invalid;
    cp = cp << 6 | (b & 0x3F);
  }
  static const uint32_t kMinimum[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinimum[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return invalid; // overlong, beyond Unicode, or a surrogate
  return {cp, length};
}
