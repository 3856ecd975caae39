//===- LayerRunner.cpp - Run a compiled model one decoder layer at a time -===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "midllama/Calibrate/LayerRunner.h"

#include <algorithm>
#include <map>
#include <set>

using namespace midllama;
using namespace midllama::calib;
using rt::Call;
using rt::OpCode;

namespace {

/// Argument positions of the slots a call reads and writes, and of the weights it reads,
/// from the argument kinds of KernelCalls.def.
struct CallSlots {
  std::vector<int> reads, writes, weights;
};

CallSlots slotsOf(OpCode op) {
  CallSlots cs;
  rt::ArgList list = rt::argumentsOf(op);
  for (size_t i = 0; i < list.size; ++i) {
    if (list.kinds[i] == rt::ArgKind::SlotIn)
      cs.reads.push_back(int(i));
    else if (list.kinds[i] == rt::ArgKind::SlotOut)
      cs.writes.push_back(int(i));
    else if (list.kinds[i] == rt::ArgKind::Weight)
      cs.weights.push_back(int(i));
  }
  return cs;
}

bool isLinear(OpCode op) { return op == OpCode::MatMul || op == OpCode::GateUpSwiGLU; }

} // namespace

namespace {
/// Which layer each call belongs to: that of its weights, or of the KV cache it uses;
/// weightless calls go with the call before them; calls reading only weights outside the
/// layers go to the prologue (-1) before the first layer and to the epilogue (`layers`)
/// after. Empty, with `error`, when the calls do not come layer after layer.
std::vector<int64_t> layerOfEachCall(const rt::Program &prog, int64_t layers,
                                     const std::vector<int64_t> &layerOfWeight,
                                     std::string &error) {
  std::vector<int64_t> layerOfCall(prog.calls.size());
  int64_t current = -1;
  for (size_t i = 0; i < prog.calls.size(); ++i) {
    const Call &c = prog.calls[i];
    int64_t layer = -2; // no information
    if (c.op == OpCode::Attention)
      layer = rt::calls::Attention::decode(c).layer;
    bool outside = false;
    for (int arg : slotsOf(c.op).weights) {
      int64_t w = c.args[size_t(arg)];
      int64_t l = w < int64_t(layerOfWeight.size()) ? layerOfWeight[size_t(w)] : -1;
      if (l >= 0)
        layer = std::max(layer, l);
      else
        outside = true;
    }
    if (layer == -2 && outside)
      layer = current < 0 ? -1 : layers;
    if (layer == -2)
      layer = current;
    if (layer < current || layer > layers) {
      error = "call " + std::to_string(i) + " (" + rt::opName(c.op) +
              ") breaks the layer order of the program; it cannot be calibrated layer by layer";
      return {};
    }
    layerOfCall[i] = current = layer;
  }
  return layerOfCall;
}
} // namespace

bool LayerRunner::cutSegments(const std::vector<int64_t> &layerOfCall, std::string &error) {
  const rt::Program &prog = model_.program();
  int64_t layers = model_.numLayers();
  prologueEnd_ = 0;
  while (prologueEnd_ < prog.calls.size() && layerOfCall[prologueEnd_] < 0)
    ++prologueEnd_;
  size_t at = prologueEnd_;
  for (int64_t s = 0; s <= layers; ++s) {
    Segment seg;
    seg.begin = at;
    while (at < prog.calls.size() && layerOfCall[at] == s)
      ++at;
    seg.end = at;
    if (seg.begin == seg.end && s < layers) {
      error = "decoder layer " + std::to_string(s) + " has no calls in the compiled program";
      return false;
    }
    segments_.push_back(std::move(seg));
  }
  return true;
}

void LayerRunner::findInputGroups(Segment &seg) const {
  const rt::Program &prog = model_.program();
  std::map<int64_t, int64_t> version;
  std::map<std::pair<int64_t, int64_t>, int64_t> groupOf;
  for (size_t i = seg.begin; i < seg.end; ++i) {
    const Call &c = prog.calls[i];
    int64_t group = -1;
    if (isLinear(c.op)) {
      int64_t in = c.args[size_t(slotsOf(c.op).reads.at(0))]; // a linear call's one input
      std::pair<int64_t, int64_t> key{in, version[in]};
      auto [it, inserted] = groupOf.try_emplace(key, int64_t(seg.groups.size()));
      if (inserted) {
        seg.groups.emplace_back();
        int64_t producer = lastWriter(in, i);
        seg.producers.push_back(producer >= int64_t(seg.begin) ? producer : -1);
      }
      group = it->second;
      for (int arg : slotsOf(c.op).weights)
        seg.groups[size_t(group)].push_back(c.args[size_t(arg)]);
    }
    seg.groupOfCall.push_back(group);
    for (int arg : slotsOf(c.op).writes)
      ++version[c.args[size_t(arg)]];
  }
}

void LayerRunner::findLiveSlots(Segment &seg) const {
  const rt::Program &prog = model_.program();
  std::set<int64_t> written, live;
  for (size_t i = seg.begin; i < prog.calls.size(); ++i) {
    CallSlots cs = slotsOf(prog.calls[i].op);
    for (int arg : cs.reads)
      if (!written.count(prog.calls[i].args[size_t(arg)]))
        live.insert(prog.calls[i].args[size_t(arg)]);
    for (int arg : cs.writes)
      written.insert(prog.calls[i].args[size_t(arg)]);
  }
  seg.liveIn.assign(live.begin(), live.end());
}

