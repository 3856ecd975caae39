//===- UnicodeClass.h - Code points as the GPT-2 pre-tokenizer sees them -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The character classes of the GPT-2 pre-tokenizer regex (`\p{L}`, `\p{N}`, `\s`) and UTF-8
// decoding that never fails: byte-level tokenizers must encode any bytes, so a byte that
// does not start a valid sequence is a code point of its own (class Other) and the text
// round-trips whatever it holds.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_TOKENIZER_UNICODECLASS_H
#define MIDLLAMA_RUNTIME_TOKENIZER_UNICODECLASS_H

#include <cstdint>
#include <string_view>

namespace midllama::rt {

enum class CharClass { Letter, Number, Space, Other };

/// Unicode general category L (letter), N (number), the White_Space property (what the
/// regex engines of Hugging Face tokenizers and llama.cpp call \s), or anything else.
CharClass classify(uint32_t codePoint);

/// The code point at `text[at]` and its length in bytes (1 for a byte that does not start
/// a valid, shortest-form UTF-8 sequence: then the code point is 0xFFFFFFFF, class Other).
struct Utf8Char {
  uint32_t codePoint;
  int length;
};
Utf8Char decodeUtf8(std::string_view text, size_t at);

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_TOKENIZER_UNICODECLASS_H
