//===- KVCache.h - Which KV cache the CPU keeps ---------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The CPU backend's KV cache holds fp32 keys and values by default (the reference
// numerics); --kv-cache f16 keeps them in fp16, as llama.cpp's default cache does: half the
// memory, and half the bytes each decoded token reads per cached position, which at long
// contexts are most of what decode reads. One place parses and reports it, for
// midllama-run and midllama-eval.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_EVAL_KVCACHE_H
#define MIDLLAMA_RUNTIME_EVAL_KVCACHE_H

#include "runtime/eval/Report.h"

#include <string>

namespace midllama::rt::eval {

/// --kv-cache's value: "f32" or "f16" (cpu::setHalfKVCache). False with `error` naming the
/// option and the values it takes for anything else.
bool applyKVCacheFlag(const std::string &value, std::string &error);
/// The report row for an fp16 cache (omitted for fp32, the default), and the JSON field
/// "kv_cache" either way. `onGpu`: the GPU keeps its own (fp32) cache; the row says so.
void addKVCache(Report &report, bool onGpu);

} // namespace midllama::rt::eval

#endif // MIDLLAMA_RUNTIME_EVAL_KVCACHE_H
