//===- Mmlu.cpp - MMLU as lm-evaluation-harness asks it -------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/eval/Mmlu.h"

#include "runtime/eval/DataFiles.h"
#include "runtime/support/InputFile.h"

#include <algorithm>

using namespace midllama::rt;
using namespace midllama::rt::eval;

bool midllama::rt::eval::parseCsv(std::string_view text,
                                  std::vector<std::vector<std::string>> &rows,
                                  std::string &error) {
  rows.clear();
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, fieldStarted = false;
  int64_t line = 1, quoteLine = 0;
  auto endField = [&] {
    row.push_back(std::move(field));
    field.clear();
    fieldStarted = false;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        line += c == '\n';
        field += c;
      }
      continue;
    }
    if (c == '"' && !fieldStarted && field.empty()) {
      quoted = true;
      fieldStarted = true;
      quoteLine = line;
    } else if (c == ',') {
      endField();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n')
        ++i;
      endField();
      rows.push_back(std::move(row));
      row.clear();
      ++line;
    } else {
      field += c;
      fieldStarted = true;
    }
  }
  if (quoted) {
    error = "a quoted field opened on line " + std::to_string(quoteLine) + " never closes";
    return false;
  }
  if (fieldStarted || !field.empty() || !row.empty()) {
    endField();
    rows.push_back(std::move(row));
  }
  return true;
}

namespace {

/// The items of one MMLU CSV file (with or without the header row).
bool readItems(const std::string &path, std::vector<MmluItem> &items, std::string &error) {
  std::string text;
  if (!readInputFile(path, "MMLU file", kTextInputLimit, text, error))
    return false;
  std::vector<std::vector<std::string>> rows;
  if (!parseCsv(text, rows, error)) {
    error = "MMLU file '" + path + "': " + error;
    return false;
  }
  for (size_t r = 0; r < rows.size(); ++r) {
    const std::vector<std::string> &row = rows[r];
    if (r == 0 && !row.empty() && row[0] == "question")
      continue; // the header of the Hugging Face export
    auto bad = [&](const std::string &why) {
      error = "MMLU file '" + path + "', row " + std::to_string(r + 1) + ": " + why;
      return false;
    };
    if (row.size() != 6)
      return bad("has " + std::to_string(row.size()) +
                 " fields, not 6 (question, 4 choices, answer)");
    MmluItem item;
    item.question = row[0];
    for (int i = 0; i < 4; ++i)
      item.choices[size_t(i)] = row[size_t(i + 1)];
    const std::string &a = row[5];
    if (a.size() == 1 && a[0] >= '0' && a[0] <= '3')
      item.answer = a[0] - '0';
    else if (a.size() == 1 && a[0] >= 'A' && a[0] <= 'D') // the original release's letters
      item.answer = a[0] - 'A';
    else
      return bad("its answer '" + a + "' is not 0-3 or A-D");
    items.push_back(std::move(item));
  }
  if (items.empty()) {
    error = "MMLU file '" + path + "' holds no questions";
    return false;
  }
  return true;
}

} // namespace

bool midllama::rt::eval::loadMmlu(const std::string &dir, std::vector<MmluSubject> &subjects,
                                  std::string &error) {
  std::vector<std::string> names;
  if (!filesEndingIn(dir + "/test", "_test.csv",
                     "MMLU directory '" + dir + "/test' cannot be read (expected dev/ and "
                     "test/ with <subject>_dev.csv and <subject>_test.csv)",
                     names, error))
    return false;
  if (names.empty()) {
    error = "MMLU directory '" + dir + "/test' has no <subject>_test.csv files";
    return false;
  }
  for (const std::string &name : names) {
    MmluSubject s;
    s.name = name;
    if (!readItems(dir + "/test/" + name + "_test.csv", s.test, error) ||
        !readItems(dir + "/dev/" + name + "_dev.csv", s.dev, error))
      return false;
    subjects.push_back(std::move(s));
  }
  return true;
}

ChoiceQuestion midllama::rt::eval::mmluQuestion(const MmluSubject &subject,
                                                const MmluItem &item, int64_t shots) {
  auto strip = [](const std::string &s) { // Python's str.strip() for ASCII whitespace
    size_t b = s.find_first_not_of(" \t\n\r\f\v"), e = s.find_last_not_of(" \t\n\r\f\v");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
  };
  auto text = [&](const MmluItem &i) {
    return strip(i.question) + "\nA. " + i.choices[0] + "\nB. " + i.choices[1] + "\nC. " +
           i.choices[2] + "\nD. " + i.choices[3] + "\nAnswer:";
  };
  std::string topic = subject.name;
  std::replace(topic.begin(), topic.end(), '_', ' ');
  ChoiceQuestion q;
  q.context = "The following are multiple choice questions (with answers) about " + topic +
              ".\n\n";
  for (int64_t s = 0; s < shots && size_t(s) < subject.dev.size(); ++s) {
    const MmluItem &shot = subject.dev[size_t(s)];
    q.context += text(shot) + " " + std::string(1, char('A' + shot.answer)) + "\n\n";
  }
  q.context += text(item);
  q.choices = {"A", "B", "C", "D"}; // after the harness's target_delimiter " "
  q.answer = item.answer;
  return q;
}
