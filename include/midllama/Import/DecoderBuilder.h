//===- DecoderBuilder.h - Emit the llm IR of a LLaMA decoder ----*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Importers that know a model's hyper-parameters (llama2.c checkpoints; ONNX exports once
// raised) emit the same canonical module through this builder, so passes and the compiler
// see one shape of IR whatever the source. Parameter names follow Hugging Face LLaMA
// (`model.layers.0.self_attn.q_proj.weight`), the names users write recipes against.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_IMPORT_DECODERBUILDER_H
#define MIDLLAMA_IMPORT_DECODERBUILDER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <map>
#include <string>

namespace midllama {

struct DecoderConfig {
  int64_t vocabSize = 0;
  int64_t hiddenSize = 0;       // model dim
  int64_t intermediateSize = 0; // FFN dim
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numKvHeads = 0;
  int64_t headDim = 0;
  int64_t maxPositions = 0;     // context length the model was trained for
  double ropeTheta = 10000.0;
  int64_t rotaryDim = 0;        // 0: the whole head
  bool ropeInterleaved = false; // pairs (2i, 2i+1) instead of (i, i + d/2)
  double rmsNormEps = 1e-5;
  bool tiedEmbeddings = false;  // LM head reads the embedding table
  mlir::Type weightType;        // f32/f16/bf16 storage of the dense weights
  /// Weights stored otherwise (an `!llm.weight` type of the same shape, e.g. quantized as
  /// the source file holds them), by parameter name.
  std::map<std::string, mlir::Type> weightTypes;
  mlir::Type activationType;    // element type of activations
  /// The weights are kept in formats their source computes with int8 activations (ggml's
  /// quantized blocks, multiplied by llama.cpp with Q8-quantized activations): the
  /// module says so (LLMDialect::kActivationsAttrName) and the runtime follows by default.
  bool int8Activations = false;

  /// Returns an empty string if the configuration is consistent, else what is wrong.
  std::string validate() const;
};

/// Hugging Face parameter names.
namespace param_names {
std::string embedTokens();
std::string finalNorm();
std::string lmHead();
/// `what` is one of input_layernorm, post_attention_layernorm, q_proj, k_proj, v_proj,
/// o_proj, gate_proj, up_proj, down_proj.
std::string layer(int64_t layer, llvm::StringRef what);
} // namespace param_names

/// Builds `module attributes {llm.param_file = paramFile}` with one dense `llm.param` per
/// weight and `func.func @forward(tokens [B,S] i32, positions [B,S] i64, then past key and
/// value [B, kv_heads, P, head_dim] per layer) -> (logits [B,S,vocab], then present key and
/// value per layer)`, one `llm.decoder_layer` per layer.
mlir::OwningOpRef<mlir::ModuleOp> buildDecoderModule(mlir::MLIRContext *context,
                                                     const DecoderConfig &config,
                                                     llvm::StringRef paramFile,
                                                     mlir::Location loc);

} // namespace midllama

#endif // MIDLLAMA_IMPORT_DECODERBUILDER_H
