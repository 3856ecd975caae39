//===- Tokenizer.cpp - The LLaMA family's tokenizers ---------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/tokenizer/Tokenizer.h"

#include "runtime/tokenizer/ByteLevelBPE.h"

#include "runtime/support/Json.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <queue>
#include <sstream>

#include "runtime/support/InputFile.h"

using namespace midllama::rt;

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string &path,
                                                         std::string &error) {
  std::string bytes;
  if (!readInputFile(path, "tokenizer", kTokenizerInputLimit, bytes, error))
    return nullptr;
  return fromBytes(bytes, path, error);
}

std::unique_ptr<Tokenizer> Tokenizer::fromBytes(std::string_view bytes,
                                                const std::string &name, std::string &error) {
  size_t first = bytes.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && bytes[first] == '{')
    return fromHuggingFaceJson(bytes, name, error);
  // A SentencePiece ModelProto starts with field 1 (a piece message): tag 0x0A, a length,
  // then the piece's own field 1 (tag 0x0A). A llama2.c file starts with a small int32.
  if (bytes.size() > 4 && uint8_t(bytes[0]) == 0x0A && uint8_t(bytes[1]) != 0 &&
      (uint8_t(bytes[2]) == 0x0A || uint8_t(bytes[3]) == 0x0A))
    return fromSentencePieceModel(bytes, name, error);
  return fromLlama2C(bytes, name, error);
}

bool Tokenizer::finish(const std::string &name, std::string &error) {
  auto fail = [&](const std::string &why) {
    error = "tokenizer '" + name + "': " + why;
    return false;
  };
  // <unk>, <s>, </s> and the 256 byte pieces must be where encoding puts them.
  if (pieces_.size() < 259)
    return fail("only " + std::to_string(pieces_.size()) +
                " tokens; a LLaMA tokenizer has the 3 control and 256 byte pieces first");
  for (int b = 0; b < 256; ++b) {
    char expected[8];
    std::snprintf(expected, sizeof expected, "<0x%02X>", b);
    if (pieces_[3 + b] != expected)
      return fail("token " + std::to_string(3 + b) + " is not the byte piece " + expected);
  }
  for (const std::string &p : pieces_)
    maxPieceLength_ = std::max(maxPieceLength_, int32_t(p.size()));
  for (size_t i = 0; i < pieces_.size(); ++i)
    if (!pieces_[i].empty())
      index_.emplace(pieces_[i], int32_t(i)); // the first of duplicates wins
  return true;
}

std::unique_ptr<Tokenizer> Tokenizer::fromLlama2C(std::string_view bytes, const std::string &name,
                                                  std::string &error) {
  auto fail = [&](const std::string &why) {
    error = "tokenizer '" + name + "': " + why;
    return nullptr;
  };
  size_t at = 0;
  auto readInt = [&](int32_t &v) {
    if (bytes.size() - at < 4)
      return false;
    std::memcpy(&v, bytes.data() + at, 4);
    at += 4;
    return true;
  };
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  t->format_ = "llama2c";
  int32_t maxLength;
  if (!readInt(maxLength) || maxLength <= 0 || maxLength > 4096)
    return fail("not a llama2.c tokenizer (bad maximum piece length)");
  while (at < bytes.size()) {
    size_t id = t->pieces_.size();
    float score;
    int32_t length;
    if (bytes.size() - at < 8)
      return fail("truncated in token " + std::to_string(id));
    std::memcpy(&score, bytes.data() + at, 4);
    at += 4;
    readInt(length);
    if (length < 0 || length > maxLength)
      return fail("token " + std::to_string(id) + " has a bad length " + std::to_string(length));
    if (size_t(length) > bytes.size() - at)
      return fail("token " + std::to_string(id) + " runs past the end of the file (truncated?)");
    t->pieces_.emplace_back(bytes.data() + at, size_t(length));
    t->scores_.push_back(score);
    at += length;
  }
  if (!t->finish(name, error))
    return nullptr;
  return t;
}

