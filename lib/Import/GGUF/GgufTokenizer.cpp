//===- GgufTokenizer.cpp - A GGUF file's tokenizer as tokenizer.json ------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Import/GGUF/GgufTokenizer.h"

#include "runtime/tokenizer/Llama3Split.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <vector>

using namespace midllama;
using namespace midllama::gguf;

namespace {

/// `s` as a JSON string the way serde_json writes it: quotes, backslashes and control
/// characters escaped, everything else (UTF-8) as it is.
void appendQuoted(std::string &out, const std::string &s) {
  out += '"';
  for (char c : s) {
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\b': out += "\\b"; break;
    case '\f': out += "\\f"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    default:
      if (uint8_t(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(uint8_t(c)));
        out += buf;
      } else {
        out += c;
      }
    }
  }
  out += '"';
}

/// What llama.cpp's pre-tokenizer type `pre` stands for (llama-vocab.cpp lists each
/// type's regex): the tokenizer.json pre-tokenizer ("" when not read yet), whether its
/// BPE ignores merges for whole-vocabulary pre-tokens, and whether its tokenizer adds a
/// BOS when the GGUF does not say.
struct PreType {
  std::string json;
  bool ignoreMerges = false, addBos = false;
};
PreType preTokenizerFor(const std::string &pre) {
  const std::string byteLevel =
      R"({"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true})";
  static const std::set<std::string> digitsThenGpt2 = {"smollm", "starcoder", "refact",
                                                       "codeshell"};
  static const std::set<std::string> gpt2 = {"gpt2", "mpt", "olmo", "jais"};
  static const std::set<std::string> llama3 = {"llama3", "llama-v3", "llama-bpe", "falcon3",
                                               "pixtral"};
  static const std::set<std::string> qwen2 = {"qwen2", "deepseek-r1-qwen", "megrez"};
  if (digitsThenGpt2.count(pre))
    return {R"({"type":"Sequence","pretokenizers":[{"type":"Digits","individual_digits":true},)" +
            byteLevel + "]}"};
  if (gpt2.count(pre))
    return {byteLevel};
  if (!llama3.count(pre) && !qwen2.count(pre))
    return {};
  std::string json = R"({"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":)";
  appendQuoted(json, llama3.count(pre) ? rt::kLlama3SplitRegex : rt::kQwen2SplitRegex);
  json += R"(},"behavior":"Isolated","invert":false},{"type":"ByteLevel",)"
          R"("add_prefix_space":false,"trim_offsets":true,"use_regex":false}]})";
  // llama.cpp: the Llama 3 types ignore merges and add a BOS by default; Qwen2's neither.
  return {json, llama3.count(pre) > 0, llama3.count(pre) > 0};
}

/// A post-processor that puts token `bos` (its text `content`) before every text, as
/// Llama 3's tokenizer.json does, or GPT-2's ByteLevel one when `bos` < 0.
std::string postProcessorJson(int64_t bos, const std::string &content) {
  const std::string byteLevel = R"({"type":"ByteLevel","add_prefix_space":true,)"
                                R"("trim_offsets":false,"use_regex":true})";
  if (bos < 0)
    return byteLevel;
  std::string token;
  appendQuoted(token, content);
  std::string special = R"({"SpecialToken":{"id":)" + token + R"(,"type_id":0}})";
  return R"({"type":"Sequence","processors":[)" + byteLevel +
         R"(,{"type":"TemplateProcessing","single":[)" + special +
         R"(,{"Sequence":{"id":"A","type_id":0}}],"pair":[)" + special +
         R"(,{"Sequence":{"id":"A","type_id":0}},{"Sequence":{"id":"B","type_id":1}}],)"
         R"("special_tokens":{)" + token + R"(:{"id":)" + token + R"(,"ids":[)" +
         std::to_string(bos) + R"(],"tokens":[)" + token + "]}}}]}";
}

/// The BOS token the tokenizer puts before every text, -1 for none: when
/// tokenizer.ggml.add_bos_token says so, else when llama.cpp adds one for this type. False
/// with `why` when one is to be added but bos_token_id does not name a control token.
bool bosToAdd(const GgufFile &file, const PreType &preType, const Value &tokens,
              const Value *types, int64_t &bos, std::string &why) {
  bool addBos = preType.addBos;
  if (const Value *v = file.find("tokenizer.ggml.add_bos_token")) {
    if (v->type != ValueType::Bool) {
      why = "tokenizer.ggml.add_bos_token is not a boolean";
      return false;
    }
    addBos = v->u != 0;
  }
  bos = -1;
  if (!addBos)
    return true;
  std::string error;
  if (!file.getInt("tokenizer.ggml.bos_token_id", bos, error) || bos < 0 ||
      bos >= int64_t(tokens.strings.size()) || !types || types->ints[size_t(bos)] != 3) {
    why = "the tokenizer adds a BOS but tokenizer.ggml.bos_token_id is missing, out of range "
          "or not a control token";
    return false;
  }
  return true;
}

