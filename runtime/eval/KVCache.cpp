//===- KVCache.cpp - Which KV cache the CPU keeps -------------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#include "runtime/eval/KVCache.h"

#include "runtime/cpu/Kernels.h"

using namespace midllama::rt;

namespace {

/// The artifact's default: its config "kv_cache" (f32 or f16), else f32.
std::string artifactDefault(const Model &model) {
  auto it = model.program().config.find("kv_cache");
  return it != model.program().config.end() && it->second == "f16" ? "f16" : "f32";
}

} // namespace

bool eval::checkKVCacheFlag(const std::string &value, std::string &error) {
  if (value == "f32" || value == "f16")
    return true;
  error = "bad value '" + value + "' for --kv-cache (f32 or f16)";
  return false;
}

void eval::applyKVCache(const Model &model, const std::string &asked) {
  cpu::setHalfKVCache((asked.empty() ? artifactDefault(model) : asked) == "f16");
}

void eval::addKVCache(Report &report, const Model &model, const std::string &asked,
                      bool onGpu) {
  const std::string fromArtifact = artifactDefault(model);
  const bool half = cpu::halfKVCache();
  if (onGpu || (!half && fromArtifact == "f32")) { // fp32 as by default: nothing to say
    if (onGpu && half)
      report.add("KV cache", "fp32 on the GPU (an fp16 cache is the CPU backend's)", "kv_cache",
                 "\"f32\"");
    else
      report.addJson("kv_cache", "\"f32\"");
    return;
  }
  std::string text = half ? "fp16, keys and values rounded to nearest even" : "fp32";
  if (asked.empty())
    text += " (the artifact's default, set at compile: --llm-set-kv-cache)";
  else
    text += " (--kv-cache " + asked + ")" +
            (asked == fromArtifact ? "" : "; the artifact's default is " + fromArtifact);
  report.add("KV cache", text, "kv_cache", half ? "\"f16\"" : "\"f32\"");
}
