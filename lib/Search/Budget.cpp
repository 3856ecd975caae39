//===- Budget.cpp - Memory budgets as users write them --------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Search/Budget.h"

#include <cmath>
#include <cstdlib>
#include <utility>

using namespace midllama::search;

int64_t Budget::bytes(int64_t parameters) const {
  return bitsPerParam ? int64_t(std::floor(value * double(parameters) / 8.0))
                      : int64_t(value);
}

bool midllama::search::parseBudget(const std::string &text, Budget &budget,
                                   std::string &error) {
  static const std::pair<const char *, double> kSuffixes[] = {
      {"bits-per-param", 0}, {"bpp", 0},        {"KiB", 1024.0}, {"MiB", 1048576.0},
      {"GiB", 1073741824.0}, {"kB", 1e3},       {"KB", 1e3},     {"MB", 1e6},
      {"GB", 1e9},           {"B", 1.0}};
  error = "budget '" + text + "' is not a size (123456789, 60MB, 1.5GiB: B, kB, MB, GB, "
          "KiB, MiB, GiB) or a width (4.25bpp, 4.25bits-per-param)";
  std::string number = text;
  double scale = 1;
  bool bits = false;
  for (const auto &[suffix, factor] : kSuffixes) {
    std::string s = suffix;
    if (text.size() > s.size() && text.compare(text.size() - s.size(), s.size(), s) == 0) {
      number = text.substr(0, text.size() - s.size());
      scale = factor;
      bits = factor == 0;
      break;
    }
  }
  if (number.empty() || !(std::isdigit(uint8_t(number[0])) || number[0] == '.'))
    return false;
  char *end = nullptr;
  double v = std::strtod(number.c_str(), &end);
  if (*end || !std::isfinite(v) || v <= 0)
    return false;
  if (bits && v > 32) {
    error = "budget '" + text + "': more than 32 bits per parameter is no budget";
    return false;
  }
  budget.bitsPerParam = bits;
  budget.value = bits ? v : std::floor(v * scale);
  if (!bits && budget.value >= 9.2e18) {
    error = "budget '" + text + "' is too large";
    return false;
  }
  error.clear();
  return true;
}
