//===- ByteLevelBPETest.cpp - GPT-2 byte-level BPE ------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The pre-tokenizer against the GPT-2 regex worked by hand on the cases where its
// alternatives compete, a tiny byte-level tokenizer.json through merges and special tokens,
// and the refusals. The real check against Hugging Face `tokenizers` (every id of two texts)
// is test/runtime/tokenizer/smollm2-bytelevel.test.
//
//===----------------------------------------------------------------------===//

#include "runtime/tokenizer/ByteLevelBPE.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <gtest/gtest.h>

using namespace midllama::rt;

namespace {

std::vector<std::string> pieces(std::string_view text, bool isolateDigits) {
  std::vector<std::string_view> views;
  splitGpt2(text, isolateDigits, views);
  return std::vector<std::string>(views.begin(), views.end());
}

using Pieces = std::vector<std::string>;

TEST(ByteLevelBPETest, SplitsAsTheGpt2Regex) {
  // ' ?\p{L}+': a word takes one space before it.
  EXPECT_EQ(pieces("Hello world", false), (Pieces{"Hello", " world"}));
  // \s+(?!\S): a run of spaces leaves its last to the next word; at the end it stays whole.
  EXPECT_EQ(pieces("a   b  ", false), (Pieces{"a", "  ", " b", "  "}));
  // A newline is not the optional space: it stands alone before a word.
  EXPECT_EQ(pieces("a\n\nb", false), (Pieces{"a", "\n", "\n", "b"}));
  // Contractions first, case-sensitive; an apostrophe otherwise is punctuation.
  EXPECT_EQ(pieces("I'm it'S 'x", false), (Pieces{"I", "'m", " it", "'", "S", " '", "x"}));
  // ' ?\p{N}+' keeps digits together, ' ?[^\s\p{L}\p{N}]+' punctuation runs.
  EXPECT_EQ(pieces("in 2024... (ok)", false),
            (Pieces{"in", " 2024", "...", " (", "ok", ")"}));
  // Letters and numbers beyond ASCII: é is a letter, ² and ٣ are numbers, — is neither.
  EXPECT_EQ(pieces("caf\xC3\xA9 x\xC2\xB2 \xD9\xA3 \xE2\x80\x94", false),
            (Pieces{"caf\xC3\xA9", " x", "\xC2\xB2", " \xD9\xA3", " \xE2\x80\x94"}));
  // A no-break space is a space, but not the optional ' ' before a word.
  EXPECT_EQ(pieces("a\xC2\xA0" "b", false), (Pieces{"a", "\xC2\xA0", "b"}));
  EXPECT_EQ(pieces("", false), Pieces{});
}

TEST(ByteLevelBPETest, IsolatesDigitsFirst) {
  // Digits(individual_digits): each \p{N} a piece, so the space before a number stands
  // alone; the regex then works inside each piece.
  EXPECT_EQ(pieces("in 2024.", true), (Pieces{"in", " ", "2", "0", "2", "4", "."}));
  EXPECT_EQ(pieces("x\xC2\xB2y", true), (Pieces{"x", "\xC2\xB2", "y"}));
}

TEST(ByteLevelBPETest, InvalidUtf8IsPunctuationOfOneByte) {
  EXPECT_EQ(pieces("a\xFF\xFE b", false), (Pieces{"a", "\xFF\xFE", " b"}));
  EXPECT_EQ(pieces("\xC0\xAF", false), (Pieces{"\xC0\xAF"})); // overlong '/'
}

/// A byte-level tokenizer.json: the 256 byte characters (GPT-2's map; all but
/// `missingByte`), the merges "a b", "ab c", "Ġ a" and one special token.
std::string tinyJson(const std::string &preTokenizer, const std::string &extra = "",
                     int missingByte = -1) {
  std::string vocab;
  int id = 0;
  for (int b = 0; b < 256; ++b) {
    if (b == missingByte)
      continue;
    uint32_t cp = b;
    if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)) {
      int n = 0;
      for (int c = 0; c < b; ++c)
        n += !((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || c >= 174);
      cp = 256 + uint32_t(n);
    }
    char buf[16];
    std::snprintf(buf, sizeof buf, "\\u%04X", cp);
    std::string key = cp == '"' ? "\\\"" : cp == '\\' ? "\\\\" : std::string(buf);
    vocab += "\"" + key + "\": " + std::to_string(id++) + ", ";
  }
  vocab += "\"ab\": " + std::to_string(id) + ", \"abc\": " + std::to_string(id + 1) +
           ", \"\\u0120a\": " + std::to_string(id + 2) + ", \"<|end|>\": " +
           std::to_string(id + 3);
  return R"({"normalizer": null, "pre_tokenizer": )" + preTokenizer +
         R"(, "added_tokens": [{"id": )" + std::to_string(id + 3) +
         R"(, "content": "<|end|>", "special": true}], )"
         R"("model": {"type": "BPE", "vocab": {)" + vocab +
         R"(}, "merges": ["a b", ["ab", "c"], "\u0120 a"]})" + extra + "}";
}