namespace {

/// The offset of the first byte that does not start or continue a well-formed UTF-8
/// sequence (no overlongs, surrogates or code points above U+10FFFF), or npos.
size_t firstInvalidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size())
      return i;
    uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
    for (size_t k = 1; k < n; ++k) {
      unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80)
        return i;
      cp = cp << 6 | (d & 0x3F);
    }
    static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return i;
    i += n;
  }
  return std::string_view::npos;
}

/// SentencePiece writes spaces as U+2581; llama2.c's files and our pieces use ' '.
std::string fromMetaspace(std::string_view piece) {
  std::string out;
  for (size_t i = 0; i < piece.size(); ++i) {
    if (i + 2 < piece.size() + 0 && piece.compare(i, 3, "\xE2\x96\x81") == 0) {
      out += ' ';
      i += 2;
    } else {
      out += piece[i];
    }
  }
  return out;
}

/// The protobuf wire format, as much as a ModelProto needs.
class Wire {
public:
  Wire(std::string_view bytes) : p(bytes.data()), end(bytes.data() + bytes.size()) {}
  bool atEnd() const { return p == end; }
  bool varint(uint64_t &v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p == end)
        return false;
      uint8_t b = uint8_t(*p++);
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80))
        return true;
    }
    return false;
  }
  bool bytes(std::string_view &out) {
    uint64_t n;
    if (!varint(n) || n > uint64_t(end - p))
      return false;
    out = std::string_view(p, size_t(n));
    p += n;
    return true;
  }
  bool fixed32(uint32_t &v) {
    if (end - p < 4)
      return false;
    std::memcpy(&v, p, 4);
    p += 4;
    return true;
  }
  bool skip(int wireType) {
    uint64_t v;
    uint32_t f;
    std::string_view s;
    switch (wireType) {
    case 0:
      return varint(v);
    case 1:
      return end - p >= 8 ? (p += 8, true) : false;
    case 2:
      return bytes(s);
    case 5:
      return fixed32(f);
    default:
      return false;
    }
  }

private:
  const char *p, *end;
};

} // namespace

std::unique_ptr<Tokenizer> Tokenizer::fromSentencePieceModel(std::string_view bytes,
                                                             const std::string &name,
                                                             std::string &error) {
  auto fail = [&](const std::string &why) {
    error = "tokenizer '" + name + "': " + why;
    return nullptr;
  };
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  t->format_ = "sentencepiece";
  Wire model(bytes);
  while (!model.atEnd()) {
    uint64_t tag;
    if (!model.varint(tag))
      return fail("not a SentencePiece model (malformed protobuf)");
    if (tag >> 3 != 1) { // trainer/normalizer specs and the rest: not needed to encode
      if (!model.skip(int(tag & 7)))
        return fail("not a SentencePiece model (malformed protobuf)");
      continue;
    }
    std::string_view message;
    if ((tag & 7) != 2 || !model.bytes(message))
      return fail("malformed piece " + std::to_string(t->pieces_.size()));
    Wire piece(message);
    std::string text;
    float score = 0;
    while (!piece.atEnd()) {
      uint64_t ptag;
      if (!piece.varint(ptag))
        return fail("malformed piece " + std::to_string(t->pieces_.size()));
      std::string_view s;
      uint32_t f;
      if (ptag == (1 << 3 | 2) && piece.bytes(s)) {
        text = fromMetaspace(s);
      } else if (ptag == (2 << 3 | 5) && piece.fixed32(f)) {
        std::memcpy(&score, &f, 4);
      } else if ((ptag >> 3) != 1 && (ptag >> 3) != 2 && piece.skip(int(ptag & 7))) {
      } else {
        return fail("malformed piece " + std::to_string(t->pieces_.size()));
      }
    }
    t->pieces_.push_back(std::move(text));
    t->scores_.push_back(score);
  }
  if (!t->finish(name, error))
    return nullptr;
  return t;
}

