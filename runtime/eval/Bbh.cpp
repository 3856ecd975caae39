//===- Bbh.cpp - BIG-Bench Hard as lm-evaluation-harness asks it ----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/eval/Bbh.h"

#include "runtime/eval/DataFiles.h"
#include "runtime/support/InputFile.h"
#include "runtime/support/Json.h"

using namespace midllama::rt;
using namespace midllama::rt::eval;

namespace {

bool readItems(const std::string &path, std::vector<BbhItem> &items, std::string &error) {
  std::string text;
  if (!readInputFile(path, "BBH file", kTextInputLimit, text, error))
    return false;
  Json doc;
  if (!parseJson(text.data(), text.data() + text.size(), doc, error, "BBH file '" + path + "'"))
    return false;
  const Json *examples = doc.find("examples");
  if (doc.kind != Json::Object || !examples || examples->kind != Json::Array) {
    error = "BBH file '" + path + "' has no \"examples\" array";
    return false;
  }
  for (size_t i = 0; i < examples->items.size(); ++i) {
    const Json &e = examples->items[i];
    const Json *input = e.find("input"), *target = e.find("target");
    if (e.kind != Json::Object || !input || !target || input->kind != Json::String ||
        target->kind != Json::String) {
      error = "BBH file '" + path + "', example " + std::to_string(i) +
              ": needs string fields \"input\" and \"target\"";
      return false;
    }
    items.push_back({input->string, target->string});
  }
  if (items.empty()) {
    error = "BBH file '" + path + "' holds no examples";
    return false;
  }
  return true;
}

/// The prompt file after its "\n-----\n" separator (what the harness generated its task
/// configurations from: `resp.split("\n-----\n")[-1]`).
bool readFewShot(const std::string &path, std::string &fewShot, std::string &error) {
  std::string text;
  if (!readInputFile(path, "BBH prompt file", kTextInputLimit, text, error))
    return false;
  size_t at = text.rfind("\n-----\n");
  fewShot = at == std::string::npos ? text : text.substr(at + 7);
  // The harness's configuration starts every worked example's reasoning on its own line;
  // the repository's sports_understanding.txt continues the cue's line with a space.
  static const std::string cue = "A: Let's think step by step.";
  for (size_t c = fewShot.find(cue); c != std::string::npos; c = fewShot.find(cue, c + 1)) {
    size_t end = c + cue.size(), blank = end;
    while (blank < fewShot.size() && (fewShot[blank] == ' ' || fewShot[blank] == '\t'))
      ++blank;
    if (blank > end)
      fewShot.replace(end, blank - end, "\n");
  }
  if (fewShot.find("\n\nQ: ") == std::string::npos) {
    error = "BBH prompt file '" + path + "' holds no worked examples (\"\\n\\nQ: \")";
    return false;
  }
  return true;
}

} // namespace

bool midllama::rt::eval::loadBbh(const std::string &dir, std::vector<BbhTask> &tasks,
                                 std::string &error) {
  std::vector<std::string> names;
  if (!filesEndingIn(dir, ".json",
                     "BBH directory '" + dir + "' cannot be read (expected <task>.json and "
                     "cot-prompts/<task>.txt)",
                     names, error))
    return false;
  if (names.empty()) {
    error = "BBH directory '" + dir + "' has no <task>.json files";
    return false;
  }
  for (const std::string &name : names) {
    BbhTask t;
    t.name = name;
    if (!readItems(dir + "/" + name + ".json", t.items, error) ||
        !readFewShot(dir + "/cot-prompts/" + name + ".txt", t.fewShot, error))
      return false;
    tasks.push_back(std::move(t));
  }
  return true;
}

std::string midllama::rt::eval::bbhPrompt(const BbhTask &task, const BbhItem &item) {
  return task.fewShot + "\n\nQ: " + item.input + "\nA: Let's think step by step.\n";
}

const std::vector<std::string> &midllama::rt::eval::bbhStops() {
  static const std::vector<std::string> stops = {"</s>", "Q", "\n\n"};
  return stops;
}

std::string midllama::rt::eval::bbhAnswer(const std::string &generation) {
  // re.findall("(?<=the answer is )(.*)(?=.)")[0]: the first "the answer is " followed by
  // at least one character on its line ('.' is anything but '\n'); the greedy group takes
  // the rest of the line but its last character.
  static const std::string cue = "the answer is ";
  for (size_t at = generation.find(cue); at != std::string::npos;
       at = generation.find(cue, at + 1)) {
    size_t from = at + cue.size();
    size_t end = generation.find('\n', from);
    if (end == std::string::npos)
      end = generation.size();
    if (end == from)
      continue;
    size_t last = end - 1; // the line's last character: a code point, not a byte
    while (last > from && (uint8_t(generation[last]) & 0xC0) == 0x80)
      --last;
    std::string answer = generation.substr(from, last - from);
    // str.strip(): ASCII whitespace and the separators \x1c-\x1f.
    auto space = [](char c) {
      return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
    };
    size_t b = 0, e = answer.size();
    while (b < e && space(answer[b]))
      ++b;
    while (e > b && space(answer[e - 1]))
      --e;
    return answer.substr(b, e - b);
  }
  return "[invalid]";
}
