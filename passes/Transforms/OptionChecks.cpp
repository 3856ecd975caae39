//===- OptionChecks.cpp - Pass options checked before the module is touched ----===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "OptionChecks.h"

#include <cmath>
#include <regex>
#include <sstream>

using namespace midllama;

std::string midllama::formatOptionValue(double value) {
  std::ostringstream os;
  os.precision(17);
  os << value;
  // Prefer the short form when it reads back the same (0.7, not 0.69999999999999996).
  for (int digits = 1; digits < 17; ++digits) {
    std::ostringstream shorter;
    shorter.precision(digits);
    shorter << value;
    if (std::strtod(shorter.str().c_str(), nullptr) == value || std::isnan(value))
      return shorter.str();
  }
  return os.str();
}

void OptionChecker::fail(llvm::StringRef option, const std::string &rule,
                         const std::string &got) {
  if (error.empty())
    error = pass + ": " + option.str() + " " + rule + " (got " + got + ")";
}

OptionChecker &OptionChecker::inRange(llvm::StringRef option, int64_t value, int64_t lo,
                                      int64_t hi) {
  if (value < lo || value > hi)
    fail(option, "must be " + std::to_string(lo) + " to " + std::to_string(hi),
         std::to_string(value));
  return *this;
}

OptionChecker &OptionChecker::atLeast(llvm::StringRef option, int64_t value, int64_t lo) {
  if (value < lo)
    fail(option, "must be at least " + std::to_string(lo), std::to_string(value));
  return *this;
}

OptionChecker &OptionChecker::inInterval(llvm::StringRef option, double value, double lo,
                                         bool loOpen, double hi, bool hiOpen) {
  bool ok = std::isfinite(value) && (loOpen ? value > lo : value >= lo) &&
            (hiOpen ? value < hi : value <= hi);
  if (!ok)
    fail(option,
         "must be in " + std::string(loOpen ? "(" : "[") + formatOptionValue(lo) + ", " +
             formatOptionValue(hi) + (hiOpen ? ")" : "]"),
         formatOptionValue(value));
  return *this;
}

OptionChecker &OptionChecker::atLeast(llvm::StringRef option, double value, double lo) {
  if (!(std::isfinite(value) && value >= lo))
    fail(option, "must be a finite number at least " + formatOptionValue(lo),
         formatOptionValue(value));
  return *this;
}

OptionChecker &OptionChecker::nonEmpty(llvm::StringRef option, const std::string &value,
                                       llvm::StringRef what) {
  if (value.empty() && error.empty())
    error = pass + ": " + option.str() + " (" + what.str() + ") is required and may not be empty";
  return *this;
}

OptionChecker &OptionChecker::oneOf(llvm::StringRef option, const std::string &value,
                                    llvm::ArrayRef<llvm::StringRef> allowed) {
  for (llvm::StringRef a : allowed)
    if (value == a)
      return *this;
  std::string list;
  for (size_t i = 0; i < allowed.size(); ++i)
    list += (i == 0 ? "" : i + 1 == allowed.size() ? " or " : ", ") + allowed[i].str();
  fail(option, "must be " + list, "'" + value + "'");
  return *this;
}

OptionChecker &OptionChecker::regex(llvm::StringRef option, const std::string &value) {
  if (!error.empty() || value.empty())
    return *this;
  try {
    std::regex re(value, std::regex::ECMAScript);
  } catch (const std::regex_error &e) {
    fail(option, "is not a regular expression: " + std::string(e.what()), "'" + value + "'");
  }
  return *this;
}

OptionChecker &OptionChecker::calibration(const std::string &calib, int64_t samples,
                                          int64_t seqLen, int64_t batch) {
  return require(!calib.empty(),
                 "calibration data is required (calib=FILE: text, or a .tokens file)")
      .atLeast("samples", samples, 1)
      .atLeast("seq-len", seqLen, 2)
      .atLeast("calib-batch", batch, 1);
}

OptionChecker &OptionChecker::require(bool ok, const std::string &why) {
  if (!ok && error.empty())
    error = pass + ": " + why;
  return *this;
}
