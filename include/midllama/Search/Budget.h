//===- Budget.h - Memory budgets as users write them ------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// `budget=` of --llm-search-recipe: a size ("123456789", "60MB", "1.5GiB"; decimal kB/MB/GB
// and binary KiB/MiB/GiB, "B" for bytes) or a mean width ("4.25bpp", also written
// "4.25bits-per-param": bits per parameter over every weight of the model).
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_SEARCH_BUDGET_H
#define MIDLLAMA_SEARCH_BUDGET_H

#include <cstdint>
#include <string>

namespace midllama::search {

struct Budget {
  bool bitsPerParam = false;
  double value = 0; // bytes, or bits per parameter

  /// The budget in bytes for a model of `parameters` weights (rounded down).
  int64_t bytes(int64_t parameters) const;
};

/// Parses `text`; false with a one-line `error` saying what is accepted.
bool parseBudget(const std::string &text, Budget &budget, std::string &error);

} // namespace midllama::search

#endif // MIDLLAMA_SEARCH_BUDGET_H
