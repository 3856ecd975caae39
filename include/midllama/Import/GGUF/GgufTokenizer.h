//===- GgufTokenizer.h - A GGUF file's tokenizer as tokenizer.json -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// llama.cpp keeps the tokenizer in the GGUF metadata (`tokenizer.ggml.*`). A GPT-2-style
// one (`tokenizer.ggml.model` = "gpt2": byte-level BPE) is written out as the Hugging Face
// tokenizer.json it was converted from, byte for byte as `tokenizers` serializes it:
// vocabulary by id, merges as pairs, the control tokens (type 3) as special added tokens,
// user-defined ones (type 4) as plain added tokens, and the pre-tokenizer that
// `tokenizer.ggml.pre` names. midllama-compile then embeds it as it embeds an export's
// tokenizer.json (runtime/tokenizer/ByteLevelBPE.h reads it). A SentencePiece one
// ("llama": pieces with scores, LLaMA 1/2's kind) is written as the llama2.c tokenizer.bin
// of the same vocabulary. docs/gguf.md.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_IMPORT_GGUF_GGUFTOKENIZER_H
#define MIDLLAMA_IMPORT_GGUF_GGUFTOKENIZER_H

#include "midllama/Import/GGUF/GgufFile.h"

#include <string>

namespace midllama::gguf {

enum class TokenizerStatus { Written, Absent, Unsupported };

/// The tokenizer.json of `file` into `json` (Written); Absent when the file holds no
/// tokenizer; Unsupported, with `why`, for a kind not read by it (SentencePiece `llama`:
/// tokenizerFile; a pre-tokenizer other than GPT-2's with or without single digits) or
/// inconsistent metadata.
TokenizerStatus tokenizerJson(const GgufFile &file, std::string &json, std::string &why);

/// The tokenizer file of `file`, whichever kind it holds: a GPT-2-style one as
/// tokenizerJson's tokenizer.json, a SentencePiece one (`tokenizer.ggml.model` = "llama")
/// as a llama2.c tokenizer.bin (pieces and scores; the runtime's SentencePiece encoder
/// reads it). `fileName` gets the file's conventional name.
TokenizerStatus tokenizerFile(const GgufFile &file, std::string &contents,
                              std::string &fileName, std::string &why);

} // namespace midllama::gguf

#endif // MIDLLAMA_IMPORT_GGUF_GGUFTOKENIZER_H
