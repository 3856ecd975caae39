//===- Hellaswag.cpp - HellaSwag as lm-evaluation-harness asks it ---------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/eval/Hellaswag.h"

#include "runtime/eval/PythonText.h"
#include "runtime/support/InputFile.h"
#include "runtime/support/Json.h"

using namespace midllama::rt;
using namespace midllama::rt::eval;

namespace {

/// A string field of a record, or false with `why` set.
bool stringField(const Json &record, const char *key, std::string &out, std::string &why) {
  const Json *v = record.find(key);
  if (!v || v->kind != Json::String) {
    why = std::string("needs a string field \"") + key + "\"";
    return false;
  }
  out = v->string;
  return true;
}

/// The gold index: 0-3 as a number (the release) or a string (the hub's copy).
bool labelField(const Json &record, int64_t &label, std::string &why) {
  const Json *v = record.find("label");
  if (v && v->kind == Json::Int && v->integer >= 0 && v->integer <= 3) {
    label = v->integer;
    return true;
  }
  if (v && v->kind == Json::String && v->string.size() == 1 && v->string[0] >= '0' &&
      v->string[0] <= '3') {
    label = v->string[0] - '0';
    return true;
  }
  why = "needs \"label\" 0-3 (a number or a one-digit string)";
  return false;
}

bool itemOf(const Json &record, int64_t line, HellaswagItem &item, std::string &why) {
  if (record.kind != Json::Object) {
    why = "is not a JSON object";
    return false;
  }
  if (!stringField(record, "activity_label", item.activityLabel, why) ||
      !stringField(record, "ctx_a", item.ctxA, why) ||
      !stringField(record, "ctx_b", item.ctxB, why) || !labelField(record, item.label, why))
    return false;
  const Json *endings = record.find("endings");
  if (!endings || endings->kind != Json::Array || endings->items.size() != 4) {
    why = "needs \"endings\": an array of 4 strings";
    return false;
  }
  for (size_t i = 0; i < 4; ++i) {
    if (endings->items[i].kind != Json::String) {
      why = "needs \"endings\": an array of 4 strings";
      return false;
    }
    item.endings[i] = endings->items[i].string;
  }
  const Json *ind = record.find("ind");
  item.ind = ind && ind->kind == Json::Int ? ind->integer : line;
  return true;
}

/// re.sub(r"\[.*?\]", "", s): from each '[' to the first ']' after it on the
/// same line
/// ('.' does not match a line break); a '[' with none is kept.
std::string removeBracketed(const std::string &s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '[') {
      size_t close = s.find_first_of("]\n", i + 1);
      if (close != std::string::npos && s[close] == ']') {
        i = close + 1;
        continue;
      }
    }
    out += s[i++];
  }
  return out;
}

} // namespace

bool midllama::rt::eval::loadHellaswag(const std::string &path, std::vector<HellaswagItem> &items,
                                       std::string &error) {
  std::string text;
  if (!readInputFile(path, "HellaSwag file", kTextInputLimit, text, error))
    return false;
  items.clear();
  int64_t line = 0;
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos)
      end = text.size();
    ++line;
    std::string_view row(text.data() + at, end - at);
    at = end + 1;
    if (row.find_first_not_of(" \t\r") == std::string_view::npos)
      continue; // blank lines, and the last line's break
    Json record;
    std::string why;
    std::string where = "HellaSwag file '" + path + "', line " + std::to_string(line);
    if (!parseJson(row.data(), row.data() + row.size(), record, error, where))
      return false;
    HellaswagItem item;
    if (!itemOf(record, line - 1, item, why)) {
      error = where + ": " + why;
      return false;
    }
    items.push_back(std::move(item));
  }
  if (items.empty()) {
    error = "HellaSwag file '" + path + "' holds no items (expected one JSON object per line)";
    return false;
  }
  return true;
}

std::string midllama::rt::eval::hellaswagPreprocess(const std::string &text) {
  std::string t = pyReplace(pyStrip(text), " [title]", ". ");
  return pyReplace(removeBracketed(t), "  ", " ");
}

std::string midllama::rt::eval::capitalizeAscii(const std::string &text) {
  std::string out = text;
  for (size_t i = 0; i < out.size(); ++i) {
    char c = out[i];
    if (i == 0 && c >= 'a' && c <= 'z')
      out[i] = char(c - 'a' + 'A');
    else if (i > 0 && c >= 'A' && c <= 'Z')
      out[i] = char(c - 'A' + 'a');
  }
  return out;
}

ChoiceQuestion midllama::rt::eval::hellaswagQuestion(const HellaswagItem &item) {
  ChoiceQuestion q;
  q.context =
      hellaswagPreprocess(item.activityLabel + ": " + item.ctxA + " " + capitalizeAscii(item.ctxB));
  for (const std::string &ending : item.endings)
    q.choices.push_back(hellaswagPreprocess(ending));
  q.answer = item.label;
  return q;
}
