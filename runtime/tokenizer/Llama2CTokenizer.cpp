//===- Llama2CTokenizer.cpp - llama2.c tokenizer.bin / tok512.bin ---------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/tokenizer/Llama2CTokenizer.h"

#include <cstring>
#include <fstream>
#include <queue>
#include <sstream>

using namespace midllama::rt;

std::unique_ptr<Llama2CTokenizer> Llama2CTokenizer::load(const std::string &path,
                                                         std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open tokenizer '" + path + "'";
    return nullptr;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return fromBytes(buffer.str(), path, error);
}

std::unique_ptr<Llama2CTokenizer> Llama2CTokenizer::fromBytes(std::string_view bytes,
                                                              const std::string &name,
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
  std::unique_ptr<Llama2CTokenizer> t(new Llama2CTokenizer());
  if (!readInt(t->maxPieceLength_) || t->maxPieceLength_ <= 0 || t->maxPieceLength_ > 4096)
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
    if (length < 0 || length > t->maxPieceLength_)
      return fail("token " + std::to_string(id) + " has a bad length " + std::to_string(length));
    if (size_t(length) > bytes.size() - at)
      return fail("token " + std::to_string(id) + " runs past the end of the file (truncated?)");
    t->pieces_.emplace_back(bytes.data() + at, size_t(length));
    t->scores_.push_back(score);
    at += length;
  }
  // <unk>, <s>, </s> and the 256 byte pieces must be where encoding puts them.
  if (t->pieces_.size() < 259)
    return fail("only " + std::to_string(t->pieces_.size()) +
                " tokens; a llama2.c tokenizer has the 3 control and 256 byte pieces first");
  for (int b = 0; b < 256; ++b) {
    char expected[8];
    std::snprintf(expected, sizeof expected, "<0x%02X>", b);
    if (t->pieces_[3 + b] != expected)
      return fail("token " + std::to_string(3 + b) + " is not the byte piece " + expected);
  }
  for (size_t i = 0; i < t->pieces_.size(); ++i)
    t->index_.emplace(t->pieces_[i], int32_t(i)); // the first of duplicates wins
  return t;
}

int32_t Llama2CTokenizer::lookup(std::string_view piece) const {
  auto it = index_.find(piece);
  return it == index_.end() ? -1 : it->second;
}

std::vector<int32_t> Llama2CTokenizer::encode(std::string_view text, bool bos, bool eos) const {
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
    if (int32_t merged = lookup(joined); merged >= 0)
      heap.push({scores_[merged], left, right, symbols[left].id, symbols[right].id, merged});
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

std::string Llama2CTokenizer::decodePiece(int32_t previous, int32_t id) const {
  if (id < 0 || id >= vocabSize())
    return {};
  if (id >= 3 && id < 259)
    return std::string(1, char(id - 3)); // <0xHH>
  const std::string &p = pieces_[id];
  if (previous == kBos && !p.empty() && p[0] == ' ')
    return p.substr(1);
  return p;
}

std::string Llama2CTokenizer::decode(const std::vector<int32_t> &ids) const {
  std::string out;
  int32_t previous = -1;
  for (int32_t id : ids) {
    if (id != kBos && id != kEos)
      out += decodePiece(previous, id);
    previous = id;
  }
  return out;
}
