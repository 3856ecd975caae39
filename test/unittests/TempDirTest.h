//===- TempDirTest.h - A GoogleTest fixture owning a fresh folder -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Tests that write files get a folder of their own under /tmp, removed after each test,
// and the few helpers they all need. Shared so each test file does not grow its own.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_TEST_UNITTESTS_TEMPDIRTEST_H
#define MIDLLAMA_TEST_UNITTESTS_TEMPDIRTEST_H

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>

namespace midllama::testing {

class TempDirTest : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/midllama-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
  }
  void TearDown() override { std::system(("rm -rf '" + dir + "'").c_str()); }

  /// `name` inside the test's folder.
  std::string path(const std::string &name) const { return dir + "/" + name; }

  static std::string readAll(const std::string &p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static void writeAll(const std::string &p, const std::string &bytes) {
    std::ofstream(p, std::ios::binary) << bytes;
  }

  std::string dir;
};

} // namespace midllama::testing

#endif // MIDLLAMA_TEST_UNITTESTS_TEMPDIRTEST_H
