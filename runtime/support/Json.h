//===- Json.h - A small strict JSON reader for the runtime ------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The runtime builds without LLVM, so it has its own JSON reader for what it reads:
// safetensors headers (integers only, shallow) and tokenizer.json files. Strict: no
// comments, no trailing commas, bounded nesting, every error one line.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_SUPPORT_JSON_H
#define MIDLLAMA_RUNTIME_SUPPORT_JSON_H

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace midllama::rt {

struct Json {
  enum Kind { Null, Bool, Int, Number, String, Array, Object } kind = Null;
  int64_t integer = 0;
  double number = 0; // Int and Number
  bool boolean = false;
  std::string string;
  std::vector<Json> items;                           // Array
  std::vector<std::pair<std::string, Json>> members; // Object, in file order

  /// The member `key` of an object, or null.
  const Json *find(const std::string &key) const;
};

/// Parses [begin, end). `what` names the document in errors ("JSON header");
/// `allowFloat` accepts numbers with fractions/exponents; nesting deeper than `maxDepth`
/// is refused. Returns false and sets `error` on malformed input.
bool parseJson(const char *begin, const char *end, Json &out, std::string &error,
               const std::string &what = "JSON", bool allowFloat = true, int maxDepth = 64);

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_SUPPORT_JSON_H