/// The merges "a b" as tokenizers writes them, pairs ["a","b"]; false with `why` for one
/// that is not two tokens separated by one space.
bool appendMerges(std::string &json, const std::vector<std::string> &merges, std::string &why) {
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string &m = merges[i];
    size_t space = m.find(' ');
    if (space == std::string::npos || m.find(' ', space + 1) != std::string::npos) {
      why = "tokenizer.ggml.merges[" + std::to_string(i) + "] ('" + m +
            "') is not two tokens separated by one space";
      return false;
    }
    json += i ? ",[" : "[";
    appendQuoted(json, m.substr(0, space));
    json += ",";
    appendQuoted(json, m.substr(space + 1));
    json += "]";
  }
  return true;
}

/// A SentencePiece (`llama`) tokenizer as the llama2.c tokenizer.bin that llama2.c's own
/// export writes: an int32 maximum piece length, then per token an fp32 score, an int32
/// length and the piece, U+2581 written as a space and <s>, </s> as "\n<s>\n",
/// "\n</s>\n". Only the layout the runtime's SentencePiece encoder assumes is accepted:
/// <unk>, <s>, </s> at 0, 1, 2 and the 256 byte pieces <0x00>..<0xFF> at 3..258.
TokenizerStatus sentencePieceBin(const GgufFile &file, std::string &bin, std::string &why) {
  auto unsupported = [&](const std::string &reason) {
    why = "SentencePiece tokenizer: " + reason;
    return TokenizerStatus::Unsupported;
  };
  const Value *tokens = file.find("tokenizer.ggml.tokens");
  const Value *scores = file.find("tokenizer.ggml.scores");
  if (!tokens || tokens->type != ValueType::Array || tokens->elementType != ValueType::String ||
      tokens->strings.size() < 259)
    return unsupported("tokenizer.ggml.tokens is missing, not a string array, or shorter "
                       "than the 3 control and 256 byte pieces");
  if (!scores || scores->type != ValueType::Array ||
      scores->floats.size() != tokens->strings.size())
    return unsupported("tokenizer.ggml.scores does not give one float score per token");
  const char *ids[3] = {"tokenizer.ggml.unknown_token_id", "tokenizer.ggml.bos_token_id",
                        "tokenizer.ggml.eos_token_id"};
  for (int64_t i = 0; i < 3; ++i) { // each, when given, where the LLaMA layout has it
    int64_t id = 0;
    std::string ignored;
    if (file.find(ids[i]) && (!file.getInt(ids[i], id, ignored) || id != i))
      return unsupported(std::string(ids[i]) + " is not " + std::to_string(i) +
                         " (only the LLaMA layout <unk>, <s>, </s> = 0, 1, 2 is read)");
  }
  for (int b = 0; b < 256; ++b) {
    char piece[8];
    std::snprintf(piece, sizeof piece, "<0x%02X>", b);
    if (tokens->strings[size_t(3 + b)] != piece)
      return unsupported("token " + std::to_string(3 + b) + " is not the byte piece " + piece +
                         " (only the LLaMA layout with byte fallback is read)");
  }
  const std::string marker = "\xe2\x96\x81"; // U+2581, SentencePiece's word marker
  std::vector<std::string> pieces;
  int32_t longest = 1;
  for (size_t id = 0; id < tokens->strings.size(); ++id) {
    std::string p = id == 1 ? "\n<s>\n" : id == 2 ? "\n</s>\n" : tokens->strings[id];
    for (size_t at = p.find(marker); at != std::string::npos; at = p.find(marker, at + 1))
      p.replace(at, marker.size(), " ");
    if (p.size() > 4096)
      return unsupported("token " + std::to_string(id) + " is longer than 4096 bytes");
    longest = std::max(longest, int32_t(p.size()));
    pieces.push_back(std::move(p));
  }
  auto put = [&](const void *v) { bin.append(static_cast<const char *>(v), 4); };
  bin.clear();
  put(&longest);
  for (size_t id = 0; id < pieces.size(); ++id) {
    float score = float(scores->floats[id]);
    int32_t length = int32_t(pieces[id].size());
    put(&score);
    put(&length);
    bin += pieces[id];
  }
  return TokenizerStatus::Written;
}

} // namespace

