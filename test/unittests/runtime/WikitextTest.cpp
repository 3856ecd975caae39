//===- WikitextTest.cpp - WikiText pages, detokenizer, rolling windows ----===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// runtime/eval/Wikitext.h against lm-evaluation-harness itself on the whole WikiText-2
// test file: every page's detokenized text (FNV-1a 64 of the harness's
// wikitext_detokenizer), word and byte counts (its process_results), and its rolling
// windows (lm_eval.utils) on small token lists; from Inputs/wikitext-harness-golden.json
// (`scripts/reference-wikitext.py --golden`). Then the log-likelihood sum on a scripted
// model whose log-probabilities are known.
//
//===----------------------------------------------------------------------===//

#include "runtime/eval/Wikitext.h"
#include "runtime/support/Json.h"
#include "HarnessGolden.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

using namespace midllama::rt;
using namespace midllama::rt::eval;

namespace {

using evalgolden::fnv1a;
using evalgolden::readSource;

Json golden() { return evalgolden::harnessGolden("wikitext-harness-golden.json"); }

TEST(WikitextTest, PagesDetokenizedAndCountedAsTheHarness) {
  std::vector<std::string> pages = wikitextPages(readSource("data/wikitext2/wiki.test.raw"));
  Json g = golden();
  const Json *expected = g.find("pages");
  ASSERT_TRUE(expected);
  ASSERT_EQ(pages.size(), expected->items.size());
  int differ = 0;
  for (size_t i = 0; i < pages.size(); ++i) {
    const Json &e = expected->items[i];
    EXPECT_EQ(fnv1a(pages[i]), e.find("page")->string) << "page " << i;
    bool same = fnv1a(wikitextDetokenize(pages[i])) == e.find("detokenized")->string;
    differ += !same;
    EXPECT_TRUE(same) << "page " << i << " detokenizes differently";
    EXPECT_EQ(wikitextWords(pages[i]), e.find("words")->integer) << "page " << i;
    EXPECT_EQ(int64_t(pages[i].size()), e.find("bytes")->integer) << "page " << i;
  }
  EXPECT_EQ(differ, 0);
}

// Outputs of the harness's wikitext_detokenizer on these strings (run by hand).
TEST(WikitextTest, DetokenizerRules) {
  EXPECT_EQ(wikitextDetokenize("a @-@ b @,@ c @.@ d , e ( f ) \" g \" it 's"),
            "a-b,c.d, e (f) \"g\" it's");
  EXPECT_EQ(wikitextDetokenize(" = = Heading = = \n text"), " == Heading ==\ntext");
  EXPECT_EQ(wikitextWords("  a b\n\nc "), 5); // re.split: '', 'a', 'b', 'c', ''
  // Unicode spaces split words too (U+00A0, U+3000, U+2009); é does not.
  EXPECT_EQ(wikitextWords("a\xC2\xA0" "b\xE3\x80\x80" "c\xE2\x80\x89" "d\xC3\xA9"), 4);
}

TEST(WikitextTest, RollingWindowsAsTheHarness) {
  Json g = golden();
  const Json *cases = g.find("windows");
  ASSERT_TRUE(cases && !cases->items.empty());
  for (const Json &c : cases->items) {
    int64_t n = c.find("n")->integer, maxLength = c.find("max_length")->integer;
    std::vector<int32_t> tokens;
    for (int64_t i = 0; i < n; ++i)
      tokens.push_back(int32_t(100 + i));
    std::vector<RollingWindow> ours =
        rollingWindows(tokens, int32_t(c.find("prefix")->integer), maxLength);
    const Json &expected = *c.find("windows");
    ASSERT_EQ(ours.size(), expected.items.size()) << "n " << n << " max_length " << maxLength;
    for (size_t w = 0; w < ours.size(); ++w) {
      std::vector<int32_t> input, scored;
      for (const Json &t : expected.items[w].find("input")->items)
        input.push_back(int32_t(t.integer));
      for (const Json &t : expected.items[w].find("scored")->items)
        scored.push_back(int32_t(t.integer));
      EXPECT_EQ(ours[w].input, input) << "n " << n << " window " << w;
      std::vector<int32_t> ourScored(ours[w].targets.end() - ours[w].scored,
                                     ours[w].targets.end());
      EXPECT_EQ(ourScored, scored) << "n " << n << " window " << w;
    }
  }
}

/// Logits that make token (t + 1) % 4 certain-ish after token t: log p(next) is known.
class NextModel : public Executor {
public:
  const float *forward(const int32_t *tokens, int64_t count, int64_t start, bool lastOnly,
                       std::string &) override {
    calls.push_back({start, count});
    rows.clear();
    for (int64_t i = lastOnly ? count - 1 : 0; i < count; ++i)
      for (int v = 0; v < 4; ++v)
        rows.push_back(v == (tokens[i] + 1) % 4 ? 2.0f : 0.0f);
    return rows.data();
  }
  std::string deviceName() const override { return "next"; }
  std::vector<float> rows;
  std::vector<std::pair<int64_t, int64_t>> calls;
};

TEST(WikitextTest, LogLikelihoodSumsEveryTokenOnce) {
  NextModel m;
  // 0 1 2 3 0 1 2 with prefix 3: every token is the predicted one.
  std::vector<int32_t> tokens = {0, 1, 2, 3, 0, 1, 2};
  double sum = 0;
  std::string error;
  ASSERT_TRUE(rollingLogLikelihood(m, 4, 2, tokens, 3, 4, sum, error)) << error;
  double hit = 2.0 - std::log(std::exp(2.0) + 3.0);
  EXPECT_NEAR(sum, 7 * hit, 1e-6);
  // Window 1: [3 0 1 2] in chunks of 2; window 2: [2 3 0 1] scoring its last 3.
  EXPECT_EQ(m.calls, (std::vector<std::pair<int64_t, int64_t>>{{0, 2}, {2, 2}, {0, 2}, {2, 2}}));
}

} // namespace
