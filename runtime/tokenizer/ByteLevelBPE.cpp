//===- ByteLevelBPE.cpp - GPT-2 byte-level BPE tokenizers -----------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/tokenizer/ByteLevelBPE.h"

#include "runtime/tokenizer/Llama3Split.h"
#include "runtime/tokenizer/UnicodeClass.h"

#include <algorithm>
#include <climits>

using namespace midllama::rt;

namespace {

/// GPT-2's bytes-to-unicode map: the printable bytes 33-126, 161-172 and 174-255 stand for
/// themselves, the other 68 for the code points 256, 257, ... in byte order.
uint32_t byteChar(uint8_t b) {
  if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)
    return b;
  uint32_t n = 0;
  for (int c = 0; c < b; ++c)
    if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || c >= 174))
      ++n;
  return 256 + n;
}

/// The bytes a token string stands for (each of its characters one byte); false when a
/// character is not in the byte alphabet.
bool tokenBytes(const std::string &token, const std::unordered_map<uint32_t, uint8_t> &toByte,
                std::string &out) {
  out.clear();
  for (size_t i = 0; i < token.size();) {
    Utf8Char c = decodeUtf8(token, i);
    auto it = toByte.find(c.codePoint);
    if (it == toByte.end())
      return false;
    out += char(it->second);
    i += size_t(c.length);
  }
  return true;
}

/// The end of the run of characters of class `cls` that starts at `at`.
size_t runEnd(std::string_view s, size_t at, size_t end, CharClass cls) {
  while (at < end) {
    Utf8Char c = decodeUtf8(s, at);
    if (classify(c.codePoint) != cls)
      break;
    at += size_t(c.length);
  }
  return at;
}

/// GPT-2's contractions at `at` (an apostrophe): the length matched, or 0.
size_t contraction(std::string_view s, size_t at, size_t end) {
  for (std::string_view suffix : {"s", "t", "re", "ve", "m", "ll", "d"})
    if (s.substr(at + 1, std::min(end - at - 1, suffix.size())) == suffix)
      return 1 + suffix.size();
  return 0;
}

/// One piece (no \p{N} inside when digits are isolated) by the GPT-2 regex.
void splitPiece(std::string_view s, size_t begin, size_t end, std::vector<std::string_view> &out) {
  size_t at = begin;
  while (at < end) {
    size_t next = 0;
    if (s[at] == '\'')
      if (size_t n = contraction(s, at, end))
        next = at + n;
    Utf8Char c = decodeUtf8(s, at);
    CharClass cls = classify(c.codePoint);
    if (!next && cls != CharClass::Space) // \p{L}+, \p{N}+ or [^\s\p{L}\p{N}]+
      next = runEnd(s, at, end, cls);
    if (!next && s[at] == ' ' && at + 1 < end) { // the same after one space
      CharClass after = classify(decodeUtf8(s, at + 1).codePoint);
      if (after != CharClass::Space)
        next = runEnd(s, at + 1, end, after);
    }
    if (!next) { // \s+(?!\S) leaves the last space to the word after it; else \s+
      size_t runStop = runEnd(s, at, end, CharClass::Space);
      size_t last = at; // the start of the run's last character
      for (size_t i = at; i < runStop; i += size_t(decodeUtf8(s, i).length))
        last = i;
      next = runStop == end || last == at ? runStop : last;
    }
    out.push_back(s.substr(at, next - at));
    at = next;
  }
}

} // namespace

void midllama::rt::splitGpt2(std::string_view text, bool isolateDigits,
                             std::vector<std::string_view> &out) {
  if (!isolateDigits) {
    splitPiece(text, 0, text.size(), out);
    return;
  }
  size_t begin = 0;
  for (size_t at = 0; at < text.size();) {
    Utf8Char c = decodeUtf8(text, at);
    if (classify(c.codePoint) == CharClass::Number) { // Digits(individual): isolated
      splitPiece(text, begin, at, out);
      out.push_back(text.substr(at, size_t(c.length)));
      begin = at + size_t(c.length);
    }
    at += size_t(c.length);
  }
  splitPiece(text, begin, text.size(), out);
}

namespace {

/// The steps of a tokenizer.json's pre-tokenizer: its `pretokenizers` for a Sequence, else
/// the pre-tokenizer itself; none when it has none.
std::vector<const Json *> preTokenizerSteps(const Json &root) {
  const Json *pre = root.find("pre_tokenizer");
  if (!pre || pre->kind != Json::Object)
    return {};
  const Json *list = pre->find("pretokenizers");
  if (!list || list->kind != Json::Array)
    return {pre};
  std::vector<const Json *> steps;
  for (const Json &step : list->items)
    steps.push_back(&step);
  return steps;
}

} // namespace