const char *kByteLevel =
    R"({"type": "ByteLevel", "add_prefix_space": false, "use_regex": true})";

TEST(ByteLevelBPETest, MergesByRankAndCutsSpecialTokens) {
  std::string error;
  auto t = Tokenizer::fromBytes(tinyJson(kByteLevel), "t.json", error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->format(), "bytelevel");
  EXPECT_EQ(t->vocabSize(), 260);
  // "abc" -> a b c -> ab c -> abc; " a" -> Ġa; "<|end|>" whole; "!" is byte 33 -> id 33.
  EXPECT_EQ(t->encode("abc a<|end|>!", true, true),
            (std::vector<int32_t>{257, 258, 259, '!'}));
  EXPECT_EQ(t->decode({257, 258, 259, '!'}), "abc a<|end|>!");
  EXPECT_TRUE(t->endsText(259));
  EXPECT_FALSE(t->endsText(257));
}

TEST(ByteLevelBPETest, BytesWithoutATokenAreDroppedAndFound) {
  std::string error;
  auto t = Tokenizer::fromBytes(tinyJson(kByteLevel, "", 7), "t.json", error);
  ASSERT_TRUE(t) << error;
  EXPECT_EQ(t->vocabSize(), 259);
  // Byte 7 has no token: Hugging Face's BPE drops it (the pre-tokenizer has split "a",
  // "\a", "b" already, so no merge); firstUnencodable finds it. Ids above 7 moved down one.
  EXPECT_EQ(t->encode("a\ab", false, false), (std::vector<int32_t>{'a' - 1, 'b' - 1}));
  EXPECT_EQ(t->firstUnencodable("ab\a"), 2);
  EXPECT_EQ(t->firstUnencodable("abc a<|end|>"), -1);
  auto full = Tokenizer::fromBytes(tinyJson(kByteLevel), "t.json", error);
  ASSERT_TRUE(full) << error;
  EXPECT_EQ(full->firstUnencodable("ab\a"), -1);
}

TEST(ByteLevelBPETest, RefusesWhatItDoesNotImplement) {
  std::string error;
  auto refused = [&](const std::string &json) {
    error.clear();
    return !Tokenizer::fromBytes(json, "t.json", error);
  };
  EXPECT_TRUE(refused(tinyJson(
      R"({"type": "ByteLevel", "add_prefix_space": true, "use_regex": true})")));
  EXPECT_NE(error.find("pre-tokenizer step 0 ('ByteLevel') is not supported"), std::string::npos)
      << error;
  EXPECT_TRUE(refused(tinyJson(R"({"type": "Sequence", "pretokenizers": [{"type": "Split"}, )" +
                               std::string(kByteLevel) + "]}")));
  EXPECT_NE(error.find("step 0 ('Split')"), std::string::npos) << error;
  std::string bad = tinyJson(kByteLevel);
  bad.replace(bad.find("[\"ab\", \"c\"]"), 11, "[\"ab\", \"zz\"]");
  EXPECT_TRUE(refused(bad));
  EXPECT_NE(error.find("merge 1 ('ab', 'zz') is not of vocabulary tokens"), std::string::npos)
      << error;
  // transformers' "no normalizer" as an empty Sequence is accepted; a real one is not.
  std::string emptySequence = tinyJson(kByteLevel);
  emptySequence.replace(emptySequence.find("\"normalizer\": null"), 18,
                        R"("normalizer": {"type": "Sequence", "normalizers": []})");
  EXPECT_FALSE(refused(emptySequence)) << error;
  std::string nfc = tinyJson(kByteLevel);
  nfc.replace(nfc.find("\"normalizer\": null"), 18, R"("normalizer": {"type": "NFC"})");
  EXPECT_TRUE(refused(nfc));
  EXPECT_NE(error.find("with a normalizer is not supported"), std::string::npos) << error;
  std::string outOfRange = tinyJson(kByteLevel);
  outOfRange.replace(outOfRange.find("\"id\": 259"), 9, "\"id\": 999");
  EXPECT_TRUE(refused(outOfRange));
  EXPECT_NE(error.find("added_tokens[0] ('<|end|>') has no id within"), std::string::npos)
      << error;
}

} // namespace
