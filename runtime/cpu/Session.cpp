//===- Session.cpp - The CPU backend: runs a model's kernel calls ---------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/cpu/Session.h"

#include "runtime/support/Memory.h"

#include <algorithm>
#include <climits>
#include <cstring>

using namespace midllama::rt;

static int64_t capacity(const Model &model, int64_t context) {
  return context > 0 && context < model.maxContext() ? context : model.maxContext();
}

/// The floats of one layer's value cache (`key` false) or transposed key cache (its rows
/// cpu::keyCacheStride apart) of one sequence for `positions` positions of `width` values:
/// fp32, or fp16 halves two to a float with the padding the fp16 kernels read past the end.
static int64_t cacheFloats(int64_t positions, int64_t width, bool half, bool key) {
  const int64_t values = saturatingMul(key ? cpu::keyCacheStride(positions, half) : positions,
                                       width);
  return half ? (std::min(values, INT64_MAX - cpu::kHalfKVCachePadding - 1) +
                 cpu::kHalfKVCachePadding + 1) / 2
              : values;
}

Session::Session(const Model &model, int64_t maxTokens, int64_t context, int64_t batch)
    : model_(model), maxTokens_(std::max<int64_t>(1, maxTokens)),
      context_(capacity(model, context)), batch_(std::max<int64_t>(1, batch)),
      halfKV_(cpu::halfKVCache()) {
  for (int64_t width : model.program_.slotWidths)
    slots_.emplace_back(size_t(batch_ * maxTokens_ * width));
  // Cache of layer l, sequence b: kCache_[l * batch + b], [kv heads * head dim,
  // cpu::keyCacheStride(context)] (transposed: cpu::attention), vCache_ [context, kv heads *
  // head dim]; fp32, or fp16 halves (cpu::setHalfKVCache).
  const int64_t keys = cacheFloats(context_, model.kvWidth_, halfKV_, /*key=*/true),
                values = cacheFloats(context_, model.kvWidth_, halfKV_, /*key=*/false);
  for (int64_t i = 0; i < model.layers_ * batch_; ++i) {
    kCache_.emplace_back(size_t(keys));
    vCache_.emplace_back(size_t(values));
  }
}

void Session::releaseCache(int64_t layer) {
  if (layer < 0 || layer >= model_.layers_)
    return;
  for (int64_t b = 0; b < batch_; ++b) {
    kCache_[size_t(layer * batch_ + b)].clear();
    vCache_[size_t(layer * batch_ + b)].clear();
  }
}

int64_t Session::plannedBytes(const Model &model, int64_t maxTokens, int64_t context,
                              int64_t batch) {
  // Saturating: the counts come from options (--batch, --max-context), and an overflow
  // would let an impossible request through the memory check.
  batch = std::max<int64_t>(1, batch);
  int64_t floats = 0;
  auto add = [&](int64_t n) { floats = n > INT64_MAX - floats ? INT64_MAX : floats + n; };
  for (int64_t width : model.program_.slotWidths)
    add(saturatingMul(saturatingMul(batch, std::max<int64_t>(1, maxTokens)), width));
  for (bool key : {true, false})
    add(saturatingMul(saturatingMul(batch, model.layers_),
                      cacheFloats(capacity(model, context), model.kvWidth_, cpu::halfKVCache(),
                                  key)));
  return saturatingMul(floats, int64_t(sizeof(float)));
}

int64_t Session::allocatedBytes() const {
  int64_t n = 0;
  for (const auto &s : slots_)
    n += int64_t(s.size());
  for (const auto &c : kCache_)
    n += int64_t(c.size());
  for (const auto &c : vCache_)
    n += int64_t(c.size());
  return n * int64_t(sizeof(float));
}

bool Session::setInputs(const int32_t *tokens, int64_t count, int64_t start,
                        std::string &error) {
  int64_t rows = batch_ * count;
  if (!checkStep(model_, tokens, rows, count, start, maxTokens_, context_, error))
    return false;
  tokens_.assign(tokens, tokens + rows);
  positions_.resize(count);
  for (int64_t i = 0; i < count; ++i)
    positions_[i] = start + i;
  count_ = count;
  return true;
}

const float *Session::forward(const int32_t *tokens, int64_t count, int64_t start,
                              bool lastOnly, std::string &error) {
  if (!setInputs(tokens, count, start, error))
    return nullptr;
  runCalls(0, model_.program_.calls.size(), lastOnly);
  return slot(model_.logitsSlot_);
}

/// The index of the program's last attention call (the calls after it work row by row),
/// or SIZE_MAX.
static size_t lastAttention(const std::vector<Call> &calls) {
  for (size_t i = calls.size(); i-- > 0;)
    if (calls[i].op == OpCode::Attention)
      return i;
  return SIZE_MAX;
}

void Session::keepLastRows(int64_t count) {
  const std::vector<int64_t> &widths = model_.program_.slotWidths;
  for (size_t i = 0; i < slots_.size(); ++i)
    for (int64_t b = 0; b < batch_; ++b)
      std::memmove(slots_[i].data() + b * widths[i],
                   slots_[i].data() + (b * count + count - 1) * widths[i],
                   size_t(widths[i]) * sizeof(float));
}

