// --llm-set-kv-cache records the KV cache the runtime keeps by default on the module
// (the compiled artifact carries it: test/tools/midllama-run/kv-cache.test).
//
// RUN: midllama-opt --llm-set-kv-cache="kv-cache=f16" %s | FileCheck %s --check-prefix=F16
// F16: module attributes {llm.kv_cache = "f16"}
// The default option is f32, recorded as chosen; a later run of the pass replaces it.
// RUN: midllama-opt --llm-set-kv-cache %s | FileCheck %s --check-prefix=F32
// F32: module attributes {llm.kv_cache = "f32"}
// RUN: midllama-opt --llm-set-kv-cache="kv-cache=f16" %s | midllama-opt --llm-set-kv-cache="kv-cache=f32" | FileCheck %s --check-prefix=F32
//
// RUN: not midllama-opt --llm-set-kv-cache="kv-cache=bf16" %s 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: llm-set-kv-cache: kv-cache must be f32 or f16 (got 'bf16')

module {
  llm.param @w : !llm.weight<4x4xf32>
}
