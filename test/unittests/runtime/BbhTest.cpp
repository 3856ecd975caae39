//===- BbhTest.cpp - BBH prompts, answers and generation until stops ------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// runtime/eval/Bbh.h against lm-evaluation-harness itself: every task's prompt byte for
// byte and the answer filter on corner cases, from
// Inputs/bbh-harness-golden.json (made by `scripts/reference-bbh.py --golden`, which runs
// the harness's own task configuration and few-shot builder). runtime/eval/GenerateUntil.h
// on a scripted model: stop strings, the end-of-text token, the token limit, left
// truncation, and the KV-cache reuse between prompts.
//
//===----------------------------------------------------------------------===//

#include "runtime/eval/Bbh.h"
#include "runtime/eval/GenerateUntil.h"
#include "runtime/support/Json.h"
#include "HarnessGolden.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

using namespace midllama::rt;
using namespace midllama::rt::eval;

namespace {

using evalgolden::sourcePath;

Json golden() { return evalgolden::harnessGolden("bbh-harness-golden.json"); }

TEST(BbhTest, PromptsAreTheHarnessPrompts) {
  std::vector<BbhTask> tasks;
  std::string error;
  ASSERT_TRUE(loadBbh(sourcePath("data/eval/bbh"), tasks, error)) << error;
  ASSERT_EQ(tasks.size(), 27u);
  Json g = golden();
  const Json *prompts = g.find("prompts");
  ASSERT_TRUE(prompts && prompts->members.size() == 27u);
  for (const BbhTask &t : tasks) {
    const Json *expected = prompts->find(t.name);
    ASSERT_TRUE(expected) << t.name;
    int64_t doc = expected->find("doc")->integer;
    EXPECT_EQ(bbhPrompt(t, t.items[size_t(doc)]), expected->find("prompt")->string) << t.name;
    std::vector<std::string> until;
    for (const Json &u : expected->find("until")->items)
      until.push_back(u.string);
    EXPECT_EQ(until, bbhStops()) << t.name;
  }
}

TEST(BbhTest, AnswersAreTheHarnessFilter) {
  Json g = golden();
  const Json *answers = g.find("answers");
  ASSERT_TRUE(answers && !answers->items.empty());
  for (const Json &pair : answers->items)
    EXPECT_EQ(bbhAnswer(pair.items[0].string), pair.items[1].string)
        << "generation: " << pair.items[0].string;
}

TEST(BbhTest, StopsCutAsPythonSplit) {
  EXPECT_EQ(cutAtStops("a\n\nQ: b", {"</s>", "Q", "\n\n"}), "a");
  EXPECT_EQ(cutAtStops("ab Q\n\n", {"</s>", "Q", "\n\n"}), "ab ");
  EXPECT_EQ(cutAtStops("plain", {"</s>", ""}), "plain");
}

TEST(BbhTest, LoadErrorsNameTheFile) {
  std::vector<BbhTask> tasks;
  std::string error;
  EXPECT_FALSE(loadBbh(sourcePath("data/eval/nowhere"), tasks, error));
  EXPECT_NE(error.find("BBH directory"), std::string::npos) << error;
  // The MMLU directory has no <task>.json.
  EXPECT_FALSE(loadBbh(sourcePath("data/eval/mmlu"), tasks, error));
  EXPECT_NE(error.find("has no <task>.json files"), std::string::npos) << error;
}

/// A model that predicts, after the token at position p, the token script[p + 1] (or
/// `filler`): generation from any prompt is known. Records its calls.
class ScriptModel : public Executor {
public:
  ScriptModel(std::map<int64_t, int32_t> script, int32_t filler, int64_t vocab)
      : script(std::move(script)), filler(filler), vocab(vocab) {}
  const float *forward(const int32_t *, int64_t count, int64_t start, bool lastOnly,
                       std::string &) override {
    calls.push_back({start, count});
    EXPECT_TRUE(lastOnly);
    auto it = script.find(start + count);
    row.assign(size_t(vocab), 0.0f);
    row[size_t(it == script.end() ? filler : it->second)] = 1.0f;
    return row.data();
  }
  std::string deviceName() const override { return "script"; }
  std::map<int64_t, int32_t> script;
  int32_t filler;
  int64_t vocab;
  std::vector<std::pair<int64_t, int64_t>> calls;
  std::vector<float> row;
};

std::unique_ptr<Tokenizer> tok512() {
  std::string error;
  auto t = Tokenizer::load(sourcePath("models/stories260K/tok512.bin"), error);
  EXPECT_TRUE(t) << error;
  return t;
}

TEST(BbhTest, GenerationStopsAndReusesTheCache) {
  auto tok = tok512();
  ASSERT_TRUE(tok);
  std::vector<int32_t> prompt = tok->encode("Once upon a time", true, false);
  std::vector<int32_t> answer = tok->encode("So it was.\n\nQ: more", false, false);
  std::map<int64_t, int32_t> script;
  for (size_t i = 0; i < answer.size(); ++i)
    script[int64_t(prompt.size() + i)] = answer[i];
  ScriptModel m(script, /*filler=*/answer[0], tok->vocabSize());
  UntilOptions o;
  o.maxNewTokens = 64;
  o.until = bbhStops();
  KvPrefix cache;
  UntilResult r;
  std::string error;
  ASSERT_TRUE(generateUntil(m, *tok, tok->vocabSize(), 256, 4, prompt, o, cache, r, error))
      << error;
  EXPECT_EQ(r.text, " So it was.");
  EXPECT_FALSE(r.truncated);
  EXPECT_EQ(r.reusedTokens, 0);
  // Generation stopped once "\n\n" arrived: no token after it was asked for.
  std::string decoded = tok->decode(r.tokens);
  EXPECT_EQ(decoded.find("\n\n") + 2, decoded.size()) << decoded;
  // The prompt ran in chunks of 4, then one token per step; the cache holds what ran.
  int64_t n = int64_t(prompt.size());
  EXPECT_EQ(m.calls.front(), (std::pair<int64_t, int64_t>{0, std::min<int64_t>(4, n)}));
  EXPECT_EQ(int64_t(cache.tokens.size()), n + int64_t(r.tokens.size()) - 1);

  // A prompt with the same first tokens runs only from where it differs.
  std::vector<int32_t> second = prompt;
  second.back() = answer[0];
  m.calls.clear();
  ASSERT_TRUE(generateUntil(m, *tok, tok->vocabSize(), 256, 4, second, o, cache, r, error));
  EXPECT_EQ(r.reusedTokens, n - 1);
  EXPECT_EQ(m.calls.front(), (std::pair<int64_t, int64_t>{n - 1, 1}));
  // The same prompt again: all but its last token come from the cache.
  m.calls.clear();
  ASSERT_TRUE(generateUntil(m, *tok, tok->vocabSize(), 256, 4, second, o, cache, r, error));
  EXPECT_EQ(m.calls.front(), (std::pair<int64_t, int64_t>{n - 1, 1}));
}

TEST(BbhTest, GenerationLimitsAndTruncation) {
  auto tok = tok512();
  ASSERT_TRUE(tok);
  std::vector<int32_t> prompt = tok->encode("Once upon a time there was a cat", true, false);
  int32_t word = tok->encode("cat", false, false)[0];
  ScriptModel m({}, word, tok->vocabSize());
  UntilOptions o;
  o.maxNewTokens = 3;
  o.until = bbhStops();
  KvPrefix cache;
  UntilResult r;
  std::string error;
  // 8 positions, 3 for generation: the prompt keeps its last 5 tokens, as the harness.
  ASSERT_TRUE(generateUntil(m, *tok, tok->vocabSize(), 8, 8, prompt, o, cache, r, error));
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.promptTokens, 5);
  EXPECT_EQ(r.tokens, (std::vector<int32_t>{word, word, word}));
  // The end-of-text token ends generation without being part of it.
  ScriptModel eos({}, Tokenizer::kEos, tok->vocabSize());
  ASSERT_TRUE(generateUntil(eos, *tok, tok->vocabSize(), 64, 8, prompt, o, cache, r, error));
  EXPECT_TRUE(r.tokens.empty());
  EXPECT_EQ(r.text, "");
  o.maxNewTokens = 8;
  EXPECT_FALSE(generateUntil(m, *tok, tok->vocabSize(), 8, 8, prompt, o, cache, r, error));
  EXPECT_NE(error.find("leave no room for a prompt"), std::string::npos) << error;
}

} // namespace
