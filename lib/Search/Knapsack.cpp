//===- Knapsack.cpp - Multiple-choice knapsack by dynamic programming -----===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Search/Knapsack.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

using namespace midllama::search;

namespace {

/// The size unit: the gcd of every size and the budget when it leaves at most `maxUnits`
/// units, else ceil(budget / maxUnits) (sizes then rounded up).
int64_t unitOf(const std::vector<KnapsackItem> &items, int64_t budget, int64_t maxUnits,
               bool &exact) {
  int64_t g = budget;
  for (const KnapsackItem &item : items)
    for (int64_t b : item.bytes)
      g = std::gcd(g, b);
  g = std::max<int64_t>(g, 1);
  exact = budget / g <= maxUnits;
  return exact ? g : (budget + maxUnits - 1) / maxUnits;
}

} // namespace

bool midllama::search::solveMultipleChoiceKnapsack(const std::vector<KnapsackItem> &items,
                                                   int64_t budget, int64_t maxUnits,
                                                   KnapsackSolution &solution,
                                                   std::string &error) {
  solution = KnapsackSolution();
  int64_t smallest = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const KnapsackItem &item = items[i];
    if (item.bytes.empty() || item.bytes.size() != item.cost.size() || item.bytes.size() > 127) {
      error = "item " + std::to_string(i) + " has no options (or sizes and costs disagree)";
      return false;
    }
    for (size_t o = 0; o < item.bytes.size(); ++o)
      if (item.bytes[o] < 0 || !std::isfinite(item.cost[o])) {
        error = "item " + std::to_string(i) + ", option " + std::to_string(o) +
                ": negative size or non-finite cost";
        return false;
      }
    smallest += *std::min_element(item.bytes.begin(), item.bytes.end());
  }
  if (budget < smallest || maxUnits < 1) {
    error = "no choice fits: the smallest total is " + std::to_string(smallest) +
            " bytes, the budget " + std::to_string(budget);
    return false;
  }
  // Every item takes at least its smallest option: the DP allocates only the bytes above
  // those (so the all-smallest choice stays feasible however sizes are rounded, and the
  // units are as fine as the spare budget allows).
  std::vector<KnapsackItem> extra = items;
  for (KnapsackItem &item : extra) {
    int64_t least = *std::min_element(item.bytes.begin(), item.bytes.end());
    for (int64_t &b : item.bytes)
      b -= least;
  }
  const int64_t spare = budget - smallest;
  bool exact = false;
  const int64_t unit = spare > 0 ? unitOf(extra, spare, maxUnits, exact) : 1;
  exact = exact || spare == 0;
  const int64_t capacity = spare / unit;
  constexpr double kNone = std::numeric_limits<double>::infinity();
  // best[c]: least cost of the items so far in exactly c units; taken[i][c]: item i's option.
  std::vector<double> best(size_t(capacity + 1), kNone), next;
  best[0] = 0;
  std::vector<std::vector<int8_t>> taken(items.size(),
                                         std::vector<int8_t>(size_t(capacity + 1), -1));
  for (size_t i = 0; i < extra.size(); ++i) {
    next.assign(best.size(), kNone);
    const KnapsackItem &item = extra[i];
    for (size_t o = 0; o < item.bytes.size(); ++o) {
      int64_t units = (item.bytes[o] + unit - 1) / unit; // rounded up: stays feasible
      for (int64_t c = units; c <= capacity; ++c) {
        double v = best[size_t(c - units)] + item.cost[o];
        if (v < next[size_t(c)]) {
          next[size_t(c)] = v;
          taken[i][size_t(c)] = int8_t(o);
        }
      }
    }
    best.swap(next);
  }
  int64_t at = int64_t(std::min_element(best.begin(), best.end()) - best.begin());
  solution.choice.assign(items.size(), 0);
  for (size_t i = items.size(); i-- > 0;) {
    int o = taken[i][size_t(at)];
    solution.choice[i] = o;
    solution.bytes += items[i].bytes[size_t(o)];
    solution.cost += items[i].cost[size_t(o)];
    at -= (extra[i].bytes[size_t(o)] + unit - 1) / unit;
  }
  solution.unit = unit;
  solution.slackBytes = exact ? 0 : int64_t(items.size()) * (unit - 1);
  return true;
}