namespace {

/// Why a tokenizer.json's normalization is not SentencePiece's (a word marker before the
/// text and for every space: Prepend + Replace, with no pre-tokenizer splitting the text),
/// or "".
std::string checkSentencePieceNormalization(const Json &root) {
  const Json *normalizer = root.find("normalizer");
  bool prepend = false, replace = false;
  if (normalizer && normalizer->kind == Json::Object) {
    const Json *list = normalizer->find("normalizers");
    std::vector<const Json *> steps;
    if (list)
      for (const Json &n : list->items)
        steps.push_back(&n);
    else
      steps.push_back(normalizer);
    for (const Json *n : steps) {
      const Json *t = n->find("type");
      if (t && t->string == "Prepend") {
        const Json *what = n->find("prepend");
        prepend = what && what->string == "\xE2\x96\x81";
      } else if (t && t->string == "Replace") {
        const Json *content = n->find("content");
        const Json *pattern = n->find("pattern");
        const Json *from = pattern ? pattern->find("String") : nullptr;
        replace = from && from->string == " " && content && content->string == "\xE2\x96\x81";
      } else {
        return "unsupported normalizer '" + (t ? t->string : std::string("?")) + "'";
      }
    }
  }
  const Json *pre = root.find("pre_tokenizer");
  if (!prepend || !replace || (pre && pre->kind != Json::Null))
    return "unsupported normalization: only SentencePiece's (Prepend and Replace with "
           "U+2581, no pre-tokenizer) is read";
  return "";
}

} // namespace

std::unique_ptr<Tokenizer> Tokenizer::fromHuggingFaceJson(std::string_view bytes,
                                                          const std::string &name,
                                                          std::string &error) {
  auto fail = [&](const std::string &why) {
    error = "tokenizer '" + name + "': " + why;
    return nullptr;
  };
  // JSON text is UTF-8 (RFC 8259); pieces cut from invalid bytes would decode to garbage.
  if (size_t bad = firstInvalidUtf8(bytes); bad != std::string_view::npos)
    return fail("not valid UTF-8 at byte " + std::to_string(bad));
  Json root;
  std::string jsonError;
  if (!parseJson(bytes.data(), bytes.data() + bytes.size(), root, jsonError, "tokenizer.json"))
    return fail(jsonError);
  if (ByteLevelBPE::isByteLevel(root)) {
    std::unique_ptr<Tokenizer> t(new Tokenizer());
    t->format_ = "bytelevel";
    t->byteLevel_ = ByteLevelBPE::fromJson(root, error);
    if (!t->byteLevel_)
      return fail(error);
    return t;
  }
  const Json *model = root.find("model");
  const Json *type = model ? model->find("type") : nullptr;
  if (!type || type->string != "BPE")
    return fail("only BPE tokenizer.json models are supported");
  const Json *fallback = model->find("byte_fallback");
  if (!fallback || !fallback->boolean)
    return fail("only byte-fallback BPE (the LLaMA/SentencePiece kind) is supported");
  if (std::string why = checkSentencePieceNormalization(root); !why.empty())
    return fail(why);

  std::unique_ptr<Tokenizer> t(new Tokenizer());
  t->format_ = "huggingface";
  const Json *vocab = model->find("vocab");
  if (!vocab || vocab->kind != Json::Object || vocab->members.empty() ||
      vocab->members.size() > (1u << 24))
    return fail("no vocabulary");
  t->pieces_.resize(vocab->members.size());
  for (const auto &[piece, id] : vocab->members) {
    if (id.kind != Json::Int || id.integer < 0 || id.integer >= int64_t(t->pieces_.size()) ||
        !t->pieces_[size_t(id.integer)].empty())
      return fail("vocabulary ids must be 0.." + std::to_string(t->pieces_.size() - 1) +
                  ", each once ('" + piece + "')");
    t->pieces_[size_t(id.integer)] = fromMetaspace(piece);
  }
  t->scores_.assign(t->pieces_.size(), 0.0f);
  if (!t->finish(name, error))
    return nullptr;
  // Tokens the model's vocabulary must hold: an added token (special tokens live inside the
  // vocabulary of a LLaMA tokenizer; one beyond it would have no embedding row) and the
  // unknown token that encoding falls back to.
  if (const Json *added = root.find("added_tokens"); added && added->kind == Json::Array)
    for (size_t i = 0; i < added->items.size(); ++i) {
      const Json *id = added->items[i].find("id");
      const Json *content = added->items[i].find("content");
      std::string what = content && content->kind == Json::String ? content->string : "?";
      if (!id || id->kind != Json::Int || id->integer < 0 ||
          id->integer >= int64_t(t->pieces_.size()))
        return fail("added_tokens[" + std::to_string(i) + "] ('" + what + "') has id " +
                    (id && id->kind == Json::Int ? std::to_string(id->integer)
                                                 : std::string("(none)")) +
                    ", outside the vocabulary's 0.." + std::to_string(t->pieces_.size() - 1));
    }
  if (const Json *unk = model->find("unk_token"); unk && unk->kind == Json::String &&
                                                    !t->index_.count(fromMetaspace(unk->string)))
    return fail("unk_token '" + unk->string + "' is not in the vocabulary");
  const Json *merges = model->find("merges");
  if (!merges || merges->kind != Json::Array)
    return fail("no merges");
  for (size_t rank = 0; rank < merges->items.size(); ++rank) {
    const Json &m = merges->items[rank];
    std::string a, b;
    if (m.kind == Json::String && m.string.find(' ') != std::string::npos) {
      a = m.string.substr(0, m.string.find(' '));
      b = m.string.substr(m.string.find(' ') + 1);
    } else if (m.kind == Json::Array && m.items.size() == 2) {
      a = m.items[0].string;
      b = m.items[1].string;
    } else {
      return fail("merge " + std::to_string(rank) + " is not a pair");
    }
    a = fromMetaspace(a);
    b = fromMetaspace(b);
    int32_t left = t->lookup(a), right = t->lookup(b);
    if (left < 0 || right < 0 || t->lookup(a + b) < 0)
      return fail("merge " + std::to_string(rank) + " ('" + a + "', '" + b +
                  "') is not of vocabulary pieces");
    t->mergeRank_.emplace(uint64_t(uint32_t(left)) << 32 | uint32_t(right), int32_t(rank));
  }
  return t;
}

