//===- Model.cpp - A compiled model, loaded and checked -------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/Model.h"

#include "runtime/SyntheticWeights.h"
#include "runtime/cpu/Kernels.h"
#include "runtime/format/BindWeight.h"
#include "runtime/format/Components.h"

#include <algorithm>
#include <cstring>
#include <cstdio>
#include <map>

using namespace midllama::rt;

/// Why `file` is not an intact artifact this runtime reads (format, version, checksum),
/// or empty. `dropPages`: hand each tensor's pages back once hashed.
static std::string headerProblem(const ParamFile &file, bool dropPages) {
  const auto &meta = file.metadata();
  auto get = [&](const char *key) {
    auto it = meta.find(key);
    return it == meta.end() ? std::string() : it->second;
  };
  if (get("artifact") != kArtifactFormat)
    return "not a compiled midllama model (a parameter file?); compile it with "
           "midllama-compile";
  if (get("artifact_version") != std::to_string(kArtifactVersion))
    return "artifact version " + get("artifact_version") + ", this runtime reads version " +
           std::to_string(kArtifactVersion) + "; recompile it";
  uint64_t checksum = 0xcbf29ce484222325ull;
  for (const TensorView &t : file.tensors()) {
    checksum = contentHash(t.data, size_t(t.numBytes), checksum);
    if (dropPages)
      file.evict(t);
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", (unsigned long long)checksum);
  if (get("checksum") != hex)
    return "checksum mismatch (the file was modified or damaged after compilation)";
  return {};
}

std::unique_ptr<Model> Model::load(const std::string &path, std::string &error,
                                   bool syntheticWeights, bool streamWeights) {
  std::unique_ptr<Model> m(new Model());
  m->file_ = ParamFile::open(path, error, "artifact");
  if (!m->file_)
    return nullptr;
  auto fail = [&](const std::string &why) {
    error = "artifact '" + path + "': " + why;
    return nullptr;
  };
  if (std::string why = headerProblem(*m->file_, streamWeights); !why.empty())
    return fail(why);
  const TensorView *code = m->file_->find(kProgramTensor);
  if (!code)
    return fail("no program");
  Program &prog = m->program_;
  if (!prog.decode(code->data, size_t(code->numBytes), error))
    return fail(error);
  if (const TensorView *manifest = m->file_->find(kSyntheticWeightsTensor)) {
    if (!syntheticWeights)
      return fail("compiled with --synthetic-weights (no weights inside): run it with "
                  "--synthetic-weights, for speed and memory only");
    TensorView copy = *manifest; // the table grows as the weights are added
    if (!synthesizeWeights(*m->file_, copy, prog, error)) // pruned weights' structure too
      return fail(error);
    m->synthetic_ = true;
  }
  m->tokenizer_ = m->file_->find(kTokenizerTensor);

  m->decoded_.reserve(prog.weights.size()); // stable addresses for the WeightRefs
  m->weights_.reserve(prog.weights.size());
  const bool tile = m->tilesWanted();
  // Streamed (calibration reads the model a layer at a time from the file) and GPU
  // artifacts keep their panels in the mapping; synthetic weights are not in it anyway.
  const bool hugePanels = !streamWeights && !m->file_->find(kCudaKernelsTensor);
  std::map<const uint8_t *, size_t> tiled, moved;
  for (const WeightInfo &info : prog.weights) {
    cpu::WeightRef ref;
    std::vector<float> decoded;
    std::string why;
    if (!bindWeight(*m->file_, info, ref, decoded, why))
      return fail("weight '" + info.name + "' " + why);
    if (!decoded.empty()) // moved, not copied: `ref` keeps pointing at the same floats
      m->decoded_.push_back(std::move(decoded));
    m->weights_.push_back(ref);
    if (tile)
      m->tileWeight(m->weights_.size() - 1, tiled);
    if (hugePanels)
      m->movePanels(m->weights_.size() - 1, moved);
  }
  if (std::string why = m->readConfig(); !why.empty())
    return fail("inconsistent model configuration: " + why);
  for (size_t i = 0; i < prog.calls.size(); ++i)
    if (!m->callFits(prog.calls[i]))
      return fail("call " + std::to_string(i) + " (" + opName(prog.calls[i].op) +
                  ") does not fit its slots and weights");
  return m;
}

bool Model::tilesWanted() const {
  // Where the CPU has AVX-512 the 2- to 8-bit kernels read tiled copies (CodeTiles.cpp);
  // the pages of the originals they replace are dropped right after each copy, so the
  // weights are not held twice (an embedding lookup re-reads its few rows from the file).
  // A GPU artifact runs its own kernels on the device from the row-major weights: tiles
  // would only add host memory (its CPU fallback reads the rows as stored).
  return cpu::codeTilesWanted() && !file_->find(kCudaKernelsTensor);
}

void Model::tileWeight(size_t index, std::map<const uint8_t *, size_t> &done) {
  // Called as each weight is bound, so that what tiling drops (the originals' pages, a
  // K-quant's decoded scales) is never held for every weight at once.
  cpu::WeightRef &w = weights_[index];
  if (!cpu::codeTilesApply(w))
    return;
  auto it = done.find(w.codes); // a weight bound twice (tied) is tiled once
  if (it != done.end() && weights_[it->second].rows == w.rows &&
      weights_[it->second].codeRowBytes == w.codeRowBytes &&
      weights_[it->second].groupSize == w.groupSize) {
    const cpu::WeightRef &first = weights_[it->second];
    w.tileCodes = first.tileCodes;
    w.tileScales = first.tileScales;
    w.tileOffsets = first.tileOffsets;
    w.tileScaleSupers = first.tileScaleSupers;
    w.tileOffsetSupers = first.tileOffsetSupers;
    dropDecodedScales(w);
    return;
  }
  // Weights held in memory (generated at load: --synthetic-weights) stay row-major: their
  // bytes cannot be dropped, and a copy would double what the report measures.
  if (!file_->inMapping(w.codes, 1))
    return;
  const cpu::CodeTileBytes original =
      cpu::packCodeTiles(w, [&](size_t bytes) { return tiles_.allocate(bytes); });
  if (!w.tileCodes)
    return; // no memory for the tiles: the weight is read as stored
  for (const cpu::ByteRange &range : {original.codes, original.scales, original.offsets})
    file_->evictRange(range.data, range.bytes);
  done[w.codes] = index;
  dropDecodedScales(w);
}

void Model::movePanels(size_t index, std::map<const uint8_t *, size_t> &done) {
  // Decode streams every panel once per token: from the file's mapping (4 KiB pages, where
  // the prefetchers stop at every page) SmolLM2 F32 decoded at 38.8 tok/s, from huge pages
  // at 48.0. One weight at a time, the original's pages dropped as it is copied.
  cpu::WeightRef &w = weights_[index];
  if (!w.panels)
    return;
  const uint8_t *from = static_cast<const uint8_t *>(w.data);
  if (auto it = done.find(from); it != done.end()) { // tied: one copy
    w.data = weights_[it->second].data;
    return;
  }
  const size_t bytes =
      size_t((w.rows + 15) / 16 * 16) * size_t(w.cols) * size_t(dtypeSize(w.dtype));
  if (!file_->inMapping(from, bytes))
    return;
  uint8_t *to = tiles_.allocate(bytes);
  if (!to)
    return; // no memory: read from the mapping
  constexpr size_t kStep = size_t(8) << 20;
  for (size_t at = 0; at < bytes; at += kStep) {
    const size_t n = std::min(kStep, bytes - at);
    std::memcpy(to + at, from + at, n);
    file_->evictRange(from + at, n);
  }
  w.data = to;
  done[from] = index;
}

void Model::dropDecodedScales(cpu::WeightRef &w) {
  // A K-quant tiled whole: no kernel reads its fp32 scales (2 bits per weight for Q4_K)
  // any more, and an embedding lookup decodes its few rows from the codes (scaleAt): keep
  // only the supers.
  if (!w.scaleBlock || !w.tileCodes || w.rows % 16 != 0 || !w.scales)
    return;
  for (std::vector<float> &buffer : decoded_) {
    if (buffer.data() != w.scales)
      continue;
    const float *supers = w.scaleSupers;
    const size_t count = size_t(buffer.data() + buffer.size() - supers);
    std::vector<float> kept(supers, supers + count);
    const size_t minsAt = w.minSupers ? size_t(w.minSupers - supers) : 0;
    buffer = std::move(kept); // its floats stay where `kept` put them
    w.scaleSupers = buffer.data();
    w.minSupers = w.minCodes ? buffer.data() + minsAt : nullptr;
    w.scales = w.mins = nullptr;
    return;
  }
}

std::string Model::readConfig() {
  const Program &prog = program_;
  vocab_ = prog.configInt("vocab_size", 0);
  maxContext_ = prog.configInt("max_context", 0);
  layers_ = prog.configInt("num_layers", 0);
  kvWidth_ = prog.configInt("num_kv_heads", 0) * prog.configInt("head_dim", 0);
  logitsSlot_ = prog.configInt("logits_slot", -1);
  int64_t slots = int64_t(prog.slotWidths.size());
  // Each problem named with its field and values: "inconsistent" alone says nothing about
  // which of a dozen numbers disagree.
  if (vocab_ <= 0)
    return "vocab_size is " + std::to_string(vocab_) + " (must be positive)";
  if (maxContext_ <= 0 || maxContext_ > (int64_t(1) << 24))
    return "max_context is " + std::to_string(maxContext_) + " (must be 1 to 16777216)";
  if (layers_ <= 0)
    return "num_layers is " + std::to_string(layers_) + " (must be positive)";
  if (kvWidth_ <= 0)
    return "num_kv_heads x head_dim is " + std::to_string(prog.configInt("num_kv_heads", 0)) +
           " x " + std::to_string(prog.configInt("head_dim", 0)) + " (must be positive)";
  if (logitsSlot_ < 0 || logitsSlot_ >= slots)
    return "logits_slot is " + std::to_string(logitsSlot_) + ", but the program has " +
           std::to_string(slots) + " slots";
  if (prog.slotWidths[size_t(logitsSlot_)] != vocab_)
    return "logits slot " + std::to_string(logitsSlot_) + " is " +
           std::to_string(prog.slotWidths[size_t(logitsSlot_)]) + " wide, but vocab_size is " +
           std::to_string(vocab_);
  return {};
}

bool Model::callFits(const Call &c) const {
  // Every call's slots and weights (in range: Program::decode) have the widths its kernel
  // assumes.
  auto width = [&](int64_t s) { return program_.slotWidths[size_t(s)]; };
  auto w = [&](int64_t i) -> const cpu::WeightRef & { return weights_[size_t(i)]; };
  auto sameWidth = [&](std::initializer_list<int64_t> slotList) {
    for (int64_t s : slotList)
      if (width(s) <= 0 || width(s) != width(*slotList.begin()))
        return false;
    return true;
  };
  switch (c.op) {
  case OpCode::Embed: {
    auto e = calls::Embed::decode(c);
    return w(e.table).rows == vocab_ && width(e.out) == w(e.table).cols;
  }
  case OpCode::RMSNorm: {
    auto n = calls::RMSNorm::decode(c);
    return width(n.in) == w(n.weight).cols && width(n.out) == width(n.in);
  }
  case OpCode::AddRMSNorm: {
    auto n = calls::AddRMSNorm::decode(c);
    return width(n.in) == w(n.weight).cols && width(n.residual) == width(n.in) &&
           width(n.sum) == width(n.in) && width(n.out) == width(n.in);
  }
  case OpCode::MatMul: {
    auto mm = calls::MatMul::decode(c);
    return width(mm.in) == w(mm.weight).cols && width(mm.out) == w(mm.weight).rows;
  }
  case OpCode::GateUpSwiGLU: {
    auto g = calls::GateUpSwiGLU::decode(c);
    return width(g.in) == w(g.gate).cols && width(g.out) == w(g.gate).rows &&
           w(g.up).rows == w(g.gate).rows && w(g.up).cols == w(g.gate).cols;
  }
  case OpCode::SwiGLU: {
    auto g = calls::SwiGLU::decode(c);
    return sameWidth({g.gate, g.up, g.out});
  }
  case OpCode::Add: {
    auto x = calls::Add::decode(c);
    return sameWidth({x.lhs, x.rhs, x.out});
  }
  case OpCode::Mul: {
    auto x = calls::Mul::decode(c);
    return sameWidth({x.lhs, x.rhs, x.out});
  }
  case OpCode::SiLU: {
    auto u = calls::SiLU::decode(c);
    return width(u.in) > 0 && width(u.out) == width(u.in);
  }
  case OpCode::Attention: {
    auto at = calls::Attention::decode(c);
    int64_t d = at.headDim;
    return at.layer >= 0 && at.layer < layers_ && at.heads > 0 && at.kvHeads > 0 &&
           at.heads % at.kvHeads == 0 && d > 0 && at.kvHeads * d == kvWidth_ &&
           width(at.q) == at.heads * d && width(at.k) == at.kvHeads * d &&
           width(at.v) == at.kvHeads * d && width(at.out) == at.heads * d &&
           at.rotaryDim >= 0 && at.rotaryDim <= d && at.rotaryDim % 2 == 0;
  }
  }
  return false;
}

std::vector<std::pair<std::string, int64_t>> Model::weightBytesByType() const {
  std::map<std::string, int64_t> bytes;
  for (const WeightInfo &info : program_.weights) {
    std::string key = formatName(info.format, info.dtype, info.sparsity);
    for (const Component &c : componentsOf(info, 0)) // index tensors counted: the bytes are real
      if (const TensorView *t = file_->find(info.name + c.suffix))
        bytes[key] += t->numBytes;
  }
  return {bytes.begin(), bytes.end()};
}

int64_t Model::weightIndex(const std::string &name) const {
  for (size_t i = 0; i < program_.weights.size(); ++i)
    if (program_.weights[i].name == name)
      return int64_t(i);
  return -1;
}

bool Model::replaceWeight(int64_t index, const float *values, int64_t rows, int64_t cols) {
  if (index < 0 || index >= int64_t(weights_.size()))
    return false;
  const std::vector<int64_t> &shape = program_.weights[index].shape;
  bool matrix = shape.size() == 2 && shape[0] == rows && shape[1] == cols;
  bool vector = shape.size() == 1 && rows == 1 && shape[0] == cols;
  if (!matrix && !vector)
    return false;
  loaded_.try_emplace(index, weights_[index]);
  std::vector<float> &stored = replaced_[index];
  cpu::WeightRef ref;
  ref.dtype = DType::F32;
  ref.rows = rows;
  ref.cols = cols;
  if (matrix && program_.weights[index].layout == WeightLayout::Panel16) {
    stored.assign(size_t((rows + kPanelWidth - 1) / kPanelWidth * kPanelWidth * cols), 0.0f);
    packPanel16(reinterpret_cast<const uint8_t *>(values), rows, cols, sizeof(float),
                reinterpret_cast<uint8_t *>(stored.data()));
    ref.panels = true;
  } else { // vectors, and matrices read row by row (the embedding table)
    stored.assign(values, values + rows * cols);
  }
  ref.data = stored.data();
  weights_[index] = ref;
  return true;
}

void Model::releaseReplacement(int64_t index) {
  auto it = loaded_.find(index);
  if (it == loaded_.end())
    return;
  weights_[size_t(index)] = it->second;
  loaded_.erase(it);
  replaced_.erase(index);
}

bool midllama::rt::checkStep(const Model &model, const int32_t *tokens, int64_t rows,
                             int64_t count, int64_t start, int64_t maxTokens, int64_t context,
                             std::string &error) {
  if (count <= 0 || count > maxTokens) {
    error = "a forward step takes 1 to " + std::to_string(maxTokens) + " tokens, not " +
            std::to_string(count);
    return false;
  }
  if (start < 0 || start + count > context) {
    error = "positions " + std::to_string(start) + ".." + std::to_string(start + count - 1) +
            " exceed the session's context of " + std::to_string(context) + " tokens";
    return false;
  }
  for (int64_t i = 0; i < rows; ++i)
    if (tokens[i] < 0 || tokens[i] >= model.vocabSize()) {
      error = "token id " + std::to_string(tokens[i]) + " is outside the vocabulary of " +
              std::to_string(model.vocabSize());
      return false;
    }
  return true;
}
