//===- InputGuard.cpp - Refuse IR text the MLIR parser cannot survive -----===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Support/InputGuard.h"

#include <cctype>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

std::string midllama::findOversizedResultNumber(std::string_view text, std::string_view name) {
  int64_t line = 1;
  size_t lineStart = 0;
  auto isIdent = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' || c == '.' ||
           c == '-';
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') {
      ++line;
      lineStart = i + 1;
    } else if (c == '"') { // a string literal: skip to its closing quote
      for (++i; i < text.size() && text[i] != '"' && text[i] != '\n'; ++i)
        if (text[i] == '\\')
          ++i;
      if (i < text.size() && text[i] == '\n')
        --i; // an unterminated literal ends at the line; the parser reports it
    } else if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
      while (i + 1 < text.size() && text[i + 1] != '\n')
        ++i;
    } else if (c == '%') {
      size_t start = i, j = i + 1;
      while (j < text.size() && isIdent(text[j]))
        ++j;
      if (j == start + 1 || j + 1 >= text.size() || text[j] != '#' ||
          !std::isdigit(static_cast<unsigned char>(text[j + 1]))) {
        i = j - 1;
        continue;
      }
      size_t k = j + 1;
      uint64_t value = 0;
      bool over = false;
      for (; k < text.size() && std::isdigit(static_cast<unsigned char>(text[k])); ++k) {
        over |= value > (kMaxResultNumber * 10); // saturate: the number only needs to exceed
        if (!over)
          value = value * 10 + uint64_t(text[k] - '0');
      }
      if (over || value > kMaxResultNumber) {
        std::ostringstream os;
        os << name << ":" << line << ":" << (start - lineStart + 1) << ": result number "
           << text.substr(j + 1, k - j - 1) << " of '" << text.substr(start, j - start)
           << "' is above " << kMaxResultNumber
           << " (the MLIR parser would abort on it; see docs/known-limits.md)";
        return os.str();
      }
      i = k - 1;
    }
  }
  return "";
}

std::string midllama::checkMLIRInputFile(const std::string &path) {
  struct stat st;
  if (path == "-" || ::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return "";
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return "";
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return findOversizedResultNumber(text, path);
}