int32_t Tokenizer::lookup(std::string_view piece) const {
  auto it = index_.find(piece);
  return it == index_.end() ? -1 : it->second;
}

int32_t Tokenizer::vocabSize() const {
  return byteLevel_ ? byteLevel_->vocabSize() : int32_t(pieces_.size());
}

const std::string &Tokenizer::piece(int32_t id) const {
  return byteLevel_ ? byteLevel_->bytesOf(id) : pieces_[size_t(id)];
}

bool Tokenizer::endsText(int32_t id) const {
  return byteLevel_ ? byteLevel_->isSpecial(id) : id == kBos || id == kEos;
}

int64_t Tokenizer::firstUnencodable(std::string_view text) const {
  if (!byteLevel_)
    return -1;
  for (size_t i = 0; i < text.size(); ++i)
    if (!byteLevel_->hasByte(uint8_t(text[i])))
      return int64_t(i);
  return -1;
}

std::vector<int32_t> Tokenizer::encodeByteLevel(std::string_view text, bool bos) const {
  // Hugging Face's add_special_tokens: the post-processor's BOS (Llama 3), if any.
  std::vector<int32_t> ids;
  if (bos && byteLevel_->bosToken() >= 0)
    ids.push_back(byteLevel_->bosToken());
  std::vector<int32_t> textIds = byteLevel_->encode(text);
  ids.insert(ids.end(), textIds.begin(), textIds.end());
  return ids;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool bos, bool eos) const {
  if (byteLevel_)
    return encodeByteLevel(text, bos);
  // Symbols in a doubly linked list, initially one per code point (or byte).
  struct Symbol {
    int32_t id;
    int32_t prev, next;
  };
  std::vector<Symbol> symbols;
  auto append = [&](int32_t id) {
    int32_t n = int32_t(symbols.size());
    symbols.push_back({id, n - 1, -1});
    if (n > 0)
      symbols[n - 1].next = n;
  };
  if (!text.empty())
    if (int32_t space = lookup(" "); space >= 0)
      append(space); // SentencePiece's dummy prefix
  for (size_t i = 0; i < text.size();) {
    size_t len = 1;
    while (len < 4 && i + len < text.size() && (uint8_t(text[i + len]) & 0xC0) == 0x80)
      ++len;
    if (int32_t id = lookup(text.substr(i, len)); id >= 0) {
      append(id);
    } else {
      for (size_t k = 0; k < len; ++k)
        append(int32_t(uint8_t(text[i + k])) + 3); // byte fallback
    }
    i += len;
  }

  // Merge the best-scoring adjacent pair first, the leftmost on ties: the heap orders by
  // score, then by the left symbol's original index (list order never changes).
  struct Candidate {
    float score;
    int32_t left, right, leftId, rightId, merged;
    bool operator<(const Candidate &o) const {
      return score != o.score ? score < o.score : left > o.left;
    }
  };
  std::priority_queue<Candidate> heap;
  std::string joined;
  auto consider = [&](int32_t left) {
    if (left < 0)
      return;
    int32_t right = symbols[left].next;
    if (right < 0)
      return;
    joined = pieces_[symbols[left].id];
    joined += pieces_[symbols[right].id];
    if (joined.size() > size_t(maxPieceLength_))
      return;
    int32_t merged = lookup(joined);
    if (merged < 0)
      return;
    float priority = scores_[merged];
    if (!mergeRank_.empty()) { // ranked merges: only listed pairs, the lowest rank first
      auto it = mergeRank_.find(uint64_t(uint32_t(symbols[left].id)) << 32 |
                                uint32_t(symbols[right].id));
      if (it == mergeRank_.end())
        return;
      priority = -float(it->second);
    }
    heap.push({priority, left, right, symbols[left].id, symbols[right].id, merged});
  };
  for (int32_t i = 0; i < int32_t(symbols.size()); ++i)
    consider(i);
  std::vector<bool> dead(symbols.size(), false);
  while (!heap.empty()) {
    Candidate c = heap.top();
    heap.pop();
    // Skip pairs one of whose symbols has merged since.
    if (dead[c.left] || dead[c.right] || symbols[c.left].next != c.right ||
        symbols[c.left].id != c.leftId || symbols[c.right].id != c.rightId)
      continue;
    symbols[c.left].id = c.merged;
    dead[c.right] = true;
    int32_t after = symbols[c.right].next;
    symbols[c.left].next = after;
    if (after >= 0)
      symbols[after].prev = c.left;
    consider(symbols[c.left].prev);
    consider(c.left);
  }

  std::vector<int32_t> ids;
  ids.reserve(symbols.size() + 2);
  if (bos)
    ids.push_back(kBos);
  for (int32_t i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next)
    ids.push_back(symbols[i].id);
  if (eos)
    ids.push_back(kEos);
  return ids;
}

std::string Tokenizer::decodePiece(int32_t previous, int32_t id) const {
  if (id < 0 || id >= vocabSize())
    return {};
  if (byteLevel_)
    return byteLevel_->bytesOf(id);
  if (id >= 3 && id < 259)
    return std::string(1, char(id - 3)); // <0xHH>
  const std::string &p = pieces_[id];
  if (previous == kBos && !p.empty() && p[0] == ' ')
    return p.substr(1);
  return p;
}

std::string Tokenizer::decode(const std::vector<int32_t> &ids) const {
  std::string out;
  int32_t previous = -1;
  for (size_t i = 0; i < ids.size(); ++i) {
    int32_t id = ids[i];
    // What encode(text, bos) put first is not text (a byte-level tokenizer's other special
    // tokens are: they may be in it, "<|im_start|>user").
    bool bos = byteLevel_ ? i == 0 && id == byteLevel_->bosToken() : id == kBos || id == kEos;
    if (!bos)
      out += decodePiece(previous, id);
    previous = id;
  }
  return out;
}
