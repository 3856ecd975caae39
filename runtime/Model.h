//===- Model.h - A compiled model, loaded and checked ------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Model::load maps an artifact (runtime/artifact/Program.h), checks its format, version
// and checksum, decodes the program and checks every call against the weight table, the
// slots and the file. Running it is a backend's: the CPU session (runtime/cpu/Session.h)
// or the CUDA executor (runtime/cuda/CudaExecutor.h), both behind runtime/Executor.h.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_MODEL_H
#define MIDLLAMA_RUNTIME_MODEL_H

#include "runtime/artifact/Program.h"
#include "runtime/cpu/Kernels.h"
#include "runtime/params/ParamFile.h"
#include "runtime/support/HugePageArena.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace midllama::rt {

class Model {
public:
  /// Returns null and sets `error` (one line naming the file) if the artifact is missing,
  /// truncated, tampered with, of another version or inconsistent. An artifact compiled
  /// with synthetic weights loads only with `syntheticWeights`, which generates them.
  /// `streamWeights`: the caller will read the weights a layer at a time (calibration), so
  /// each tensor's pages are dropped once checksummed instead of left resident.
  static std::unique_ptr<Model> load(const std::string &path, std::string &error,
                                     bool syntheticWeights = false, bool streamWeights = false);
  /// Whether the weights were generated at load (an artifact compiled with
  /// --synthetic-weights): random values, for speed and memory only.
  bool hasSyntheticWeights() const { return synthetic_; }

  const Program &program() const { return program_; }
  const ParamFile &file() const { return *file_; }
  int64_t vocabSize() const { return vocab_; }
  int64_t maxContext() const { return maxContext_; }
  int64_t numLayers() const { return layers_; }
  int64_t kvWidth() const { return kvWidth_; }
  /// The slot the program leaves the logits in.
  int64_t logitsSlot() const { return logitsSlot_; }
  /// The embedded tokenizer's bytes (empty if none).
  const uint8_t *tokenizerData() const { return tokenizer_ ? tokenizer_->data : nullptr; }
  int64_t tokenizerSize() const { return tokenizer_ ? tokenizer_->numBytes : 0; }
  const cpu::WeightRef &weight(int64_t i) const { return weights_[i]; }
  /// The buffers of scales decoded at load that the weights point into (NF4 absmax): a
  /// backend that copies the weights elsewhere copies these too.
  const std::vector<std::vector<float>> &decodedScales() const { return decoded_; }
  /// Weight bytes by storage type ("F32", "F16", ...), for the report.
  std::vector<std::pair<std::string, int64_t>> weightBytesByType() const;

  /// The index of weight `name` in the program's table, or -1.
  int64_t weightIndex(const std::string &name) const;
  /// Calibration (lib/Calibrate): replaces weight `index` by the row-major fp32 [rows, cols]
  /// `values` (a compressed or rescaled weight as the kernels would see it; rows = 1 for a
  /// vector), held by the model from now on. False if the shape is not the weight's.
  bool replaceWeight(int64_t index, const float *values, int64_t rows, int64_t cols);
  /// Calibration, once a layer will not run again: frees weight `index`'s replacement, so
  /// that memory holds one layer's replacements at a time, not the model's; the weight
  /// reads as loaded again.
  void releaseReplacement(int64_t index);

private:
  Model() = default;
  /// Reads the program's config into the fields below; why it is inconsistent, or empty.
  std::string readConfig();
  /// Whether call `c`'s slots and weights have the widths its kernel assumes.
  bool callFits(const Call &c) const;
  /// Where the CPU has AVX-512: weight `index`'s tiled copy (cpu::packCodeTiles), made as
  /// it is bound (`done`: the weights tiled so far, by codes, so tied ones share theirs).
  bool tilesWanted() const;
  void tileWeight(size_t index, std::map<const uint8_t *, size_t> &done);
  /// Weight `index`, if in panels (fp32/fp16/bf16), copied onto huge pages (`tiles_`) as it
  /// is bound and its pages in the mapping dropped (`done`: by original address, so tied
  /// weights share one copy).
  void movePanels(size_t index, std::map<const uint8_t *, size_t> &done);
  /// A K-quant tiled whole keeps its scale codes' supers only (Model.cpp).
  void dropDecodedScales(cpu::WeightRef &w);
  std::unique_ptr<ParamFile> file_;
  Program program_;
  std::vector<cpu::WeightRef> weights_;
  std::vector<std::vector<float>> decoded_; // scales decoded at load (NF4 absmax: 1/64 of the codes)
  HugePageArena tiles_; // 2- to 8-bit weights tiled at load, panels copied at load
  std::map<int64_t, std::vector<float>> replaced_; // replaceWeight's panels, by weight index
  std::map<int64_t, cpu::WeightRef> loaded_;       // the replaced weights as loaded
  const TensorView *tokenizer_ = nullptr;
  int64_t vocab_ = 0, maxContext_ = 0, layers_ = 0, kvWidth_ = 0, logitsSlot_ = 0;
  bool synthetic_ = false;
  friend class Session;
};

/// One forward step's arguments as every backend takes them: 1 to `maxTokens` tokens per
/// sequence (`count`; `rows` = batch × count ids in `tokens`), positions start..start+count-1
/// within `context`, ids in the model's vocabulary. False with a one-line `error` otherwise.
bool checkStep(const Model &model, const int32_t *tokens, int64_t rows, int64_t count,
               int64_t start, int64_t maxTokens, int64_t context, std::string &error);

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_MODEL_H
