// The module's KV cache attribute takes the two kinds the runtime keeps; the invalid ones
// are in invalid.mlir.
// RUN: midllama-opt %s --split-input-file | FileCheck %s

// CHECK: module attributes {llm.kv_cache = "f16"}
module attributes {llm.kv_cache = "f16"} {
}

// -----

// CHECK: module attributes {llm.kv_cache = "f32"}
module attributes {llm.kv_cache = "f32"} {
}
