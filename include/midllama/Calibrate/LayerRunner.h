//===- LayerRunner.h - Run a compiled model one decoder layer at a time -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Layer-by-layer calibration (GPTQ's "sequential" order, docs/algorithms.md):
// every calibration sample goes through the embedding once; then, for each decoder layer,
// the methods watch the inputs of its linear layers, compress them, and the layer is run
// again with the compressed weights to give the next layer its input. Only the activations
// live at one layer boundary are held (per sample: the residual stream, a few rows of K),
// never the whole model's.
//
// It runs on the CPU runtime's compiled program (runtime/Model.h), so calibration sees
// exactly the numerics of the kernels that will run the model. The program is cut into
// segments: the prologue (embedding), one per decoder layer (the calls reading its weights
// or its KV cache, and the weightless calls after them), and the epilogue (final norm, LM
// head). A fused residual-add + RMSNorm that opens a layer belongs to that layer; the slots
// live across a cut are what is saved.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_CALIBRATE_LAYERRUNNER_H
#define MIDLLAMA_CALIBRATE_LAYERRUNNER_H

#include "runtime/Model.h"
#include "runtime/cpu/Session.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace midllama::calib {

class LayerRunner {
public:
  /// `samples`: token sequences of one length; `layerOfWeight[i]`: the decoder layer that
  /// program weight i belongs to (-1: none); `batch`: samples run together. Runs the
  /// prologue. Null with `error` set when the program cannot be cut into layers.
  static std::unique_ptr<LayerRunner> create(rt::Model &model,
                                             std::vector<std::vector<int32_t>> samples,
                                             const std::vector<int64_t> &layerOfWeight,
                                             int64_t batch, std::string &error);

  /// Segments after the prologue: the decoder layers, then the epilogue.
  int64_t numSegments() const { return int64_t(segments_.size()); }

  /// The linear layers of segment `s` that read the same input (q/k/v; gate/up; ...), in
  /// program order: each a list of weight indices.
  const std::vector<std::vector<int64_t>> &inputGroups(int64_t s) const {
    return segments_[size_t(s)].groups;
  }

  /// The call that computes the input of group `g` of segment `s` (the RMSNorm, SwiGLU,
  /// attention or projection before it), or -1 when it is not in the segment. AWQ folds its
  /// scales into that call's weight.
  int64_t inputProducer(int64_t s, int64_t g) const {
    return segments_[size_t(s)].producers[size_t(g)];
  }
  /// The call that last wrote `slot` before call `before` (from the start of the program),
  /// or -1.
  int64_t lastWriter(int64_t slot, size_t before) const;

  /// Runs segment `s` from its input over every sample (or the first `maxSamples`, rounded
  /// up to whole batches, when positive), up to the last call of group `untilGroup` (-1:
  /// the whole segment), calling `observe(group, x, rows)` with the input rows of every
  /// group's linear layers. The segment's input stays as it was.
  void observe(int64_t s, const std::function<void(int64_t, const float *, int64_t)> &observe,
               int64_t untilGroup = -1, int64_t maxSamples = -1);

  /// Tokens per sample.
  int64_t sampleLength() const { return length_; }

  /// Runs segment `s` over every sample with the weights as they are now, keeping its
  /// output as the next segment's input; then releases the layer (releaseLayer).
  void advance(int64_t s);

  /// Input rows of every sample (samples × length).
  int64_t rows() const { return int64_t(samples_.size()) * length_; }

private:
  struct Segment {
    size_t begin = 0, end = 0;
    std::vector<std::vector<int64_t>> groups;
    std::vector<int64_t> groupOfCall; // by call - begin; -1 for calls reading no weights
    std::vector<int64_t> producers;   // by group: the call writing its input, or -1
    std::vector<int64_t> liveIn;      // slots read before being written, from here on
  };
  LayerRunner(rt::Model &model) : model_(model) {}
  /// Cuts the program into the prologue and one segment per layer plus the epilogue, by
  /// the layer of each call; false with `error` when a layer has no calls.
  bool cutSegments(const std::vector<int64_t> &layerOfCall, std::string &error);
  /// Groups the segment's linear calls by the input they read (the same version of a slot).
  void findInputGroups(Segment &seg) const;
  /// The slots read at or after the segment's start before anything there writes them.
  void findLiveSlots(Segment &seg) const;
  /// Runs the prologue for every chunk, saving the first layer's live inputs.
  void runPrologue();
  /// Loads the chunk's tokens and its saved state, for a run of segment `s`.
  void restore(int64_t chunk, int64_t s);
  /// Hands back what layer `s` held once it will not run again: its KV cache, and the
  /// model's mapped weight pages (only the next layer's are then read back).
  void releaseLayer(int64_t s);

  rt::Model &model_;
  std::vector<std::vector<int32_t>> samples_;
  int64_t length_ = 0, batch_ = 1;
  std::vector<Segment> segments_;
  size_t prologueEnd_ = 0;
  std::unique_ptr<rt::Session> session_;
  std::vector<int32_t> chunkTokens_;
  /// state_[chunk][i]: slot segments_[s].liveIn[i] for the chunk, at the current cut.
  std::vector<std::vector<std::vector<float>>> state_;
};

} // namespace midllama::calib

#endif // MIDLLAMA_CALIBRATE_LAYERRUNNER_H
