//===- TokenizerTest.cpp - llama2.c tokenizer ---------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Decoding the reference greedy tokens must give the reference text byte for byte; encoding
// must equal llama2.c's own algorithm (a straightforward quadratic re-statement below) and
// round-trip text, including bytes outside the vocabulary.
//
//===----------------------------------------------------------------------===//

#include "runtime/tokenizer/Tokenizer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>

using namespace midllama::rt;

namespace {

std::string source(const std::string &relative) {
  return std::string(MIDLLAMA_SOURCE_DIR) + "/" + relative;
}

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::unique_ptr<Tokenizer> tok512() {
  std::string error;
  auto t = Tokenizer::load(source("models/stories260K/tok512.bin"), error);
  EXPECT_TRUE(t) << error;
  return t;
}

/// llama2.c's encode as it is written there: rescan all pairs after every merge.
std::vector<int32_t> referenceEncode(const Tokenizer &t, const std::string &text) {
  auto find = [&](const std::string &s) {
    for (int32_t i = 0; i < t.vocabSize(); ++i)
      if (t.piece(i) == s)
        return i;
    return -1;
  };
  std::vector<int32_t> ids = {Tokenizer::kBos};
  if (!text.empty())
    ids.push_back(find(" "));
  for (size_t i = 0; i < text.size();) {
    size_t len = 1;
    while (len < 4 && i + len < text.size() && (uint8_t(text[i + len]) & 0xC0) == 0x80)
      ++len;
    int32_t id = find(text.substr(i, len));
    if (id >= 0)
      ids.push_back(id);
    else
      for (size_t k = 0; k < len; ++k)
        ids.push_back(uint8_t(text[i + k]) + 3);
    i += len;
  }
  while (true) {
    float best = -1e10f;
    int32_t bestId = -1, bestAt = -1;
    for (size_t i = 1; i + 1 < ids.size(); ++i) {
      int32_t id = find(t.piece(ids[i]) + t.piece(ids[i + 1]));
      if (id >= 0 && t.score(id) > best) {
        best = t.score(id);
        bestId = id;
        bestAt = int32_t(i);
      }
    }
    if (bestAt < 0)
      break;
    ids[bestAt] = bestId;
    ids.erase(ids.begin() + bestAt + 1);
  }
  return ids;
}

TEST(TokenizerTest, DecodesTheGreedyReferenceExactly) {
  auto t = tok512();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->vocabSize(), 512);
  std::vector<int32_t> ids;
  std::istringstream in(readFile(source("models/stories260K/greedy_from_bos_256.tokens")));
  for (int32_t id; in >> id;)
    ids.push_back(id);
  ASSERT_EQ(ids.size(), 257u);
  EXPECT_EQ(ids[0], Tokenizer::kBos);
  EXPECT_EQ(t->decode(ids), readFile(source("models/stories260K/greedy_from_bos_256.txt")));
}

TEST(TokenizerTest, EncodesLikeLlama2C) {
  auto t = tok512();
  ASSERT_TRUE(t);
  std::string story = readFile(source("models/stories260K/greedy_from_bos_256.txt"));
  for (const std::string &text :
       {std::string("Once upon a time"), std::string("a  b\n\nc"), std::string(""),
        std::string("naïve café – 日本 🙂"), std::string("\x01\xff tail"), story.substr(0, 600)}) {
    std::vector<int32_t> ids = t->encode(text, /*bos=*/true, /*eos=*/false);
    EXPECT_EQ(ids, referenceEncode(*t, text)) << text;
    EXPECT_EQ(t->decode(ids), text);
  }
  std::vector<int32_t> withEos = t->encode("hi", true, true);
  EXPECT_EQ(withEos.back(), Tokenizer::kEos);
}

TEST(TokenizerTest, RoundTripsTheEvaluationText) {
  std::string path = source("data/tinystories/eval.txt");
  std::string text = readFile(path);
  ASSERT_FALSE(text.empty()) << "no " << path;
  auto t = tok512();
  ASSERT_TRUE(t);
  std::vector<int32_t> ids = t->encode(text, true, false);
  EXPECT_EQ(t->decode(ids), text);
  // BPE over 512 pieces compresses English text by about 3 characters per token.
  EXPECT_LT(ids.size(), text.size() / 2);
}

TEST(TokenizerTest, RefusesMalformedFiles) {
  std::string error;
  EXPECT_FALSE(Tokenizer::load("/nonexistent/tok.bin", error));
  EXPECT_EQ(error, "tokenizer '/nonexistent/tok.bin': No such file or directory");

  std::string bytes = readFile(source("models/stories260K/tok512.bin"));
  EXPECT_FALSE(Tokenizer::fromBytes(bytes.substr(0, bytes.size() - 3), "t.bin", error));
  EXPECT_EQ(error, "tokenizer 't.bin': token 511 runs past the end of the file (truncated?)");
  std::string bad = bytes;
  int32_t huge = 1 << 30;
  std::memcpy(&bad[4 + 4], &huge, 4); // token 0's length
  EXPECT_FALSE(Tokenizer::fromBytes(bad, "t.bin", error));
  EXPECT_EQ(error, "tokenizer 't.bin': token 0 has a bad length 1073741824");
  EXPECT_FALSE(Tokenizer::fromBytes(std::string_view("\0\0", 2), "t.bin", error));
  EXPECT_EQ(error, "tokenizer 't.bin': not a llama2.c tokenizer (bad maximum piece length)");
}

} // namespace

