//===- CalibrationDataTest.cpp - Sampling calibration windows -------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Calibrate/CalibrationData.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <unistd.h>

using namespace midllama;

namespace {

class CalibrationData : public ::testing::Test {
protected:
  void SetUp() override {
    char tmpl[] = "/tmp/midllama-calib-data-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
    std::string error;
    tok = rt::Tokenizer::load(std::string(MIDLLAMA_SOURCE_DIR) + "/models/stories260K/tok512.bin",
                              error);
    ASSERT_TRUE(tok) << error;
  }
  void TearDown() override { std::system(("rm -rf " + dir).c_str()); }
  std::string write(const std::string &name, const std::string &text) {
    std::ofstream(dir + "/" + name) << text;
    return dir + "/" + name;
  }
  std::string dir;
  std::unique_ptr<rt::Tokenizer> tok;
};

TEST_F(CalibrationData, SameSeedSameWindowsFromTheTokenizedText) {
  std::string text;
  for (int i = 0; i < 40; ++i)
    text += "Once upon a time there was a little girl named Lily. She liked to play. ";
  std::string path = write("calib.txt", text);
  std::vector<int32_t> all = tok->encode(text, false, false);
  std::vector<std::vector<int32_t>> a, b, c;
  std::string error;
  ASSERT_TRUE(calib::sampleCalibrationTokens(path, tok.get(), 512, 16, 32, 7, a, error)) << error;
  ASSERT_TRUE(calib::sampleCalibrationTokens(path, tok.get(), 512, 16, 32, 7, b, error)) << error;
  ASSERT_TRUE(calib::sampleCalibrationTokens(path, tok.get(), 512, 16, 32, 8, c, error)) << error;
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  ASSERT_EQ(a.size(), 16u);
  for (const auto &window : a) { // each window is a run of the tokenized file
    ASSERT_EQ(window.size(), 32u);
    EXPECT_NE(std::search(all.begin(), all.end(), window.begin(), window.end()), all.end());
  }
}

TEST_F(CalibrationData, TokenFilesAreRead) {
  std::string path = write("ids.tokens", "1 2 3\n4 5\t6 7 8\n");
  std::vector<std::vector<int32_t>> s;
  std::string error;
  ASSERT_TRUE(calib::sampleCalibrationTokens(path, nullptr, 512, 3, 8, 0, s, error)) << error;
  for (const auto &window : s)
    EXPECT_EQ(window, (std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST_F(CalibrationData, BadInputsAreClearErrors) {
  std::vector<std::vector<int32_t>> s;
  std::string error;
  auto fails = [&](const std::string &path, const rt::Tokenizer *t, int64_t samples,
                   int64_t length, const std::string &expected) {
    error.clear();
    EXPECT_FALSE(calib::sampleCalibrationTokens(path, t, 512, samples, length, 0, s, error));
    EXPECT_NE(error.find(expected), std::string::npos) << error;
    EXPECT_NE(error.find(path), std::string::npos) << error;
  };
  fails(dir + "/missing.txt", tok.get(), 4, 8, "No such file or directory");
  fails(write("empty.txt", " \n\n"), tok.get(), 4, 8, "is empty");
  fails(write("short.txt", "Once upon a time"), tok.get(), 4, 64,
        "fewer than one sample of 64");
  fails(write("text.txt", "Once upon a time"), nullptr, 1, 2, "no tokenizer");
  fails(write("bad.tokens", "1 2 x 4"), nullptr, 1, 2, "white space");
  fails(write("range.tokens", "1 2 999 4"), nullptr, 1, 2, "outside the vocabulary");
}

} // namespace
