//===- KVCache.cpp - Which KV cache the CPU keeps -------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/eval/KVCache.h"

#include "runtime/cpu/Kernels.h"

using namespace midllama::rt;

bool eval::applyKVCacheFlag(const std::string &value, std::string &error) {
  if (value != "f32" && value != "f16") {
    error = "bad value '" + value + "' for --kv-cache (f32 or f16)";
    return false;
  }
  cpu::setHalfKVCache(value == "f16");
  return true;
}

void eval::addKVCache(Report &report, bool onGpu) {
  if (!cpu::halfKVCache()) {
    report.addJson("kv_cache", "\"f32\"");
    return;
  }
  report.add("KV cache",
             onGpu ? "fp32 on the GPU (--kv-cache f16 is the CPU backend's)"
                   : "fp16 (--kv-cache f16: keys and values rounded to nearest even)",
             "kv_cache", onGpu ? "\"f32\"" : "\"f16\"");
}
