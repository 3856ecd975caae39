//===- PythonText.cpp - Python's string methods, byte for byte ------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/eval/PythonText.h"

#include <algorithm>
#include <cstdint>
#include <iterator>

size_t midllama::rt::eval::pySpaceAt(const std::string &s, size_t i) {
  uint8_t c = uint8_t(s[i]);
  if (c < 0x80)
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f) ? 1 : 0;
  // The other spaces are 2- or 3-byte code points.
  size_t n = (c & 0xF0) == 0xE0 ? 3 : (c & 0xE0) == 0xC0 ? 2 : 0;
  if (!n || i + n > s.size())
    return 0;
  uint32_t cp = n == 2 ? (uint32_t(c & 0x1F) << 6) | (uint8_t(s[i + 1]) & 0x3F)
                       : (uint32_t(c & 0x0F) << 12) | ((uint8_t(s[i + 1]) & 0x3F) << 6) |
                             (uint8_t(s[i + 2]) & 0x3F);
  static const uint32_t kSpaces[] = {0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000};
  bool space = (cp >= 0x2000 && cp <= 0x200A) ||
               std::find(std::begin(kSpaces), std::end(kSpaces), cp) != std::end(kSpaces);
  return space ? n : 0;
}

std::string midllama::rt::eval::pyStrip(const std::string &s) {
  size_t b = 0, e = s.size();
  while (b < e && pySpaceAt(s, b))
    b += pySpaceAt(s, b);
  // Trailing: walk back over whole characters (a continuation byte is never a
  // space).
  while (e > b) {
    size_t start = e - 1;
    while (start > b && (uint8_t(s[start]) & 0xC0) == 0x80)
      --start;
    if (pySpaceAt(s, start) != e - start)
      break;
    e = start;
  }
  return s.substr(b, e - b);
}

std::string midllama::rt::eval::pyReplace(const std::string &s, const std::string &from,
                                          const std::string &to) {
  std::string out;
  size_t at = 0;
  for (size_t hit = s.find(from); hit != std::string::npos; hit = s.find(from, at)) {
    out.append(s, at, hit - at).append(to);
    at = hit + from.size();
  }
  return out.append(s, at, std::string::npos);
}
