//===- KnapsackTest.cpp - The recipe search's solver and budgets ----------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The multiple-choice knapsack against brute force on random instances (exact when the
// sizes share a unit, within the stated slack otherwise), and the budget strings.
//
//===----------------------------------------------------------------------===//

#include "midllama/Search/Budget.h"
#include "midllama/Search/Knapsack.h"

#include <gtest/gtest.h>

#include <limits>
#include <random>

using namespace midllama::search;

namespace {

/// The least cost within `budget` over every combination (small instances).
double bruteForce(const std::vector<KnapsackItem> &items, int64_t budget) {
  double best = std::numeric_limits<double>::infinity();
  std::vector<size_t> pick(items.size(), 0);
  while (true) {
    int64_t bytes = 0;
    double cost = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      bytes += items[i].bytes[pick[i]];
      cost += items[i].cost[pick[i]];
    }
    if (bytes <= budget)
      best = std::min(best, cost);
    size_t i = 0;
    while (i < items.size() && ++pick[i] == items[i].bytes.size())
      pick[i++] = 0;
    if (i == items.size())
      return best;
  }
}

std::vector<KnapsackItem> randomItems(std::mt19937 &rng, int count, int64_t unit) {
  std::uniform_int_distribution<int> options(1, 4), size(1, 50);
  std::uniform_real_distribution<double> cost(0, 10);
  std::vector<KnapsackItem> items(static_cast<size_t>(count));
  for (KnapsackItem &item : items)
    for (int o = options(rng); o > 0; --o) {
      item.bytes.push_back(size(rng) * unit);
      item.cost.push_back(cost(rng));
    }
  return items;
}

TEST(KnapsackTest, ExactWhenSizesShareAUnit) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<KnapsackItem> items = randomItems(rng, 6, 64);
    int64_t budget = int64_t(rng() % 200 + 100) * 64;
    KnapsackSolution s;
    std::string error;
    double expected = bruteForce(items, budget);
    bool solved = solveMultipleChoiceKnapsack(items, budget, 1 << 16, s, error);
    ASSERT_EQ(solved, std::isfinite(expected)) << error;
    if (!solved)
      continue;
    EXPECT_EQ(s.slackBytes, 0);
    EXPECT_LE(s.bytes, budget);
    EXPECT_NEAR(s.cost, expected, 1e-9);
    int64_t bytes = 0;
    for (size_t i = 0; i < items.size(); ++i)
      bytes += items[i].bytes[size_t(s.choice[i])];
    EXPECT_EQ(bytes, s.bytes);
  }
}

TEST(KnapsackTest, RoundedUnitsStayFeasibleWithinTheSlack) {
  std::mt19937 rng(11);
  int rounded = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<KnapsackItem> items = randomItems(rng, 6, 1);
    for (KnapsackItem &item : items)
      for (int64_t &b : item.bytes)
        b = b * 97 + int64_t(rng() % 13); // no common unit, even above each item's least
    int64_t budget = int64_t(rng() % 8000 + 9000);
    KnapsackSolution s;
    std::string error;
    // At most 100 units: sizes above each item's least are rounded up to units of
    // (budget - the least options' total) / 100.
    if (!solveMultipleChoiceKnapsack(items, budget, 100, s, error))
      continue; // below the least options' total
    rounded += s.slackBytes > 0;
    EXPECT_LE(s.bytes, budget);
    EXPECT_GE(s.cost, bruteForce(items, budget) - 1e-9);
    EXPECT_LE(s.cost, bruteForce(items, budget - s.slackBytes) + 1e-9);
  }
  EXPECT_GT(rounded, 100);
}

TEST(KnapsackTest, TheSmallestChoiceFitsHoweverSizesRound) {
  // Sizes without a common unit and 16 units at most: a budget of exactly the smallest
  // options' total still solves (to them), and one byte more cannot buy a larger option.
  std::vector<KnapsackItem> items = {{{1009, 2003}, {5, 1}}, {{3001, 1013}, {2, 7}},
                                     {{997, 4001, 1999}, {9, 0, 4}}};
  KnapsackSolution s;
  std::string error;
  ASSERT_TRUE(solveMultipleChoiceKnapsack(items, 1009 + 1013 + 997, 16, s, error)) << error;
  EXPECT_EQ(s.choice, (std::vector<int>{0, 1, 0}));
  EXPECT_EQ(s.bytes, 1009 + 1013 + 997);
  ASSERT_TRUE(solveMultipleChoiceKnapsack(items, 1009 + 1013 + 997 + 1, 16, s, error));
  EXPECT_EQ(s.choice, (std::vector<int>{0, 1, 0}));
}

TEST(KnapsackTest, InfeasibleBudgetsNameTheSmallestTotal) {
  std::vector<KnapsackItem> items = {{{100, 40}, {0, 5}}, {{30}, {1}}};
  KnapsackSolution s;
  std::string error;
  EXPECT_FALSE(solveMultipleChoiceKnapsack(items, 69, 1 << 16, s, error));
  EXPECT_EQ(error, "no choice fits: the smallest total is 70 bytes, the budget 69");
  ASSERT_TRUE(solveMultipleChoiceKnapsack(items, 70, 1 << 16, s, error)) << error;
  EXPECT_EQ(s.choice, (std::vector<int>{1, 0}));
  ASSERT_TRUE(solveMultipleChoiceKnapsack(items, 130, 1 << 16, s, error)) << error;
  EXPECT_EQ(s.choice, (std::vector<int>{0, 0}));
  EXPECT_DOUBLE_EQ(s.cost, 1.0);
}

TEST(KnapsackTest, Budgets) {
  Budget b;
  std::string error;
  ASSERT_TRUE(parseBudget("123456789", b, error)) << error;
  EXPECT_EQ(b.bytes(0), 123456789);
  ASSERT_TRUE(parseBudget("60MB", b, error));
  EXPECT_EQ(b.bytes(0), 60000000);
  ASSERT_TRUE(parseBudget("1.5GiB", b, error));
  EXPECT_EQ(b.bytes(0), 1610612736);
  ASSERT_TRUE(parseBudget("512KiB", b, error));
  EXPECT_EQ(b.bytes(0), 524288);
  ASSERT_TRUE(parseBudget("4.25bpp", b, error));
  EXPECT_TRUE(b.bitsPerParam);
  EXPECT_EQ(b.bytes(1000), 531); // floor(4250 / 8)
  ASSERT_TRUE(parseBudget("3bits-per-param", b, error));
  EXPECT_EQ(b.bytes(8), 3);
  for (const char *bad : {"", "MB", "-5MB", "12 MB", "1e400", "4.25bits", "abc", "40bpp"})
    EXPECT_FALSE(parseBudget(bad, b, error)) << bad;
  EXPECT_FALSE(parseBudget("12XB", b, error));
  EXPECT_NE(error.find("is not a size"), std::string::npos) << error;
}

} // namespace
