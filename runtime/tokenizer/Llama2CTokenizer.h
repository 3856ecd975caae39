//===- Llama2CTokenizer.h - llama2.c tokenizer.bin / tok512.bin -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The tokenizer format of llama2.c (`tokenizer.bin`, `tok512.bin`): an int32 maximum piece
// length, then for each token an fp32 merge score, an int32 length and the piece's bytes.
// It is SentencePiece BPE flattened: ids 0, 1, 2 are <unk>, <s>, </s>; ids 3..258 are the
// byte-fallback pieces <0x00>..<0xFF>; SentencePiece's U+2581 word marker is a plain space.
//
// Encoding follows SentencePiece's BPE as llama2.c runs it: a dummy space before the text,
// one piece per UTF-8 code point (byte pieces for code points not in the vocabulary), then
// repeatedly the adjacent pair whose concatenation is a piece with the highest score is
// merged (the leftmost on ties), until none is. This implementation keeps the candidate
// pairs in a heap, O(n log n), so perplexity files of megabytes encode in well under a
// second; the result is the same as llama2.c's quadratic scan.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_TOKENIZER_LLAMA2CTOKENIZER_H
#define MIDLLAMA_RUNTIME_TOKENIZER_LLAMA2CTOKENIZER_H

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace midllama::rt {

class Llama2CTokenizer {
public:
  static constexpr int32_t kUnk = 0, kBos = 1, kEos = 2;

  /// Loads a tokenizer file. Returns null and sets `error` (naming the file and the token)
  /// when it is missing, truncated or malformed.
  static std::unique_ptr<Llama2CTokenizer> load(const std::string &path, std::string &error);
  /// The same from bytes already in memory; `displayName` names them in errors.
  static std::unique_ptr<Llama2CTokenizer> fromBytes(std::string_view bytes,
                                                     const std::string &displayName,
                                                     std::string &error);

  int32_t vocabSize() const { return int32_t(pieces_.size()); }
  const std::string &piece(int32_t id) const { return pieces_[id]; }
  float score(int32_t id) const { return scores_[id]; }

  /// Token ids of `text`, with <s> first when `bos` and </s> last when `eos`.
  std::vector<int32_t> encode(std::string_view text, bool bos, bool eos) const;
  /// The text of token `id` following token `previous`: byte pieces become their byte, and
  /// the dummy-prefix space of the first piece after <s> is dropped.
  std::string decodePiece(int32_t previous, int32_t id) const;
  /// The text of a token sequence (which may start with <s>).
  std::string decode(const std::vector<int32_t> &ids) const;

private:
  Llama2CTokenizer() = default;
  int32_t lookup(std::string_view piece) const;

  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::unordered_map<std::string_view, int32_t> index_; // views into pieces_
  int32_t maxPieceLength_ = 0;
};

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_TOKENIZER_LLAMA2CTOKENIZER_H