void LayerRunner::runPrologue() {
  const rt::Program &prog = model_.program();
  int64_t chunks = (int64_t(samples_.size()) + batch_ - 1) / batch_;
  state_.resize(size_t(chunks));
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    restore(chunk, -1);
    session_->runCalls(0, prologueEnd_, false);
    int64_t rows = session_->rows();
    for (int64_t slot : segments_[0].liveIn) {
      const float *p = session_->slot(slot);
      state_[size_t(chunk)].emplace_back(p, p + rows * prog.slotWidths[size_t(slot)]);
    }
  }
}

std::unique_ptr<LayerRunner> LayerRunner::create(rt::Model &model,
                                                 std::vector<std::vector<int32_t>> samples,
                                                 const std::vector<int64_t> &layerOfWeight,
                                                 int64_t batch, std::string &error) {
  std::unique_ptr<LayerRunner> r(new LayerRunner(model));
  if (samples.empty() || samples[0].empty()) {
    error = "no calibration samples";
    return nullptr;
  }
  r->length_ = int64_t(samples[0].size());
  for (const auto &s : samples)
    if (int64_t(s.size()) != r->length_) {
      error = "calibration samples differ in length";
      return nullptr;
    }
  r->samples_ = std::move(samples);
  r->batch_ = std::clamp<int64_t>(batch, 1, int64_t(r->samples_.size()));

  std::vector<int64_t> layerOfCall =
      layerOfEachCall(model.program(), model.numLayers(), layerOfWeight, error);
  if (!error.empty() || !r->cutSegments(layerOfCall, error))
    return nullptr;
  // Input groups: linear calls reading the same version of the same slot. Live slots at
  // each cut: read at or after it before anything there writes them.
  for (Segment &seg : r->segments_) {
    r->findInputGroups(seg);
    r->findLiveSlots(seg);
  }
  try {
    r->session_ = std::make_unique<rt::Session>(model, r->length_, r->length_, r->batch_);
  } catch (const std::bad_alloc &) {
    error = "out of memory for a calibration batch of " + std::to_string(r->batch_) + " x " +
            std::to_string(r->length_) + " tokens";
    return nullptr;
  }
  r->runPrologue(); // once: the first layer's input
  // The load's checksum read every page of the model; the embedding has done its part.
  model.file().evictAll();
  return r;
}

int64_t LayerRunner::lastWriter(int64_t slot, size_t before) const {
  const rt::Program &prog = model_.program();
  for (size_t i = std::min(before, prog.calls.size()); i-- > 0;)
    for (int arg : slotsOf(prog.calls[i].op).writes)
      if (prog.calls[i].args[size_t(arg)] == slot)
        return int64_t(i);
  return -1;
}

void LayerRunner::restore(int64_t chunk, int64_t s) {
  // The chunk's samples, the last chunk padded with copies of its last sample (whose rows
  // are not observed).
  chunkTokens_.clear();
  for (int64_t b = 0; b < batch_; ++b) {
    int64_t i = std::min<int64_t>(chunk * batch_ + b, int64_t(samples_.size()) - 1);
    chunkTokens_.insert(chunkTokens_.end(), samples_[size_t(i)].begin(), samples_[size_t(i)].end());
  }
  std::string error;
  session_->setInputs(chunkTokens_.data(), length_, 0, error); // checked when sampled
  if (s < 0)
    return;
  const std::vector<int64_t> &live = segments_[size_t(s)].liveIn;
  for (size_t i = 0; i < live.size(); ++i)
    std::copy(state_[size_t(chunk)][i].begin(), state_[size_t(chunk)][i].end(),
              session_->slot(live[i]));
}

void LayerRunner::observe(int64_t s,
                          const std::function<void(int64_t, const float *, int64_t)> &observe,
                          int64_t untilGroup, int64_t maxSamples) {
  const Segment &seg = segments_[size_t(s)];
  size_t end = seg.end;
  if (untilGroup >= 0)
    for (size_t i = seg.begin; i < seg.end; ++i)
      if (seg.groupOfCall[i - seg.begin] == untilGroup)
        end = i + 1;
  int64_t chunks = int64_t(state_.size());
  if (maxSamples > 0)
    chunks = std::min(chunks, (maxSamples + batch_ - 1) / batch_);
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    restore(chunk, s);
    int64_t real = std::min<int64_t>(batch_, int64_t(samples_.size()) - chunk * batch_);
    std::vector<bool> seen(seg.groups.size(), false); // q, k and v read one input: once
    session_->runCalls(seg.begin, end, false, [&](size_t call, const float *x, int64_t) {
      int64_t g = seg.groupOfCall[call - seg.begin];
      if (!seen[size_t(g)])
        observe(g, x, real * length_);
      seen[size_t(g)] = true;
    });
  }
}

void LayerRunner::advance(int64_t s) {
  const Segment &seg = segments_[size_t(s)];
  const rt::Program &prog = model_.program();
  int64_t chunks = int64_t(state_.size());
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    restore(chunk, s);
    session_->runCalls(seg.begin, seg.end, false);
    state_[size_t(chunk)].clear();
    if (s + 1 >= numSegments())
      continue;
    int64_t rows = session_->rows();
    for (int64_t slot : segments_[size_t(s + 1)].liveIn) {
      const float *p = session_->slot(slot);
      state_[size_t(chunk)].emplace_back(p, p + rows * prog.slotWidths[size_t(slot)]);
    }
  }
  releaseLayer(s);
}

void LayerRunner::releaseLayer(int64_t s) {
  // Layer s will not run again: its KV cache and the weight pages it read go back to the
  // system, so calibration's memory holds one layer, not the model. Pages of the mapping
  // are re-read from the page cache when touched again (the next layer's weights).
  session_->releaseCache(s);
  model_.file().evictAll();
}