namespace {

/// Two tokenizers that must agree piece for piece and on every encoding.
void expectSameTokenizer(const Tokenizer &a, const Tokenizer &b, const std::string &text) {
  ASSERT_EQ(a.vocabSize(), b.vocabSize());
  // Control tokens (0..2) are spelled differently per format (llama2.c writes "\n<s>\n");
  // encoding never produces them.
  for (int32_t i = 3; i < a.vocabSize(); ++i)
    ASSERT_EQ(a.piece(i), b.piece(i)) << "token " << i;
  for (size_t begin = 0; begin < text.size(); begin += text.size() / 7 + 1) {
    std::string part = text.substr(begin, 4000);
    std::vector<int32_t> ids = a.encode(part, true, false);
    ASSERT_EQ(ids, b.encode(part, true, false)) << part.substr(0, 80);
    ASSERT_EQ(b.decode(ids), part);
  }
}

TEST(TokenizerTest, HuggingFaceJsonOfTheFixtureEqualsTok512) {
  std::string error;
  auto json = Tokenizer::load(
      source("test/Import/ONNX/Inputs/stories260K-genai-fp32/tokenizer.json"), error);
  ASSERT_TRUE(json) << error;
  EXPECT_EQ(json->format(), "huggingface");
  auto bin = tok512();
  ASSERT_TRUE(bin);
  EXPECT_EQ(bin->format(), "llama2c");
  std::string story = readFile(source("models/stories260K/greedy_from_bos_256.txt"));
  expectSameTokenizer(*json, *bin, story + " naïve café 日本 🙂 \x01\xff");
}

TEST(TokenizerTest, SentencePieceModelEqualsItsLlama2CExport) {
  // The Llama 2 tokenizer and a WikiText-2 excerpt, committed with their licenses.
  std::string model = source("models/llama2-tokenizer/tokenizer.model");
  ASSERT_FALSE(readFile(model).empty()) << "no " << model;
  std::string error;
  auto sp = Tokenizer::load(model, error);
  ASSERT_TRUE(sp) << error;
  EXPECT_EQ(sp->format(), "sentencepiece");
  EXPECT_EQ(sp->vocabSize(), 32000);
  auto bin = Tokenizer::load(source("models/llama2-tokenizer/tokenizer.bin"), error);
  ASSERT_TRUE(bin) << error;
  std::string text = readFile(source("data/wikitext2/wiki.test.raw")).substr(0, 60000);
  ASSERT_EQ(text.size(), 60000u);
  expectSameTokenizer(*sp, *bin, text + " naïve café 日本 🙂");
}

TEST(TokenizerTest, RefusesOtherKindsOfTokenizerJson) {
  std::string error;
  EXPECT_FALSE(Tokenizer::fromBytes(R"({"model": {"type": "WordPiece"}})", "t.json", error));
  EXPECT_EQ(error, "tokenizer 't.json': only BPE tokenizer.json models are supported");
  EXPECT_FALSE(Tokenizer::fromBytes(R"({"model": {"type": "BPE", "byte_fallback": false}})",
                                    "t.json", error));
  EXPECT_EQ(error, "tokenizer 't.json': only byte-fallback BPE (the LLaMA/SentencePiece kind) "
                   "is supported");
  EXPECT_FALSE(Tokenizer::fromBytes(R"({"model": )", "t.json", error));
  EXPECT_EQ(error.rfind("tokenizer 't.json': ", 0), 0u) << error;
}

// A tokenizer.json from elsewhere is refused, naming the problem, when its bytes are not
// UTF-8, an added token lies outside the vocabulary, or its unk_token is not in it.
TEST(TokenizerTest, RefusesInconsistentTokenizerJson) {
  std::string good =
      readFile(source("test/Import/ONNX/Inputs/stories260K-genai-fp32/tokenizer.json"));
  ASSERT_FALSE(good.empty());
  std::string error;
  ASSERT_TRUE(Tokenizer::fromBytes(good, "t.json", error)) << error;

  auto replaced = [&](const std::string &from, const std::string &to) {
    std::string s = good;
    size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return at == std::string::npos ? s : s.replace(at, from.size(), to);
  };
  // A lone continuation byte inside a piece.
  std::string badUtf8 = replaced("\"<unk>\": 0", "\"<unk\x80>\": 0");
  EXPECT_FALSE(Tokenizer::fromBytes(badUtf8, "t.json", error));
  EXPECT_NE(error.find("tokenizer 't.json': not valid UTF-8 at byte "), std::string::npos)
      << error;
  // An overlong encoding of '/' and a UTF-16 surrogate are not UTF-8 either.
  EXPECT_FALSE(Tokenizer::fromBytes(replaced("\"<unk>\": 0", "\"<unk\xC0\xAF>\": 0"),
                                    "t.json", error));
  EXPECT_FALSE(Tokenizer::fromBytes(replaced("\"<unk>\": 0", "\"<unk\xED\xA0\x80>\": 0"),
                                    "t.json", error));

  EXPECT_FALSE(Tokenizer::fromBytes(replaced("\"id\": 2,", "\"id\": 100000,"), "t.json", error));
  EXPECT_EQ(error, "tokenizer 't.json': added_tokens[2] ('</s>') has id 100000, outside the "
                   "vocabulary's 0..511");

  EXPECT_FALSE(Tokenizer::fromBytes(replaced("\"unk_token\": \"<unk>\"",
                                             "\"unk_token\": \"<nope>\""),
                                    "t.json", error));
  EXPECT_EQ(error, "tokenizer 't.json': unk_token '<nope>' is not in the vocabulary");
}

} // namespace
