//===- KVCache.h - Which KV cache the CPU keeps ---------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The CPU backend's KV cache holds fp32 keys and values by default (the reference
// numerics); f16 keeps them in fp16, as llama.cpp's default cache does: half the memory,
// and half the bytes each decoded token reads per cached position, which at long contexts
// are most of what decode reads. An artifact may record its default (config "kv_cache",
// --llm-set-kv-cache / midllama-compile --kv-cache); the tools' --kv-cache replaces it.
// One place decides and reports it, for midllama-run and midllama-eval.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_EVAL_KVCACHE_H
#define MIDLLAMA_RUNTIME_EVAL_KVCACHE_H

#include "runtime/Model.h"
#include "runtime/eval/Report.h"

#include <string>

namespace midllama::rt::eval {

/// Whether `value` (--kv-cache's) is "f32" or "f16"; else false with `error` naming the
/// option and the values it takes.
bool checkKVCacheFlag(const std::string &value, std::string &error);
/// Sets the kind of cache new CPU sessions keep (cpu::setHalfKVCache): `asked` (a checked
/// --kv-cache value; empty: not given), else the artifact's default, else f32.
void applyKVCache(const Model &model, const std::string &asked);
/// The report row for an fp16 cache and why (omitted for fp32 when nothing asked for
/// another), and the JSON field "kv_cache" either way. `onGpu`: the GPU keeps its own
/// (fp32) cache; the row says so.
void addKVCache(Report &report, const Model &model, const std::string &asked, bool onGpu);

} // namespace midllama::rt::eval

#endif // MIDLLAMA_RUNTIME_EVAL_KVCACHE_H
