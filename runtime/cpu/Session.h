//===- Session.h - The CPU backend: runs a model's kernel calls -*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// A Session owns what running a Model on the CPU needs: one buffer per slot, sized for
// the longest batch of tokens it is given, and the KV cache of every layer and sequence,
// sized from the context length; it interprets the program's kernel calls in order with
// the kernels of runtime/cpu/Kernels.h. Calibration drives it one layer at a time.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_CPU_SESSION_H
#define MIDLLAMA_RUNTIME_CPU_SESSION_H

#include "runtime/Model.h"
#include "runtime/support/ZeroedBuffer.h"

#include <functional>
#include <string>
#include <vector>

namespace midllama::rt {

class Session {
public:
  /// `maxTokens`: the most tokens one forward() call takes per sequence (prefill chunk);
  /// `context`: the positions each sequence's KV cache holds (0 or more than the model's:
  /// the model's context); `batch`: the sequences run together, each with its own cache.
  /// Allocates plannedBytes(); throws std::bad_alloc when memory is short.
  Session(const Model &model, int64_t maxTokens, int64_t context = 0, int64_t batch = 1);
  /// Bytes a session needs: one buffer per slot for `batch * maxTokens` tokens, and the
  /// KV cache of every layer and sequence for `context` positions (fp32, or fp16 where
  /// cpu::setHalfKVCache asks for it: sessions keep the kind they were made with).
  static int64_t plannedBytes(const Model &model, int64_t maxTokens, int64_t context = 0,
                              int64_t batch = 1);
  int64_t context() const { return context_; }
  int64_t batch() const { return batch_; }

  /// Runs `count` tokens of each of the `batch()` sequences (`tokens`: [batch, count]) at
  /// positions start..start+count-1 (after the ones already cached), returning the logits
  /// of every token ([batch * count, vocab]) or, with `lastOnly`, of each sequence's last
  /// ([batch, vocab]). Projections run over all the batch's rows at once, which is what
  /// makes batching pay. Returns null and sets `error` when the context or the chunk size
  /// would be exceeded.
  const float *forward(const int32_t *tokens, int64_t count, int64_t start, bool lastOnly,
                       std::string &error);

  /// The steps of forward(), for calibration, which runs a program one decoder layer at a
  /// time: setInputs() takes the tokens and positions as forward() does; runCalls() runs
  /// calls [begin, end) over them (all tokens of every sequence), first calling
  /// `beforeMatMul(call, input, rows)` with the input rows of every MatMul and
  /// GateUpSwiGLU call; slot() is a buffer of [batch * count, width] rows to save and
  /// restore between layers.
  using InputHook = std::function<void(size_t call, const float *input, int64_t rows)>;
  bool setInputs(const int32_t *tokens, int64_t count, int64_t start, std::string &error);
  void runCalls(size_t begin, size_t end, bool lastOnly, const InputHook &beforeMatMul = {});
  float *slot(int64_t index) { return slots_[size_t(index)].data(); }
  int64_t rows() const { return batch_ * count_; }
  /// Empties decoder layer `layer`'s KV cache of every sequence and hands its pages back:
  /// calibration, done with a layer, holds one layer's cache at a time.
  void releaseCache(int64_t layer);
  /// Bytes of activation buffers and KV cache this session allocated.
  int64_t allocatedBytes() const;

private:
  /// Moves each sequence's last row of every slot to the sequence's row (count rows a
  /// sequence before, one after).
  void keepLastRows(int64_t count);

  const Model &model_;
  int64_t maxTokens_, context_, batch_;
  bool halfKV_; // the KV cache holds fp16 halves (cpu::halfKVCache when made)
  int64_t count_ = 0; // tokens per sequence of the current step
  std::vector<float> lastRows_; // each sequence's last row, for last-only projections
  std::vector<ZeroedBuffer> slots_; // pages resident only once written
  // Pages resident only as positions are written: a session sized for the model's context
  // (8192 for SmolLM2: 377 MB of cache) costs what its runs fill.
  std::vector<ZeroedBuffer> kCache_, vCache_;
  std::vector<int64_t> tokens_, positions_;
};

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_CPU_SESSION_H
