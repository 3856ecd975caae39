//===- EvalTest.cpp - Scoring, perplexity, generation and the report -----===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// runtime/eval on executors whose logits are known in closed form, so every figure has an
// exact expected value: uniform logits have perplexity = vocabulary size, a model compared
// with itself has KL 0 and top-1 agreement 1.
//
//===----------------------------------------------------------------------===//

#include "runtime/eval/Generation.h"
#include "runtime/eval/Perplexity.h"
#include "runtime/eval/Report.h"
#include "runtime/eval/Scoring.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>

using namespace midllama::rt;
using namespace midllama::rt::eval;

namespace {

/// An executor whose logits for a token are given by a function of (token, position).
class FakeExecutor final : public Executor {
public:
  using Logits = std::function<void(int32_t token, int64_t position, float *row)>;
  FakeExecutor(int64_t vocab, Logits logits) : vocab(vocab), logits(std::move(logits)) {}

  const float *forward(const int32_t *tokens, int64_t count, int64_t start, bool lastOnly,
                       std::string &) override {
    // One sequence (batch 1): the last position's row only, or every position's.
    rows.clear();
    if (lastOnly) {
      rows.resize(size_t(vocab));
      logits(tokens[count - 1], start + count - 1, rows.data());
      return rows.data();
    }
    rows.resize(size_t(count * vocab));
    for (int64_t t = 0; t < count; ++t)
      logits(tokens[t], start + t, rows.data() + t * vocab);
    return rows.data();
  }
  std::string deviceName() const override { return "fake"; }

private:
  int64_t vocab;
  Logits logits;
  std::vector<float> rows;
};

TEST(EvalScoringTest, LogProbOfUniformLogitsIsMinusLogVocab) {
  std::vector<float> row(10, 3.5f);
  std::vector<double> all;
  EXPECT_NEAR(logProb(row.data(), 10, 4, &all), -std::log(10.0), 1e-12);
  ASSERT_EQ(all.size(), 10u);
  EXPECT_NEAR(all[9], -std::log(10.0), 1e-12);
}

TEST(EvalScoringTest, LogProbMatchesTheDefinition) {
  std::vector<float> row = {1.0f, 2.0f, 4.0f};
  double z = std::exp(1.0) + std::exp(2.0) + std::exp(4.0);
  EXPECT_NEAR(logProb(row.data(), 3, 2, nullptr), 4.0 - std::log(z), 1e-7);
}

TEST(EvalScoringTest, KLOfTwoDistributions) {
  std::vector<double> p = {std::log(0.5), std::log(0.5)}, q = {std::log(0.9), std::log(0.1)};
  EXPECT_NEAR(klDivergence(p, p), 0.0, 1e-15);
  EXPECT_NEAR(klDivergence(p, q), 0.5 * std::log(0.5 / 0.9) + 0.5 * std::log(0.5 / 0.1),
              1e-12);
}

// compareToBase against the definition in long double: the KL within 5e-7
// relative for distributions far apart and nearly equal (KL down to 3e-11, where a
// difference of log-normalizers from fp32 exponentials was off by 2e-8: logProb +
// klDivergence), vocabularies with and without a 16-lane tail; the NLL, the top tokens.
TEST(EvalScoringTest, CompareToBaseMatchesTheDefinition) {
  std::mt19937_64 rng(5);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (int64_t vocab : {7, 1000, 49152})
    for (float spread : {1.0f, 1e-3f, 1e-5f}) {
      std::vector<float> base(static_cast<size_t>(vocab)), model(base.size());
      for (size_t v = 0; v < base.size(); ++v) {
        base[v] = normal(rng);
        model[v] = base[v] + spread * normal(rng);
      }
      const int64_t target = vocab / 3;
      // The definition in long double (64-bit significands).
      auto logZ = [](const std::vector<float> &x) {
        long double top = *std::max_element(x.begin(), x.end()), sum = 0;
        for (float v : x)
          sum += std::exp((long double)v - top);
        return top + std::log(sum);
      };
      const long double zp = logZ(base), zq = logZ(model);
      long double exact = 0;
      for (size_t v = 0; v < base.size(); ++v)
        exact += std::exp((long double)base[v] - zp) *
                 (((long double)base[v] - zp) - ((long double)model[v] - zq));
      const double kl = double(exact), nll = double(zq - (long double)model[size_t(target)]);
      PositionComparison c = compareToBase(model.data(), base.data(), vocab, target);
      EXPECT_NEAR(c.nll, nll, 1e-7 * std::fabs(nll) + 1e-8) << vocab << " " << spread;
      EXPECT_NEAR(c.kl, kl, 5e-7 * kl) << vocab << " " << spread;
      EXPECT_EQ(c.sameTop, argmax(model.data(), vocab) == argmax(base.data(), vocab));
    }
  std::vector<float> a = {1.0f, NAN, 2.0f}, b = {1.0f, 2.0f, 3.0f};
  EXPECT_TRUE(std::isnan(compareToBase(b.data(), a.data(), 3, 0).kl));
}

TEST(EvalScoringTest, MaxAbsDifferenceCountsNaNAsInfinite) {
  std::vector<float> a = {1, 2, 3, 4}, b = {1, 2.5f, 3, 4};
  LogitsDifference d = maxAbsDifference(a.data(), b.data(), 4);
  EXPECT_DOUBLE_EQ(d.max, 0.5);
  EXPECT_EQ(d.index, 1u);
  b[3] = NAN;
  d = maxAbsDifference(a.data(), b.data(), 4);
  EXPECT_TRUE(std::isinf(d.max));
  EXPECT_EQ(d.index, 3u);
}

TEST(EvalScoringTest, SamplingFollowsTheSoftmax) {
  // p = softmax([0, log 3]) = (0.25, 0.75) at temperature 1; 0.5 each at temperature inf.
  std::vector<float> row = {0.0f, float(std::log(3.0))};
  std::mt19937_64 rng(7);
  int ones = 0, n = 20000;
  for (int i = 0; i < n; ++i)
    ones += sample(row.data(), 2, 1.0, rng);
  // Binomial standard deviation: sqrt(n p (1-p)) = 61; five of them.
  EXPECT_NEAR(ones, 0.75 * n, 5 * 61);
  std::mt19937_64 a(3), b(3);
  EXPECT_EQ(sample(row.data(), 2, 0.7, a), sample(row.data(), 2, 0.7, b)); // seeded
}

TEST(EvalPerplexityTest, UniformLogitsHavePerplexityVocab) {
  FakeExecutor uniform(8, [](int32_t, int64_t, float *row) { std::fill(row, row + 8, 1.0f); });
  std::vector<int32_t> ids = {1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3}; // 2 windows of 5, tail dropped
  PerplexityResult r;
  std::string error;
  ASSERT_TRUE(evaluatePerplexity(uniform, nullptr, 8, ids, 5, 2, nullptr, r, error)) << error;
  EXPECT_NEAR(r.perplexity, 8.0, 1e-9);
  EXPECT_EQ(r.windows, 2);
  EXPECT_EQ(r.predicted, 8); // ctx - 1 per window
}

TEST(EvalPerplexityTest, AModelAgainstItselfHasNoDivergence) {
  auto peaked = [](int32_t token, int64_t, float *row) {
    for (int v = 0; v < 6; ++v)
      row[v] = v == (token + 1) % 6 ? 3.0f : 0.0f;
  };
  FakeExecutor model(6, peaked), base(6, peaked);
  std::vector<int32_t> ids = {0, 1, 2, 3, 4, 5, 0, 1};
  std::vector<std::pair<int64_t, double>> seen;
  PerplexityResult r;
  std::string error;
  ASSERT_TRUE(evaluatePerplexity(model, &base, 6, ids, 4, 2,
                                 [&](int64_t done, int64_t, double ppl) {
                                   seen.push_back({done, ppl});
                                 },
                                 r, error))
      << error;
  EXPECT_NEAR(r.kl, 0.0, 1e-12);
  EXPECT_DOUBLE_EQ(r.top1, 1.0);
  // Every target is the peaked token: p = e^3 / (e^3 + 5).
  EXPECT_NEAR(r.perplexity, (std::exp(3.0) + 5) / std::exp(3.0), 1e-6);
  ASSERT_EQ(seen.size(), 2u); // progress after each window
  EXPECT_EQ(seen[1].first, 2);
}

TEST(EvalPerplexityTest, NonFiniteLogitsAreAnError) {
  FakeExecutor broken(4, [](int32_t, int64_t position, float *row) {
    std::fill(row, row + 4, position == 2 ? NAN : 0.0f);
  });
  std::vector<int32_t> ids = {0, 1, 2, 3};
  PerplexityResult r;
  std::string error;
  EXPECT_FALSE(evaluatePerplexity(broken, nullptr, 4, ids, 4, 1, nullptr, r, error));
  EXPECT_NE(error.find("not finite at window 0, position 2"), std::string::npos) << error;
}

TEST(EvalGenerationTest, GreedyFollowsTheLogitsAndStopsAtEos) {
  // The next token is token + 1, and EOS (2) after token 6... so 3 4 5 6, then EOS.
  FakeExecutor counting(8, [](int32_t token, int64_t, float *row) {
    std::fill(row, row + 8, 0.0f);
    row[token == 6 ? 2 : (token + 1) % 8] = 1.0f;
  });
  GenerationOptions options;
  options.steps = 10;
  GenerationRun run;
  std::vector<int32_t> streamed;
  std::string error;
  ASSERT_TRUE(generate(counting, {1, 2}, 8, options,
                       [&](int32_t, int32_t next) { streamed.push_back(next); }, run, error))
      << error;
  ASSERT_EQ(run.outputs.size(), 1u);
  EXPECT_EQ(run.outputs[0], (std::vector<int32_t>{3, 4, 5, 6}));
  EXPECT_EQ(streamed, run.outputs[0]);
  EXPECT_EQ(run.generated, 4);
  EXPECT_GT(run.prefillTokensPerSecond, 0);
  EXPECT_GE(run.decodeTokensPerSecond, 0);
  // --ignore-eos runs all the steps.
  options.ignoreEos = true;
  ASSERT_TRUE(generate(counting, {1, 2}, 8, options, nullptr, run, error)) << error;
  EXPECT_EQ(run.generated, 10);
}

TEST(EvalReportTest, TableAndJsonHoldTheSameFigures) {
  Report report;
  report.add("perplexity", "5.0949", "perplexity", "5.094900");
  report.addJson("parameters", "292352");
  report.add("artifact", "a \"b\".mlm", "artifact", quote("a \"b\".mlm\n"));
  EXPECT_EQ(report.json(), "{\"perplexity\": 5.094900, \"parameters\": 292352, "
                           "\"artifact\": \"a \\\"b\\\".mlm\\u000a\"}\n");
  EXPECT_EQ(format("%.2f", 3.14159), "3.14");
}

} // namespace
