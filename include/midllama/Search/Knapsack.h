//===- Knapsack.h - Multiple-choice knapsack by dynamic programming -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The allocation of --llm-search-recipe: every weight (an item) takes exactly one of its
// candidates (options), each with a size in bytes and a measured cost; minimize the total
// cost with the total size at most the budget. Every item takes at least its smallest
// option, so the dynamic program allocates the spare bytes (budget − Σ smallest) to the
// options' sizes above their item's smallest, counted in units of `unit` bytes:
//   - when every such extra size and the spare bytes are multiples of one unit that leaves
//     at most `maxUnits` units (their greatest common divisor), the solution is the exact
//     optimum;
//   - otherwise extra sizes are rounded *up* to units of ceil(spare / maxUnits): the
//     solution is still within the true budget (the all-smallest choice always is), and its
//     cost is at most the true optimum of the budget less `items × (unit - 1)` bytes (each
//     size grows by less than a unit) — the gap the result reports (`slackBytes`).
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_SEARCH_KNAPSACK_H
#define MIDLLAMA_SEARCH_KNAPSACK_H

#include <cstdint>
#include <string>
#include <vector>

namespace midllama::search {

struct KnapsackItem {
  std::vector<int64_t> bytes; // per option
  std::vector<double> cost;   // per option, finite
};

struct KnapsackSolution {
  std::vector<int> choice; // the option taken for each item
  int64_t bytes = 0;       // Σ true sizes of the choices (≤ budget)
  double cost = 0;
  int64_t unit = 1;        // the DP's size unit
  /// 0 when exact; else the solution is optimal for every budget ≤ budget - slackBytes.
  int64_t slackBytes = 0;
};

/// Solves the allocation; false with `error` when no choice fits the budget (naming the
/// smallest total size), an item has no options, or the inputs are malformed.
bool solveMultipleChoiceKnapsack(const std::vector<KnapsackItem> &items, int64_t budget,
                                 int64_t maxUnits, KnapsackSolution &solution,
                                 std::string &error);

} // namespace midllama::search

#endif // MIDLLAMA_SEARCH_KNAPSACK_H
