//===- Llama3Split.h - The Llama 3 / Qwen2 pre-tokenizer regex ---*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Llama 3's tokenizer.json splits text before its byte-level BPE with
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
//   | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// (a Split pre-tokenizer, behavior Isolated, then ByteLevel without its own regex); Qwen2
// uses the same with \p{N} one at a time. llama.cpp's pre-tokenizer types `llama-bpe`,
// `llama3`, ... and `qwen2`, ... are these two. Written out by hand, as splitGpt2: one pass,
// leftmost alternative first, no regex engine; checked against Hugging Face `tokenizers`
// on WikiText-2 and TinyStories (test/runtime/tokenizer/llama3-split.test).
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_TOKENIZER_LLAMA3SPLIT_H
#define MIDLLAMA_RUNTIME_TOKENIZER_LLAMA3SPLIT_H

#include <string_view>
#include <vector>

namespace midllama::rt {

/// The regex as Llama 3's tokenizer.json writes it, and Qwen2's.
extern const char *const kLlama3SplitRegex;
extern const char *const kQwen2SplitRegex;

/// Splits `text` as the regex above does with \p{N}{1,maxDigits} (3: Llama 3, 1: Qwen2),
/// appending the pieces to `out`.
void splitLlama3(std::string_view text, int maxDigits, std::vector<std::string_view> &out);

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_TOKENIZER_LLAMA3SPLIT_H
