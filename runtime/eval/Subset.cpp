//===- Subset.cpp - Fixed pseudo-random subsets of a task's items ---------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/eval/Subset.h"

#include <algorithm>
#include <cmath>

using namespace midllama::rt::eval;

std::vector<size_t> midllama::rt::eval::subsetOf(const std::string &subject, size_t count,
                                                 double fraction, uint64_t seed) {
  std::vector<size_t> all(count);
  for (size_t i = 0; i < count; ++i)
    all[i] = i;
  if (fraction >= 1)
    return all;
  // A fixed generator (SplitMix64 of the seed and the subject's FNV-1a hash) and a
  // Fisher-Yates shuffle written here: std::shuffle's algorithm is not specified.
  uint64_t h = 1469598103934665603ull;
  for (char c : subject)
    h = (h ^ uint8_t(c)) * 1099511628211ull;
  uint64_t state = seed ^ h;
  auto next = [&] {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  for (size_t i = count; i > 1; --i)
    std::swap(all[i - 1], all[size_t(next() % i)]);
  size_t keep = size_t(std::ceil(fraction * double(count)));
  all.resize(std::min(keep, count));
  std::sort(all.begin(), all.end());
  return all;
}
