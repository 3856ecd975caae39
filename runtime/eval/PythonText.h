//===- PythonText.h - Python's string methods, byte for byte -----*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// lm-evaluation-harness builds prompts and documents with Python's str methods; the tasks
// that rebuild them here (Wikitext, Hellaswag) need the same results on UTF-8 bytes.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_EVAL_PYTHONTEXT_H
#define MIDLLAMA_RUNTIME_EVAL_PYTHONTEXT_H

#include <cstddef>
#include <string>

namespace midllama::rt::eval {

/// The byte length of the whitespace character (Python's str.isspace, which regex `\s`
/// follows) at s[i], or 0.
size_t pySpaceAt(const std::string &s, size_t i);

/// str.strip() without arguments: leading and trailing whitespace removed.
std::string pyStrip(const std::string &s);

/// str.replace(from, to): every occurrence, left to right, without overlap.
std::string pyReplace(const std::string &s, const std::string &from, const std::string &to);

} // namespace midllama::rt::eval

#endif // MIDLLAMA_RUNTIME_EVAL_PYTHONTEXT_H
