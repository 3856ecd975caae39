//===- HarnessGolden.h - Source files and harness goldens for tests -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The evaluation tests (BbhTest, HellaswagTest, WikitextTest) read data from the source
// tree and compare with goldens that scripts/reference-*.py made by running
// lm-evaluation-harness's own code (test/unittests/runtime/Inputs/*-harness-golden.json).
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_TEST_UNITTESTS_RUNTIME_HARNESSGOLDEN_H
#define MIDLLAMA_TEST_UNITTESTS_RUNTIME_HARNESSGOLDEN_H

#include "runtime/support/Json.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace midllama::rt::evalgolden {

/// The path of a file of the source tree.
inline std::string sourcePath(const std::string &relative) {
  return std::string(MIDLLAMA_SOURCE_DIR) + "/" + relative;
}

/// The bytes of a file of the source tree ("" when unreadable: the test then fails on
/// what it expected to find).
inline std::string readSource(const std::string &relative) {
  std::ifstream in(sourcePath(relative), std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// test/unittests/runtime/Inputs/<name> as JSON; a parse error fails the test.
inline Json harnessGolden(const std::string &name) {
  std::string text = readSource("test/unittests/runtime/Inputs/" + name), error;
  Json doc;
  EXPECT_TRUE(parseJson(text.data(), text.data() + text.size(), doc, error)) << error;
  return doc;
}

/// FNV-1a 64 of `text`, as 16 lower-case hex digits (what the reference scripts write).
inline std::string fnv1a(const std::string &text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : text)
    h = (h ^ uint8_t(c)) * 0x100000001b3ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)h);
  return buf;
}

} // namespace midllama::rt::evalgolden

#endif // MIDLLAMA_TEST_UNITTESTS_RUNTIME_HARNESSGOLDEN_H
