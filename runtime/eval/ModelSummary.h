//===- ModelSummary.h - What an artifact holds, for the report --*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The memory side of the report that needs no run: the artifact's size on disk, the
// weights' bytes by storage type, and what compression saved (bits per parameter and the
// ratio to the same parameters in fp32).
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_EVAL_MODELSUMMARY_H
#define MIDLLAMA_RUNTIME_EVAL_MODELSUMMARY_H

#include "runtime/Model.h"
#include "runtime/eval/Report.h"

#include <string>

namespace midllama::rt::eval {

/// Adds the rows for `model`, loaded from `path`.
void addModelSummary(Report &report, const Model &model, const std::string &path);

/// The bytes of `model`'s weights as stored, and how many parameters they hold.
int64_t weightBytes(const Model &model);
int64_t parameterCount(const Model &model);

} // namespace midllama::rt::eval

#endif // MIDLLAMA_RUNTIME_EVAL_MODELSUMMARY_H
