// The module's activations attribute takes the three values the runtime knows; the
// invalid ones are in invalid.mlir.
// RUN: midllama-opt %s --split-input-file | FileCheck %s

// CHECK: module attributes {llm.activations = "int8-weight-groups"}
module attributes {llm.activations = "int8-weight-groups"} {
}

// -----

// CHECK: module attributes {llm.activations = "fp32"}
module attributes {llm.activations = "fp32"} {
}
