//===- Tokenizer.h - SentencePiece-BPE tokenizers of the LLaMA family -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// LLaMA-family models use SentencePiece BPE with byte fallback. The same vocabulary comes
// in three files, all read here:
//   - llama2.c's `tokenizer.bin` / `tok512.bin`: an int32 maximum piece length, then per
//     token an fp32 score, an int32 length and the piece's bytes;
//   - SentencePiece's `tokenizer.model`: a ModelProto (protobuf; read with a small wire
//     reader: pieces, scores, types);
//   - Hugging Face's `tokenizer.json` with a BPE model: a vocabulary and ranked merges.
// Ids 0, 1, 2 are <unk>, <s>, </s>; ids 3..258 the byte pieces <0x00>..<0xFF>; the word
// marker U+2581 is kept as a plain space.
//
// Encoding: a dummy space before the text, one symbol per UTF-8 code point (byte pieces for
// code points not in the vocabulary), then merges until none applies: with scores
// (llama2.c, SentencePiece) the adjacent pair whose concatenation is the highest-scoring
// piece, the leftmost on ties; with ranked merges (tokenizer.json) the pair of lowest rank.
// Candidate pairs live in a heap, O(n log n), so megabyte files encode in well under a
// second; the result equals the straightforward quadratic scan.
//
// A tokenizer.json of GPT-2's byte-level kind (a ByteLevel pre-tokenizer; SmolLM2's) is
// read and encoded by ByteLevelBPE.h instead; this class then forwards to it.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_TOKENIZER_TOKENIZER_H
#define MIDLLAMA_RUNTIME_TOKENIZER_TOKENIZER_H

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace midllama::rt {

class ByteLevelBPE;

class Tokenizer {
public:
  static constexpr int32_t kUnk = 0, kBos = 1, kEos = 2;

  /// Loads a tokenizer file of any of the three formats (recognized by content). Returns
  /// null and sets `error` (naming the file and the token) when it is missing, truncated or
  /// malformed.
  static std::unique_ptr<Tokenizer> load(const std::string &path, std::string &error);
  /// The same from bytes already in memory; `displayName` names them in errors.
  static std::unique_ptr<Tokenizer> fromBytes(std::string_view bytes,
                                              const std::string &displayName,
                                              std::string &error);
  static std::unique_ptr<Tokenizer> fromLlama2C(std::string_view bytes,
                                                const std::string &displayName,
                                                std::string &error);
  static std::unique_ptr<Tokenizer> fromSentencePieceModel(std::string_view bytes,
                                                           const std::string &displayName,
                                                           std::string &error);
  static std::unique_ptr<Tokenizer> fromHuggingFaceJson(std::string_view bytes,
                                                        const std::string &displayName,
                                                        std::string &error);
  /// "llama2c", "sentencepiece", "huggingface" or "bytelevel" (a GPT-2-style
  /// tokenizer.json).
  const std::string &format() const { return format_; }

  int32_t vocabSize() const;
  /// The text of token `id` (byte pieces as <0xHH>).
  const std::string &piece(int32_t id) const;
  /// SentencePiece's piece score (0 for the other kinds, which merge by rank).
  float score(int32_t id) const { return size_t(id) < scores_.size() ? scores_[id] : 0.0f; }

  /// Token ids of `text`, with <s> first when `bos` and </s> last when `eos` for the
  /// SentencePiece kinds; a byte-level tokenizer adds only the BOS of its post-processor
  /// when `bos` (Llama 3's <|begin_of_text|>; GPT-2-style models such as SmolLM2 have none
  /// and take the text as it is).
  std::vector<int32_t> encode(std::string_view text, bool bos, bool eos) const;
  /// The offset of the first byte of `text` that encoding would drop, or -1 when none
  /// would be: a byte-level vocabulary may lack tokens for some bytes (SmolLM2's, a few
  /// control characters), which Hugging Face's BPE drops silently; the SentencePiece kinds
  /// have every byte piece (checked at load).
  int64_t firstUnencodable(std::string_view text) const;
  /// Whether generation ends at token `id`: <s> or </s>, or a byte-level tokenizer's
  /// special tokens (end of text, chat turn markers).
  bool endsText(int32_t id) const;
  /// The text of token `id` following token `previous`: byte pieces become their byte, and
  /// the dummy-prefix space of the first piece after <s> is dropped.
  std::string decodePiece(int32_t previous, int32_t id) const;
  /// The text of a token sequence (which may start with <s>).
  std::string decode(const std::vector<int32_t> &ids) const;

private:
  Tokenizer() = default;
  int32_t lookup(std::string_view piece) const;
  /// encode() for a byte-level tokenizer: its BOS when `bos` and it has one, then the text.
  std::vector<int32_t> encodeByteLevel(std::string_view text, bool bos) const;
  /// Checks the control and byte pieces and builds the index; false with `error` set.
  bool finish(const std::string &displayName, std::string &error);

  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::unordered_map<std::string_view, int32_t> index_; // views into pieces_
  int32_t maxPieceLength_ = 0;
  std::string format_;
  /// Ranked merges (tokenizer.json): (left id << 32 | right id) -> rank. Empty: by score.
  std::unordered_map<uint64_t, int32_t> mergeRank_;
  /// Set for a byte-level tokenizer, which then does the work.
  std::shared_ptr<const ByteLevelBPE> byteLevel_;
};

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_TOKENIZER_TOKENIZER_H
