//===- Subset.h - Fixed pseudo-random subsets of a task's items -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// `--subset FRACTION --seed S` of midllama-eval: the papers this project follows score a
// fixed fraction of each MMLU subject / BBH task; the selection must be the same on every
// machine, and scripts/reference-*.py re-implement it to give the reference tools the same
// items.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_EVAL_SUBSET_H
#define MIDLLAMA_RUNTIME_EVAL_SUBSET_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace midllama::rt::eval {

/// The indices of the items of a subject (or task) kept by `--subset fraction --seed
/// seed`: a fixed pseudo-random ceil(fraction * count) of them (all for 1), in increasing
/// order; the same for a subject, fraction and seed on every machine.
std::vector<size_t> subsetOf(const std::string &subject, size_t count, double fraction,
                             uint64_t seed);

} // namespace midllama::rt::eval

#endif // MIDLLAMA_RUNTIME_EVAL_SUBSET_H
