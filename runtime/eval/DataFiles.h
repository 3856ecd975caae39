//===- DataFiles.h - The files of a task's data directory -------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Evaluation sets come as one file per subject or task (MMLU's <subject>_test.csv, BBH's
// <task>.json); the tasks find theirs by listing a directory, in sorted order so that
// every machine scores them alike.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_EVAL_DATAFILES_H
#define MIDLLAMA_RUNTIME_EVAL_DATAFILES_H

#include <string>
#include <vector>

namespace midllama::rt::eval {

/// The names of the files of `dir` ending in `suffix`, without it, sorted; false with
/// `error` = `unreadable` when the directory cannot be read.
bool filesEndingIn(const std::string &dir, const std::string &suffix,
                   const std::string &unreadable, std::vector<std::string> &stems,
                   std::string &error);

} // namespace midllama::rt::eval

#endif // MIDLLAMA_RUNTIME_EVAL_DATAFILES_H
