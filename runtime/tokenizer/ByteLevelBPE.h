//===- ByteLevelBPE.h - GPT-2 byte-level BPE tokenizers ----------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The tokenizers of GPT-2 and the models that took it over (SmolLM, StarCoder, Qwen ...):
// a Hugging Face tokenizer.json whose BPE model works on bytes, each byte written as one
// printable character (GPT-2's bytes-to-unicode map), with ranked merges. Encoding, as
// Hugging Face `tokenizers` does it:
//   1. added tokens marked special (`<|im_start|>`) are cut out first, whole;
//   2. pre-tokenization: with a Digits(individual_digits) step every \p{N} character is a
//      piece of its own; then the GPT-2 regex
//        's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//      splits each piece (written out by hand in splitGpt2: one pass, no regex engine);
//   3. each pre-token's bytes become characters, and the adjacent pair of lowest merge
//      rank (the leftmost on ties) merges until no listed pair is left.
// llama.cpp's pre-tokenizer types map onto the same steps (`smollm`: \p{N}, then GPT-2).
// Llama 3 and Qwen2 replace step 2 by a Split pre-tokenizer with their own regex
// (Llama3Split.h), and Llama 3's model sets `ignore_merges`: a pre-token that is a
// vocabulary token as a whole is that token, without merging. A TemplateProcessing
// post-processor that puts one special token before the text (Llama 3's
// <|begin_of_text|>) is that tokenizer's BOS. Decoding maps the characters back to bytes.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_TOKENIZER_BYTELEVELBPE_H
#define MIDLLAMA_RUNTIME_TOKENIZER_BYTELEVELBPE_H

#include "runtime/support/Json.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace midllama::rt {

/// Splits `text` as the GPT-2 pre-tokenizer regex does (after isolating every \p{N}
/// character when `isolateDigits`), appending the pieces to `out`.
void splitGpt2(std::string_view text, bool isolateDigits, std::vector<std::string_view> &out);

class ByteLevelBPE {
public:
  /// From a parsed tokenizer.json whose model is BPE and whose pre-tokenizer is ByteLevel
  /// (optionally after Digits). Null with `error` (the sentence after the file's name) when
  /// the file is of another kind or inconsistent: vocabulary ids not 0..n-1, a merge of
  /// tokens not in the vocabulary, an added token out of range. A byte without a token of
  /// its own (SmolLM2 has none for a few control characters) is dropped when encoding, as
  /// Hugging Face's BPE drops it without an unknown token.
  static std::unique_ptr<ByteLevelBPE> fromJson(const Json &root, std::string &error);
  /// Whether a tokenizer.json is of this kind (its pre-tokenizer has a ByteLevel step).
  static bool isByteLevel(const Json &root);

  int32_t vocabSize() const { return int32_t(bytes_.size()); }
  /// The bytes token `id` stands for (a special token: its text).
  const std::string &bytesOf(int32_t id) const { return bytes_[size_t(id)]; }
  /// Whether `id` is an added special token (end of text, chat markers).
  bool isSpecial(int32_t id) const;

  std::vector<int32_t> encode(std::string_view text) const;
  /// The token its post-processor puts before every text, or -1 (GPT-2, SmolLM2: none).
  int32_t bosToken() const { return bos_; }
  /// Whether byte `b` has a token of its own (else encoding drops it).
  bool hasByte(uint8_t b) const { return byteToken_[b] >= 0; }

private:
  ByteLevelBPE() = default;
  /// Appends the ids of one pre-token.
  void encodePiece(std::string_view piece, std::vector<int32_t> &ids) const;
  /// Appends the ids of text that holds no special token.
  void encodeOrdinary(std::string_view text, std::vector<int32_t> &ids) const;

  std::vector<std::string> bytes_;   // per id
  int32_t byteToken_[256] = {};      // the token of each single byte; -1 when none
  /// How text is split before BPE: the GPT-2 regex (after isolating \p{N} when
  /// `Digits` came first), or Llama 3's / Qwen2's regex.
  enum class Split { Gpt2, DigitsThenGpt2, Llama3, Qwen2 };
  Split split_ = Split::Gpt2;
  // fromJson's steps, each returning why the file is refused, or "".
  static std::string readPreTokenizer(const Json &root, Split &split);
  static std::string readVocab(const Json &model, ByteLevelBPE &t,
                               std::unordered_map<std::string_view, int32_t> &idOf);
  static std::string readMerges(const Json &model, ByteLevelBPE &t,
                                const std::unordered_map<std::string_view, int32_t> &idOf);
  static std::string readAddedTokens(const Json &root, ByteLevelBPE &t);
  static std::string readPostProcessor(const Json &root, const ByteLevelBPE &t, int32_t &bos);
  bool ignoreMerges_ = false;
  std::unordered_map<std::string, int32_t> wholeToken_; // bytes -> id, for ignore_merges
  int32_t bos_ = -1;
  struct Merge {
    int32_t rank, merged;
  };
  std::unordered_map<uint64_t, Merge> merges_; // (left << 32 | right) -> rank, result
  std::vector<std::pair<std::string, int32_t>> specials_; // content, id; longest first
  bool specialStart_[256] = {}; // the first bytes of the added tokens
};

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_TOKENIZER_BYTELEVELBPE_H