TokenizerStatus midllama::gguf::tokenizerFile(const GgufFile &file, std::string &contents,
                                              std::string &fileName, std::string &why) {
  const Value *model = file.find("tokenizer.ggml.model");
  if (!model)
    return TokenizerStatus::Absent;
  if (model->type == ValueType::String && model->string == "llama") {
    fileName = "tokenizer.bin";
    return sentencePieceBin(file, contents, why);
  }
  fileName = "tokenizer.json";
  return tokenizerJson(file, contents, why);
}

TokenizerStatus midllama::gguf::tokenizerJson(const GgufFile &file, std::string &json,
                                              std::string &why) {
  const Value *model = file.find("tokenizer.ggml.model");
  if (!model)
    return TokenizerStatus::Absent;
  auto unsupported = [&](const std::string &reason) {
    why = reason;
    return TokenizerStatus::Unsupported;
  };
  if (model->type != ValueType::String || model->string != "gpt2")
    return unsupported("tokenizer.ggml.model '" + model->string +
                       "' is not read yet (gpt2, byte-level BPE, and llama, SentencePiece, "
                       "are)");
  const Value *pre = file.find("tokenizer.ggml.pre");
  std::string preName = pre && pre->type == ValueType::String ? pre->string : "(none)";
  PreType preType = preTokenizerFor(preName);
  if (preType.json.empty())
    return unsupported("tokenizer.ggml.pre '" + preName +
                       "' is not read yet (smollm, gpt2, llama-bpe, qwen2 and their likes "
                       "are)");
  const Value *tokens = file.find("tokenizer.ggml.tokens");
  const Value *merges = file.find("tokenizer.ggml.merges");
  const Value *types = file.find("tokenizer.ggml.token_type");
  if (!tokens || tokens->type != ValueType::Array || tokens->elementType != ValueType::String ||
      tokens->strings.empty() || !merges || merges->type != ValueType::Array ||
      merges->elementType != ValueType::String)
    return unsupported("tokenizer.ggml.tokens or .merges is missing or not a string array");
  if (types && (types->type != ValueType::Array || types->ints.size() != tokens->strings.size()))
    return unsupported("tokenizer.ggml.token_type does not give one type per token");
  int64_t bos = -1;
  if (!bosToAdd(file, preType, *tokens, types, bos, why))
    return TokenizerStatus::Unsupported;

  json = R"({"version":"1.0","truncation":null,"padding":null,"added_tokens":[)";
  bool first = true;
  for (size_t id = 0; types && id < types->ints.size(); ++id) {
    int64_t type = types->ints[id];
    if (type != 3 && type != 4) // control and user-defined tokens are added tokens
      continue;
    json += first ? "" : ",";
    first = false;
    json += R"({"id":)" + std::to_string(id) + R"(,"content":)";
    appendQuoted(json, tokens->strings[id]);
    json += R"(,"single_word":false,"lstrip":false,"rstrip":false,"normalized":false,)";
    json += type == 3 ? R"("special":true})" : R"("special":false})";
  }
  json += R"(],"normalizer":null,"pre_tokenizer":)" + preType.json;
  json += R"(,"post_processor":)" +
          postProcessorJson(bos, bos >= 0 ? tokens->strings[size_t(bos)] : "");
  json += R"(,"decoder":{"type":"ByteLevel","add_prefix_space":true,)"
          R"("trim_offsets":true,"use_regex":true},"model":{"type":"BPE","dropout":null,)"
          R"("unk_token":null,"continuing_subword_prefix":null,"end_of_word_suffix":null,)"
          R"("fuse_unk":false,"byte_fallback":false,"ignore_merges":)";
  json += preType.ignoreMerges ? "true" : "false";
  json += R"(,"vocab":{)";
  for (size_t id = 0; id < tokens->strings.size(); ++id) {
    json += id ? "," : "";
    appendQuoted(json, tokens->strings[id]);
    json += ":" + std::to_string(id);
  }
  json += R"(},"merges":[)";
  if (!appendMerges(json, merges->strings, why))
    return TokenizerStatus::Unsupported;
  json += "]}}";
  return TokenizerStatus::Written;
}