bool ByteLevelBPE::isByteLevel(const Json &root) {
  std::vector<const Json *> steps = preTokenizerSteps(root);
  return std::any_of(steps.begin(), steps.end(), [](const Json *step) {
    const Json *type = step->find("type");
    return type && type->string == "ByteLevel";
  });
}

namespace {

/// A boolean member of a pre-tokenizer step, `missing` when absent.
bool flagOf(const Json &step, const char *key, bool missing) {
  const Json *v = step.find(key);
  return v ? v->boolean : missing;
}

/// A Split step's regex when it splits as Llama 3 or Qwen2 (Isolated, not inverted).
std::string splitRegex(const Json &step) {
  const Json *pattern = step.find("pattern"), *behavior = step.find("behavior");
  const Json *regex = pattern ? pattern->find("Regex") : nullptr;
  if (!regex || regex->kind != Json::String || !behavior || behavior->string != "Isolated" ||
      flagOf(step, "invert", false))
    return "";
  return regex->string;
}

} // namespace

std::string ByteLevelBPE::readPreTokenizer(const Json &root, Split &split) {
  std::vector<const Json *> steps = preTokenizerSteps(root);
  split = Split::Gpt2;
  bool ownRegex = false; // a Split step came first: ByteLevel must not split again
  for (size_t i = 0; i < steps.size(); ++i) {
    const Json *type = steps[i]->find("type");
    std::string name = type ? type->string : "?";
    bool last = i + 1 == steps.size();
    std::string regex = name == "Split" && i == 0 && !last ? splitRegex(*steps[i]) : "";
    if (name == "Digits" && i == 0 && !last && flagOf(*steps[i], "individual_digits", false))
      split = Split::DigitsThenGpt2;
    else if (!regex.empty() && (regex == kLlama3SplitRegex || regex == kQwen2SplitRegex)) {
      split = regex == kLlama3SplitRegex ? Split::Llama3 : Split::Qwen2;
      ownRegex = true;
    } else if (name == "ByteLevel" && last && flagOf(*steps[i], "use_regex", true) != ownRegex &&
               !flagOf(*steps[i], "add_prefix_space", false))
      continue;
    else
      return "pre-tokenizer step " + std::to_string(i) + " ('" + name +
             "') is not supported (read: ByteLevel with the GPT-2 regex, after "
             "Digits(individual_digits) or not; or Split with Llama 3's or Qwen2's regex, "
             "then ByteLevel without one; never a prefix space)";
  }
  return "";
}

std::string ByteLevelBPE::readPostProcessor(const Json &root, const ByteLevelBPE &t, int32_t &bos) {
  bos = -1;
  const Json *post = root.find("post_processor");
  if (!post || post->kind != Json::Object)
    return "";
  std::vector<const Json *> processors = {post};
  if (const Json *list = post->find("processors"); list && list->kind == Json::Array) {
    processors.clear();
    for (const Json &p : list->items)
      processors.push_back(&p);
  }
  for (const Json *p : processors) {
    const Json *type = p->find("type"), *single = p->find("single");
    if (!type || type->string != "TemplateProcessing")
      continue; // ByteLevel's offsets do not change the ids
    const char *shapes = "a TemplateProcessing post-processor is read when its single "
                         "template is the text alone, or one special token then the text";
    if (!single || single->kind != Json::Array || single->items.empty() ||
        single->items.size() > 2 || !single->items.back().find("Sequence"))
      return shapes;
    if (single->items.size() == 1)
      continue;
    const Json *special = single->items[0].find("SpecialToken");
    const Json *id = special ? special->find("id") : nullptr;
    if (!id || id->kind != Json::String)
      return shapes;
    auto it = std::find_if(t.specials_.begin(), t.specials_.end(),
                           [&](const auto &s) { return s.first == id->string; });
    if (it == t.specials_.end())
      return "the post-processor's token '" + id->string + "' is not an added token";
    bos = it->second;
  }
  return "";
}