void Session::runCalls(size_t begin, size_t end, bool lastOnly, const InputHook &beforeMatMul) {
  int64_t count = count_, rows = batch_ * count;
  auto s = [&](int64_t slot) { return slots_[slot].data(); };
  auto w = [&](int64_t i) -> const cpu::WeightRef & { return model_.weights_[i]; };
  const std::vector<int64_t> &widths = model_.program_.slotWidths;
  end = std::min(end, model_.program_.calls.size());
  // Only each sequence's last position is wanted: once the last layer's attention has
  // cached every position's keys and values, the rest of that layer (its projection and
  // FFN) and the head run for the last rows alone, as llama.cpp does (SmolLM2's prefill
  // of 256 tokens: 1/30 of its layers' work).
  const size_t shrinkAfter =
      lastOnly && count > 1 ? lastAttention(model_.program_.calls) : SIZE_MAX;
  for (size_t ci = begin; ci < end; ++ci) {
    const Call &c = model_.program_.calls[ci];
    if (ci > shrinkAfter && count > 1) {
      keepLastRows(count);
      count = 1;
      rows = batch_;
    }
    switch (c.op) {
    case OpCode::Embed: {
      auto e = calls::Embed::decode(c);
      cpu::embed(tokens_.data(), rows, w(e.table), s(e.out));
      break;
    }
    case OpCode::RMSNorm: {
      auto n = calls::RMSNorm::decode(c);
      cpu::rmsNorm(s(n.in), s(n.out), rows, widths[n.in], w(n.weight), n.eps);
      break;
    }
    case OpCode::AddRMSNorm: {
      auto n = calls::AddRMSNorm::decode(c);
      cpu::addRMSNorm(s(n.in), s(n.residual), s(n.sum), s(n.out), rows, widths[n.in],
                      w(n.weight), n.eps);
      break;
    }
    case OpCode::MatMul: {
      auto mm = calls::MatMul::decode(c);
      if (beforeMatMul)
        beforeMatMul(ci, s(mm.in), rows);
      if ((mm.lastTokenOnly || (lastOnly && mm.out == model_.logitsSlot_)) && count > 1) {
        // Only each sequence's last position is projected (the LM head while decoding).
        int64_t width = widths[mm.in];
        lastRows_.resize(size_t(batch_ * width));
        for (int64_t b = 0; b < batch_; ++b)
          std::copy_n(s(mm.in) + ((b + 1) * count - 1) * width, width,
                      lastRows_.data() + b * width);
        cpu::matmul(lastRows_.data(), s(mm.out), batch_, w(mm.weight));
      } else {
        cpu::matmul(s(mm.in), s(mm.out), rows, w(mm.weight));
      }
      break;
    }
    case OpCode::GateUpSwiGLU: {
      auto g = calls::GateUpSwiGLU::decode(c);
      if (beforeMatMul)
        beforeMatMul(ci, s(g.in), rows);
      cpu::gateUpSwiGLU(s(g.in), s(g.out), rows, w(g.gate), w(g.up));
      break;
    }
    case OpCode::SwiGLU: {
      auto g = calls::SwiGLU::decode(c);
      cpu::swiglu(s(g.gate), s(g.up), s(g.out), rows * widths[g.gate]);
      break;
    }
    case OpCode::Add: {
      auto x = calls::Add::decode(c);
      cpu::add(s(x.lhs), s(x.rhs), s(x.out), rows * widths[x.lhs]);
      break;
    }
    case OpCode::Mul: {
      auto x = calls::Mul::decode(c);
      cpu::mul(s(x.lhs), s(x.rhs), s(x.out), rows * widths[x.lhs]);
      break;
    }
    case OpCode::SiLU: {
      auto u = calls::SiLU::decode(c);
      cpu::silu(s(u.in), s(u.out), rows * widths[u.in]);
      break;
    }
    case OpCode::Attention: {
      auto at = calls::Attention::decode(c);
      cpu::AttentionParams p{at.heads, at.kvHeads, at.headDim, at.rotaryDim, at.scale,
                             at.theta, at.interleaved};
      int64_t qw = p.heads * p.headDim, kvw = p.kvHeads * p.headDim;
      for (int64_t b = 0; b < batch_; ++b) { // each sequence against its own cache
        size_t cache = size_t(at.layer * batch_ + b);
        auto attend = [&](auto *kc, auto *vc) {
          cpu::attention(s(at.q) + b * count * qw, s(at.k) + b * count * kvw,
                         s(at.v) + b * count * kvw, s(at.out) + b * count * qw,
                         positions_.data(), count, kc, vc, context_, p);
        };
        float *kc = kCache_[cache].data(), *vc = vCache_[cache].data();
        if (halfKV_) // fp16 halves in the cache's floats
          attend(reinterpret_cast<uint16_t *>(kc), reinterpret_cast<uint16_t *>(vc));
        else
          attend(kc, vc);
      }
      break;
    }
    }
  }
}
