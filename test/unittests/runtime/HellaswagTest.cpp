//===- HellaswagTest.cpp - The HellaSwag prompt and its acc_norm ----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// runtime/eval/Hellaswag.h against lm-evaluation-harness itself: the query, choices and
// gold of every item of data/eval/hellaswag (27 byte for byte, all 10042 through one hash)
// and the preprocess on corner cases, from Inputs/hellaswag-harness-golden.json (made by
// `scripts/reference-hellaswag.py --golden`, which runs the harness's own process_docs);
// the jsonl reader's errors; acc_norm's length in characters, not bytes.
//
//===----------------------------------------------------------------------===//

#include "runtime/eval/Hellaswag.h"
#include "runtime/support/Json.h"
#include "HarnessGolden.h"

#include <gtest/gtest.h>

#include <fstream>

using namespace midllama::rt;
using namespace midllama::rt::eval;

namespace {

Json golden() { return evalgolden::harnessGolden("hellaswag-harness-golden.json"); }

std::vector<HellaswagItem> dataset() {
  std::vector<HellaswagItem> items;
  std::string error;
  EXPECT_TRUE(loadHellaswag(evalgolden::sourcePath("data/eval/hellaswag/hellaswag_val.jsonl"), items, error))
      << error;
  return items;
}

TEST(HellaswagTest, QuestionsAreTheHarnessDocuments) {
  std::vector<HellaswagItem> items = dataset();
  Json g = golden();
  ASSERT_EQ(int64_t(items.size()), g.find("all_items")->integer);
  const Json *expected = g.find("items");
  ASSERT_TRUE(expected && expected->items.size() > 8);
  for (const Json &e : expected->items) {
    size_t index = size_t(e.find("index")->integer);
    ChoiceQuestion q = hellaswagQuestion(items[index]);
    EXPECT_EQ(q.context, e.find("query")->string) << index;
    ASSERT_EQ(q.choices.size(), 4u);
    for (size_t c = 0; c < 4; ++c)
      EXPECT_EQ(q.choices[c], e.find("choices")->items[c].string) << index;
    EXPECT_EQ(q.answer, e.find("gold")->integer) << index;
    EXPECT_EQ(q.delimiter, " ");
  }
  // Every item: FNV-1a 64 over each query, choice and gold, one per line.
  std::string all;
  for (const HellaswagItem &item : items) {
    ChoiceQuestion q = hellaswagQuestion(item);
    all += q.context + "\n";
    for (const std::string &c : q.choices)
      all += c + "\n";
    all += std::to_string(q.answer) + "\n";
  }
  EXPECT_EQ(evalgolden::fnv1a(all), g.find("all_items_fnv1a64")->string);
}

TEST(HellaswagTest, PreprocessIsTheHarnessPreprocess) {
  Json g = golden();
  const Json *cases = g.find("preprocess");
  ASSERT_TRUE(cases && !cases->items.empty());
  for (const Json &c : cases->items)
    EXPECT_EQ(hellaswagPreprocess(c.items[0].string), c.items[1].string) << c.items[0].string;
  EXPECT_EQ(hellaswagPreprocess("a [x\ny] b"), "a [x\ny] b"); // '.' stops at a line break
  EXPECT_EQ(capitalizeAscii("the MAN"), "The man");
  EXPECT_EQ(capitalizeAscii("2 a guy"), "2 a guy");
  EXPECT_EQ(capitalizeAscii(""), "");
}

/// Writes `text` to a temporary file and loads it; the error when it fails.
std::string loadError(const std::string &text) {
  std::string path = testing::TempDir() + "/hellaswag-test.jsonl";
  std::ofstream(path) << text;
  std::vector<HellaswagItem> items;
  std::string error;
  return loadHellaswag(path, items, error) ? "" : error;
}

TEST(HellaswagTest, MalformedFilesAreClearErrors) {
  const std::string ok = R"({"activity_label": "A", "ctx_a": "b.", "ctx_b": "c", )"
                         R"("endings": ["1", "2", "3", "4"], "label": "2"})";
  EXPECT_EQ(loadError(ok + "\n\n" + ok), "");
  EXPECT_NE(loadError("").find("holds no items"), std::string::npos);
  std::string e = loadError(ok + "\n{\"activity_label\": 1}");
  EXPECT_NE(e.find("line 2: needs a string field \"activity_label\""), std::string::npos) << e;
  e = loadError(R"({"activity_label": "A", "ctx_a": "b", "ctx_b": "", "endings": ["1"], )"
                R"("label": 0})");
  EXPECT_NE(e.find("line 1: needs \"endings\": an array of 4 strings"), std::string::npos) << e;
  e = loadError(R"({"activity_label": "A", "ctx_a": "b", "ctx_b": "", )"
                R"("endings": ["1", "2", "3", "4"], "label": 4})");
  EXPECT_NE(e.find("needs \"label\" 0-3"), std::string::npos) << e;
  e = loadError("[1, 2]");
  EXPECT_NE(e.find("line 1: is not a JSON object"), std::string::npos) << e;
  e = loadError("{\"activity_label\": ");
  EXPECT_NE(e.find("HellaSwag file"), std::string::npos) << e;
  EXPECT_NE(e.find("line 1"), std::string::npos) << e;
}

TEST(HellaswagTest, AccNormDividesByCharactersNotBytes) {
  // "é" is one character in two bytes. Per character: -3 / 1 < -4 / 2, choice 1 wins; per
  // byte choice 0 would (-3 / 2 > -4 / 2).
  std::vector<size_t> lengths = {codePointCount("\xC3\xA9"), codePointCount("ab")};
  EXPECT_EQ(lengths, (std::vector<size_t>{1, 2}));
  EXPECT_EQ(bestNormalizedChoice({-3, -4}, lengths), 1);
  EXPECT_EQ(bestChoice({-3, -4}), 0);
  EXPECT_EQ(bestNormalizedChoice({-2, -4}, lengths), 0); // ties: the first
  EXPECT_EQ(bestNormalizedChoice({0, -1}, {0, 1}), 0);   // 0 / 0 is NaN: numpy takes it
}

} // namespace
