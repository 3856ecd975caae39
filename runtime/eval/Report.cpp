//===- Report.cpp - The run report ----------------------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/eval/Report.h"

#include <cstdint>

using namespace midllama::rt::eval;

void Report::add(const std::string &label, const std::string &value, const std::string &key,
                 const std::string &jsonValue) {
  rows.push_back({label, value});
  members.push_back({key, jsonValue});
}

void Report::addJson(const std::string &key, const std::string &jsonValue) {
  members.push_back({key, jsonValue});
}

void Report::printTable(std::FILE *out, const char *title) const {
  std::fprintf(out, "%s\n", title);
  for (const auto &[label, value] : rows)
    std::fprintf(out, "  %-24s %s\n", label.c_str(), value.c_str());
}

std::string Report::json() const {
  std::string out = "{";
  for (size_t i = 0; i < members.size(); ++i)
    out += (i ? ", \"" : "\"") + members[i].first + "\": " + members[i].second;
  return out + "}\n";
}

std::string midllama::rt::eval::quote(const std::string &s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (uint8_t(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string midllama::rt::eval::format(const char *spec, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, spec, v);
  return buf;
}
