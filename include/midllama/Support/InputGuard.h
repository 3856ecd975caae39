//===- InputGuard.h - Refuse IR text the MLIR parser cannot survive -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// MLIR 22's parser sizes a table by the result number of a use like `%2#2147483648` before
// it checks that the op has that many results, and aborts the process ("LLVM ERROR: out of
// memory") instead of reporting an error; mlir-opt-22 does the same (docs/known-limits.md).
// The tools scan their input text for such numbers before handing it to the parser.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_SUPPORT_INPUTGUARD_H
#define MIDLLAMA_SUPPORT_INPUTGUARD_H

#include <cstdint>
#include <string>
#include <string_view>

namespace midllama {

/// The largest result number `%name#N` the tools accept (no op of ours has more results;
/// the parser allocates for N + 1 of them).
constexpr uint64_t kMaxResultNumber = uint64_t(1) << 20;

/// Scans MLIR text for an SSA use `%name#N` with N above kMaxResultNumber, outside string
/// literals and `//` comments. Returns an empty string when there is none, else one line:
/// "<name>:<line>:<col>: result number N of '%x' is above ... (the MLIR parser would abort)".
std::string findOversizedResultNumber(std::string_view text, std::string_view name);

/// The same for the file at `path`; a file that is not a regular file, or cannot be read, is
/// left to the parser (which reports it). Empty when the file is fine.
std::string checkMLIRInputFile(const std::string &path);

} // namespace midllama

#endif // MIDLLAMA_SUPPORT_INPUTGUARD_H