namespace {

/// Why a tokenizer.json's model and normalizer are not what this reads (BPE, no
/// normalizer), or "".
std::string checkModel(const Json &root) {
  const Json *model = root.find("model"), *normalizer = root.find("normalizer");
  const Json *type = model ? model->find("type") : nullptr;
  if (!type || type->string != "BPE")
    return "only BPE tokenizer.json models are supported";
  // transformers writes `{"type": "Sequence", "normalizers": []}` for "none" (SmolLM2
  // converted from GGUF, then saved by optimum or the GenAI builder).
  if (!normalizer || normalizer->kind == Json::Null)
    return "";
  const Json *steps = normalizer->kind == Json::Object ? normalizer->find("normalizers") : nullptr;
  const Json *kind = normalizer->kind == Json::Object ? normalizer->find("type") : nullptr;
  if (kind && kind->string == "Sequence" && steps && steps->kind == Json::Array &&
      steps->items.empty())
    return "";
  return "a byte-level tokenizer with a normalizer is not supported";
}

} // namespace

std::string ByteLevelBPE::readVocab(const Json &model, ByteLevelBPE &t,
                                    std::unordered_map<std::string_view, int32_t> &idOf) {
  std::unordered_map<uint32_t, uint8_t> toByte;
  for (int b = 0; b < 256; ++b)
    toByte[byteChar(uint8_t(b))] = uint8_t(b);
  const Json *vocab = model.find("vocab");
  if (!vocab || vocab->kind != Json::Object || vocab->members.empty() ||
      vocab->members.size() > (1u << 24))
    return "no vocabulary";
  t.bytes_.resize(vocab->members.size());
  std::vector<bool> seen(vocab->members.size(), false);
  for (const auto &[token, id] : vocab->members) {
    if (id.kind != Json::Int || id.integer < 0 || id.integer >= int64_t(seen.size()) ||
        seen[size_t(id.integer)])
      return "vocabulary ids must be 0.." + std::to_string(seen.size() - 1) + ", each once ('" +
             token + "')";
    seen[size_t(id.integer)] = true;
    if (!tokenBytes(token, toByte, t.bytes_[size_t(id.integer)]))
      return "token '" + token + "' has a character outside the byte alphabet";
    idOf.emplace(token, int32_t(id.integer));
  }
  for (int b = 0; b < 256; ++b) {
    uint32_t cp = byteChar(uint8_t(b));
    std::string single = cp < 0x80 ? std::string(1, char(cp))
                                   : std::string{char(0xC0 | cp >> 6), char(0x80 | (cp & 0x3F))};
    auto it = idOf.find(single);
    t.byteToken_[b] = it == idOf.end() ? -1 : it->second;
  }
  return "";
}

std::string ByteLevelBPE::readMerges(const Json &model, ByteLevelBPE &t,
                                     const std::unordered_map<std::string_view, int32_t> &idOf) {
  const Json *merges = model.find("merges");
  if (!merges || merges->kind != Json::Array)
    return "no merges";
  for (size_t rank = 0; rank < merges->items.size(); ++rank) {
    const Json &m = merges->items[rank];
    std::string a, b;
    size_t space = m.kind == Json::String ? m.string.find(' ') : std::string::npos;
    if (space != std::string::npos) {
      a = m.string.substr(0, space);
      b = m.string.substr(space + 1);
    } else if (m.kind == Json::Array && m.items.size() == 2) {
      a = m.items[0].string;
      b = m.items[1].string;
    }
    auto left = idOf.find(a), right = idOf.find(b), merged = idOf.find(a + b);
    if (left == idOf.end() || right == idOf.end() || merged == idOf.end())
      return "merge " + std::to_string(rank) + " ('" + a + "', '" + b +
             "') is not of vocabulary tokens";
    // A pair listed twice keeps its first (lowest) rank.
    t.merges_.emplace(uint64_t(uint32_t(left->second)) << 32 | uint32_t(right->second),
                      Merge{int32_t(rank), merged->second});
  }
  return "";
}

std::string ByteLevelBPE::readAddedTokens(const Json &root, ByteLevelBPE &t) {
  const Json *added = root.find("added_tokens");
  for (size_t i = 0; added && added->kind == Json::Array && i < added->items.size(); ++i) {
    const Json &a = added->items[i];
    const Json *id = a.find("id"), *content = a.find("content");
    std::string what = content && content->kind == Json::String ? content->string : "?";
    if (!id || id->kind != Json::Int || id->integer < 0 ||
        id->integer >= int64_t(t.bytes_.size()) || what.empty())
      return "added_tokens[" + std::to_string(i) + "] ('" + what +
             "') has no id within the vocabulary's 0.." + std::to_string(t.bytes_.size() - 1);
    for (const char *option : {"single_word", "lstrip", "rstrip"})
      if (const Json *v = a.find(option); v && v->boolean)
        return "added token '" + what + "' has " + option + ", which is not supported";
    t.bytes_[size_t(id->integer)] = what;
    t.specials_.emplace_back(what, int32_t(id->integer));
    t.specialStart_[uint8_t(what[0])] = true;
  }
  std::stable_sort(t.specials_.begin(), t.specials_.end(),
                   [](const auto &x, const auto &y) { return x.first.size() > y.first.size(); });
  return "";
}

