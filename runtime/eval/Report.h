//===- Report.h - The run report: a table for people, JSON for scripts --*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Every figure midllama-run reports is added once, with its table label and its JSON key,
// so the table on stderr and the --json object always hold the same measurements.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_EVAL_REPORT_H
#define MIDLLAMA_RUNTIME_EVAL_REPORT_H

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace midllama::rt::eval {

class Report {
public:
  /// A row of the table (`label`, `value`) and a member of the JSON object (`key`,
  /// `jsonValue`, already JSON: a number, `quote(...)`, an object).
  void add(const std::string &label, const std::string &value, const std::string &key,
           const std::string &jsonValue);
  /// A JSON member without a table row (figures the table shows inside another row).
  void addJson(const std::string &key, const std::string &jsonValue);

  /// The table, under a title line.
  void printTable(std::FILE *out, const char *title) const;
  /// The JSON object, on one line.
  std::string json() const;

private:
  std::vector<std::pair<std::string, std::string>> rows;    // label, value
  std::vector<std::pair<std::string, std::string>> members; // key, JSON value
};

/// `s` as a JSON string literal.
std::string quote(const std::string &s);
/// printf of one number.
std::string format(const char *spec, double v);

} // namespace midllama::rt::eval

#endif // MIDLLAMA_RUNTIME_EVAL_REPORT_H
