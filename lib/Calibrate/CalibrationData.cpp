//===- CalibrationData.cpp - Token samples for calibration ----------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Calibrate/CalibrationData.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <dirent.h>
#include <sys/stat.h>
#include "runtime/support/InputFile.h"

#include <fstream>
#include <sstream>

using namespace midllama;

namespace {

uint64_t splitMix64(uint64_t &state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

} // namespace

bool calib::resolveCalibrationData(const std::string &calib, std::string &path,
                                   std::string &error) {
  path = calib;
  bool bare = !calib.empty() && std::all_of(calib.begin(), calib.end(), [](char c) {
    return std::isalnum(uint8_t(c)) || c == '-';
  });
  struct stat st;
  if (!bare || ::stat(calib.c_str(), &st) == 0)
    return true; // a path: read (and checked) as given
  const char *env = std::getenv("MIDLLAMA_DATA_DIR");
  std::string data = env && *env ? env : MIDLLAMA_DATA_DIR;
  std::string candidate = data + "/" + calib + "/calib.txt";
  if (::stat(candidate.c_str(), &st) == 0) {
    path = candidate;
    return true;
  }
  std::vector<std::string> sets;
  if (DIR *dir = ::opendir(data.c_str())) {
    while (dirent *e = ::readdir(dir)) {
      std::string name = e->d_name;
      if (name[0] != '.' && ::stat((data + "/" + name + "/calib.txt").c_str(), &st) == 0)
        sets.push_back(name);
    }
    ::closedir(dir);
  }
  std::sort(sets.begin(), sets.end());
  std::string list;
  for (const std::string &s : sets)
    list += (list.empty() ? "" : ", ") + s;
  error = "calibration data '" + calib + "' is neither a file nor a calibration set of " +
          data + " (" + (list.empty() ? std::string("none there") : "sets: " + list) + ")";
  return false;
}

bool calib::sampleCalibrationTokens(const std::string &calib, const rt::Tokenizer *tokenizer,
                                    int64_t vocabSize, int64_t samples, int64_t length,
                                    uint64_t seed, std::vector<std::vector<int32_t>> &out,
                                    std::string &error) {
  std::string path;
  if (!resolveCalibrationData(calib, path, error))
    return false;
  auto fail = [&](const std::string &why) {
    error = "calibration data '" + path + "': " + why;
    return false;
  };
  if (samples < 1 || length < 2)
    return fail("needs at least one sample of at least 2 tokens");
  std::string text;
  if (!rt::readInputFile(path, "calibration data", rt::kTextInputLimit, text, error))
    return false;
  if (text.find_first_not_of(" \t\r\n") == std::string::npos)
    return fail("is empty");

  std::vector<int32_t> tokens;
  if (endsWith(path, ".tokens")) {
    std::istringstream ids(text);
    long long id;
    while (ids >> id) {
      if (id < 0 || id >= vocabSize)
        return fail("token id " + std::to_string(id) + " is outside the vocabulary of " +
                    std::to_string(vocabSize));
      tokens.push_back(int32_t(id));
    }
    if (!ids.eof())
      return fail("a .tokens file holds token ids separated by white space");
  } else {
    if (!tokenizer)
      return fail("is text, and the model has no tokenizer (give tokenizer=PATH, or a "
                  ".tokens file)");
    tokens = tokenizer->encode(text, /*bos=*/false, /*eos=*/false);
  }
  if (int64_t(tokens.size()) < length)
    return fail("has " + std::to_string(tokens.size()) + " tokens, fewer than one sample of " +
                std::to_string(length));

  uint64_t state = seed;
  uint64_t starts = uint64_t(int64_t(tokens.size()) - length + 1);
  out.clear();
  for (int64_t i = 0; i < samples; ++i) {
    uint64_t start = splitMix64(state) % starts;
    out.emplace_back(tokens.begin() + int64_t(start), tokens.begin() + int64_t(start) + length);
  }
  return true;
}