std::unique_ptr<ByteLevelBPE> ByteLevelBPE::fromJson(const Json &root, std::string &error) {
  std::unique_ptr<ByteLevelBPE> t(new ByteLevelBPE());
  std::unordered_map<std::string_view, int32_t> idOf;
  const Json *model = root.find("model");
  if (!(error = checkModel(root)).empty() || !(error = readPreTokenizer(root, t->split_)).empty() ||
      !(error = readVocab(*model, *t, idOf)).empty() ||
      !(error = readMerges(*model, *t, idOf)).empty() ||
      !(error = readAddedTokens(root, *t)).empty() ||
      !(error = readPostProcessor(root, *t, t->bos_)).empty())
    return nullptr;
  const Json *ignore = model->find("ignore_merges");
  t->ignoreMerges_ = ignore && ignore->boolean;
  if (t->ignoreMerges_)
    for (size_t id = 0; id < t->bytes_.size(); ++id)
      if (!t->isSpecial(int32_t(id)))
        t->wholeToken_.emplace(t->bytes_[id], int32_t(id));
  return t;
}

bool ByteLevelBPE::isSpecial(int32_t id) const {
  return std::any_of(specials_.begin(), specials_.end(),
                     [id](const auto &s) { return s.second == id; });
}

void ByteLevelBPE::encodePiece(std::string_view piece, std::vector<int32_t> &ids) const {
  if (ignoreMerges_) // a pre-token in the vocabulary is its token, merges or not
    if (auto it = wholeToken_.find(std::string(piece)); it != wholeToken_.end()) {
      ids.push_back(it->second);
      return;
    }
  std::vector<int32_t> symbols;
  symbols.reserve(piece.size());
  for (char c : piece) // a byte the vocabulary has no token for is dropped, as Hugging
    if (byteToken_[uint8_t(c)] >= 0) // Face's BPE does without an unknown token
      symbols.push_back(byteToken_[uint8_t(c)]);
  // The pair of lowest rank merges first, the leftmost of equal pairs. Pre-tokens are
  // short (a word, a run of spaces or punctuation), so a scan per merge is enough.
  while (symbols.size() > 1) {
    int32_t bestRank = INT32_MAX, merged = -1;
    size_t at = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      auto it = merges_.find(uint64_t(uint32_t(symbols[i])) << 32 | uint32_t(symbols[i + 1]));
      if (it != merges_.end() && it->second.rank < bestRank) {
        bestRank = it->second.rank;
        merged = it->second.merged;
        at = i;
      }
    }
    if (merged < 0)
      break;
    symbols[at] = merged;
    symbols.erase(symbols.begin() + std::ptrdiff_t(at) + 1);
  }
  ids.insert(ids.end(), symbols.begin(), symbols.end());
}

void ByteLevelBPE::encodeOrdinary(std::string_view text, std::vector<int32_t> &ids) const {
  std::vector<std::string_view> pieces;
  if (split_ == Split::Llama3 || split_ == Split::Qwen2)
    splitLlama3(text, split_ == Split::Llama3 ? 3 : 1, pieces);
  else
    splitGpt2(text, split_ == Split::DigitsThenGpt2, pieces);
  for (std::string_view p : pieces)
    encodePiece(p, ids);
}

std::vector<int32_t> ByteLevelBPE::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  size_t begin = 0;
  for (size_t at = 0; at < text.size(); ++at) {
    if (!specialStart_[uint8_t(text[at])])
      continue;
    // Added tokens are cut out first: the leftmost, and the longest there.
    auto match = std::find_if(specials_.begin(), specials_.end(), [&](const auto &s) {
      return text.compare(at, s.first.size(), s.first) == 0;
    });
    if (match == specials_.end())
      continue;
    encodeOrdinary(text.substr(begin, at - begin), ids);
    ids.push_back(match->second);
    at += match->first.size() - 1;
    begin = at + 1;
  }
  encodeOrdinary(text.substr(begin), ids);
  return ids;
}
