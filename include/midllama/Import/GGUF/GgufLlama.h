//===- GgufLlama.h - A llama-architecture GGUF file as a decoder -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// What `midllama-import MODEL.gguf` builds the canonical decoder module from
// (DecoderBuilder.h): the hyper-parameters from the `llama.*` metadata and the weights
// from the tensors, renamed to Hugging Face roles (`blk.3.attn_q.weight` ->
// `model.layers.3.self_attn.q_proj.weight`). llama.cpp's converter permutes the rows of
// q_proj and k_proj of every head (its rotary pairs adjacent dimensions, Hugging Face's
// LLaMA dimensions d and d + head_dim/2); the rows are put back in Hugging Face order, so
// the module uses Hugging Face's rotary and its weights equal the original checkpoint's.
// docs/gguf.md.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_IMPORT_GGUF_GGUFLLAMA_H
#define MIDLLAMA_IMPORT_GGUF_GGUFLLAMA_H

#include "midllama/Import/DecoderBuilder.h"
#include "midllama/Import/GGUF/GgufFile.h"
#include "runtime/params/ParamFile.h"

#include <string>
#include <vector>

namespace midllama::gguf {

/// The decoder configuration of `file` (architecture `llama`), weight and activation types
/// left unset. False with `error` naming the file and the key or tensor when a required
/// key is missing or of the wrong type, a value is out of range, or the model uses what
/// the decoder does not implement (rope scaling, experts, other head sizes).
bool llamaConfig(const GgufFile &file, DecoderConfig &config, std::string &error);

/// One decoder weight of a GGUF file: its tensor, its Hugging Face name and [rows, cols]
/// (cols only for vectors), and the head count of a q/k projection whose rows llama.cpp
/// permuted (0 otherwise).
struct LlamaWeight {
  const TensorInfo *tensor = nullptr;
  std::string name;
  std::vector<int64_t> shape;
  int64_t permutedHeads = 0;
};

/// The decoder weights of `file` for `config`. False with `error` when a tensor is
/// missing, has another shape than `config` implies, is of a type neither kept nor
/// dequantized, or is not part of the decoder.
bool planLlamaWeights(const GgufFile &file, const DecoderConfig &config,
                      std::vector<LlamaWeight> &weights, std::string &error);

/// How the weights are stored: as the file stores them where midllama has the format, or
/// every weight dequantized to dense fp32 (what the compression passes rewrite) or to
/// dense fp16 (the "base fp16" model: dequantized in fp32, then rounded to half).
enum class GgufStorage { Kept, F32, F16 };

/// Sets `config.weightTypes`: with GgufStorage::Kept each weight keeps its GGUF storage
/// (GgmlRepack.h: F32, F16, BF16 dense; Q8_0 and Q4_0 as `#llm.affine`, Q4_1 as
/// `#llm.affine_min`, fp16 scales) unless the type is not kept (then dense fp32); with F32
/// every weight is dense fp32, with F16 dense fp16.
void setLlamaWeightTypes(mlir::MLIRContext *context, const std::vector<LlamaWeight> &weights,
                         GgufStorage storage, DecoderConfig &config);

/// Adds the weights to `writer` as setLlamaWeightTypes declared them (same `storage`),
/// generated at commit time one tensor at a time, q/k rows in Hugging Face order.
bool addLlamaWeights(const std::vector<LlamaWeight> &weights, const DecoderConfig &config,
                     GgufStorage storage, rt::ParamFileWriter &writer, std::string &error);

} // namespace midllama::gguf

#endif // MIDLLAMA_IMPORT_GGUF_GGUFLLAMA_H
