//===- MultipleChoiceTest.cpp - Choice scoring and the MMLU prompt --------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// runtime/eval/MultipleChoice.h and Mmlu.h: log-likelihoods checked on a model whose
// logits are written by hand (so the right numbers are computed here from their
// definition), the harness's statistics, its pair encoding, the CSV reader, and the MMLU
// prompt byte for byte against lm-evaluation-harness's template.
//
//===----------------------------------------------------------------------===//

#include "runtime/eval/Mmlu.h"
#include "runtime/eval/MultipleChoice.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace midllama::rt;
using namespace midllama::rt::eval;

namespace {

/// A "model" of vocabulary 4 whose logits at a position depend only on the token there:
/// row t = kTable[token], so every log-likelihood is a sum of known log-softmax terms.
/// Records the calls, to check that the context runs once.
class TableModel : public Executor {
public:
  static constexpr float kTable[4][4] = {
      {0, 1, 2, 3}, {3, 0, 0, 0}, {0, 0, 2, 0}, {1, 1, 1, 1}};
  const float *forward(const int32_t *tokens, int64_t count, int64_t start, bool lastOnly,
                       std::string &error) override {
    calls.push_back({start, count});
    rows.clear();
    for (int64_t i = lastOnly ? count - 1 : 0; i < count; ++i)
      rows.insert(rows.end(), kTable[tokens[i]], kTable[tokens[i]] + 4);
    return rows.data();
  }
  std::string deviceName() const override { return "table"; }
  std::vector<std::pair<int64_t, int64_t>> calls;
  std::vector<float> rows;
};

/// logProb's exponentials are fp32 (runtime/eval/Scoring.cpp): 1e-8 from the exact value.
constexpr double kTol = 1e-7;

double logSoftmax(const float *row, int target) {
  double z = 0;
  for (int i = 0; i < 4; ++i)
    z += std::exp(double(row[i]));
  return double(row[target]) - std::log(z);
}

TEST(MultipleChoiceTest, LogLikelihoodIsTheSumOverTheContinuation) {
  TableModel m;
  EncodedQuestion q;
  q.context = {1, 2};
  q.continuations = {{3}, {0, 3}, {2, 2, 1}};
  ChoiceScores s;
  std::string error;
  ASSERT_TRUE(scoreQuestion(m, 4, 64, 8, q, s, error)) << error;
  const auto &T = TableModel::kTable;
  // The first token of every choice is predicted from the context's last token (2).
  EXPECT_NEAR(s.logLikelihood[0], logSoftmax(T[2], 3), kTol);
  EXPECT_NEAR(s.logLikelihood[1], logSoftmax(T[2], 0) + logSoftmax(T[0], 3), kTol);
  EXPECT_NEAR(s.logLikelihood[2],
              logSoftmax(T[2], 2) + logSoftmax(T[2], 2) + logSoftmax(T[2], 1), kTol);
  EXPECT_EQ(s.greedy, (std::vector<bool>{false, false, false}));
  EXPECT_EQ(bestChoice(s.logLikelihood), 0); // log(e^0/(3+e^2)) beats the longer ones
  // The context ran once (at 0, 2 tokens); each longer choice continued from position 2.
  EXPECT_EQ(m.calls, (std::vector<std::pair<int64_t, int64_t>>{{0, 2}, {2, 1}, {2, 2}}));
}

TEST(MultipleChoiceTest, LongContextsRunInChunksAndTooLongIsAnError) {
  TableModel m;
  EncodedQuestion q;
  q.context = {0, 1, 2, 3, 0};
  q.continuations = {{1}};
  ChoiceScores s;
  std::string error;
  ASSERT_TRUE(scoreQuestion(m, 4, 64, 2, q, s, error)) << error;
  EXPECT_EQ(m.calls, (std::vector<std::pair<int64_t, int64_t>>{{0, 2}, {2, 2}, {4, 1}}));
  EXPECT_NEAR(s.logLikelihood[0], logSoftmax(TableModel::kTable[0], 1), kTol);
  EXPECT_FALSE(scoreQuestion(m, 4, 5, 2, q, s, error));
  EXPECT_NE(error.find("does not fit the 5 positions"), std::string::npos) << error;
  q.continuations = {{}};
  EXPECT_FALSE(scoreQuestion(m, 4, 64, 2, q, s, error));
  EXPECT_NE(error.find("encodes to no tokens"), std::string::npos) << error;
}

TEST(MultipleChoiceTest, AccuracyAndStandardErrorAsTheHarness) {
  Accuracy a = accuracyOf({1, 0, 1, 1});
  EXPECT_DOUBLE_EQ(a.mean, 0.75);
  // Sample standard deviation sqrt(0.75 / 3) = 0.5, over sqrt(4).
  EXPECT_DOUBLE_EQ(a.standardError, 0.25);
  EXPECT_EQ(bestChoice({-1, -0.5, -0.5}), 1); // ties: the first
}

TEST(MultipleChoiceTest, CsvFollowsRfc4180) {
  std::vector<std::vector<std::string>> rows;
  std::string error;
  ASSERT_TRUE(parseCsv("a,\"b, \"\"c\"\"\nd\",e\r\n,x\n", rows, error)) << error;
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"a", "b, \"c\"\nd", "e"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"", "x"}));
  EXPECT_FALSE(parseCsv("a\n\"open,\nb\n", rows, error));
  EXPECT_EQ(error, "a quoted field opened on line 2 never closes");
}

TEST(MultipleChoiceTest, MmluPromptIsTheHarnessTemplate) {
  MmluSubject s;
  s.name = "high_school_physics";
  s.dev = {{"  What is 1+1? ", {"1", "2", "3", "4"}, 1}, {"Unused?", {"a", "b", "c", "d"}, 0}};
  MmluItem item{"Which is heavier?\n", {"lead", "feathers", "same", "neither"}, 2};
  ChoiceQuestion q = mmluQuestion(s, item, 1);
  // lm-evaluation-harness v0.4 mmlu: description, then doc_to_text + " " + letter + "\n\n"
  // per shot, then doc_to_text of the question (question.strip()).
  EXPECT_EQ(q.context,
            "The following are multiple choice questions (with answers) about high school "
            "physics.\n\n"
            "What is 1+1?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer: B\n\n"
            "Which is heavier?\nA. lead\nB. feathers\nC. same\nD. neither\nAnswer:");
  EXPECT_EQ(q.choices, (std::vector<std::string>{"A", "B", "C", "D"}));
  EXPECT_EQ(q.delimiter, " ");
  EXPECT_EQ(q.answer, 2);
  EXPECT_EQ(mmluQuestion(s, item, 0).context,
            "The following are multiple choice questions (with answers) about high school "
            "physics.\n\nWhich is heavier?\nA. lead\nB. feathers\nC. same\nD. neither\n"
            "Answer:");
}

TEST(MultipleChoiceTest, SubsetsAreFixedAndSorted) {
  std::vector<size_t> a = subsetOf("anatomy", 135, 0.5, 1234);
  EXPECT_EQ(a.size(), 68u); // ceil(67.5)
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(a, subsetOf("anatomy", 135, 0.5, 1234));
  EXPECT_NE(a, subsetOf("anatomy", 135, 0.5, 1235));
  EXPECT_NE(a, subsetOf("astronomy", 135, 0.5, 1234));
  EXPECT_EQ(subsetOf("anatomy", 3, 1.0, 7), (std::vector<size_t>{0, 1, 2}));
}

} // namespace
