//===- Llama2C.h - Import llama2.c checkpoints ------------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// llama2.c's checkpoint format (Karpathy's run.c "legacy" export): seven int32 fields
// (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a negative vocab
// size means the classifier is stored separately), then fp32 weights grouped by kind across
// layers, each linear stored [out, in]. Rotary pairs are interleaved, theta 10000,
// RMSNorm epsilon 1e-5. This is the format of the embedded default model, stories260K.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_IMPORT_LLAMA2C_H
#define MIDLLAMA_IMPORT_LLAMA2C_H

#include "midllama/Import/DecoderBuilder.h"
#include "runtime/params/ParamFile.h"

#include "llvm/Support/MemoryBuffer.h"

#include <memory>
#include <string>

namespace midllama {

/// A mapped llama2.c checkpoint whose sizes have been checked against its header.
class Llama2CCheckpoint {
public:
  /// On failure returns null and sets `error` to one line naming the file and the problem.
  static std::unique_ptr<Llama2CCheckpoint> open(llvm::StringRef path, std::string &error);

  const DecoderConfig &config() const { return config_; }

  /// Adds every weight, under its Hugging Face name, to `writer` without copying: the
  /// checkpoint must outlive the writer's commit().
  bool addWeights(rt::ParamFileWriter &writer, std::string &error) const;

private:
  Llama2CCheckpoint() = default;
  std::unique_ptr<llvm::MemoryBuffer> buffer_;
  DecoderConfig config_;
  int64_t seqLen_ = 0;
  bool sharedClassifier_ = true;
};

} // namespace midllama

#endif // MIDLLAMA_IMPORT_LLAMA2C_H
