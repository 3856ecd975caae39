// The module's activations attribute takes the values the runtime knows (and who set
// them, when a pass did); the invalid ones are in invalid.mlir.
// RUN: midllama-opt %s --split-input-file | FileCheck %s

// CHECK: module attributes {llm.activations = "int8-weight-groups"}
module attributes {llm.activations = "int8-weight-groups"} {
}

// -----

// CHECK: module attributes {llm.activations = "fp32"}
module attributes {llm.activations = "fp32"} {
}

// -----

// CHECK: module attributes {llm.activations = "int8-weight-groups+bf16", llm.activations_set_by = "--llm-set-activations=int8+bf16"}
module attributes {llm.activations = "int8-weight-groups+bf16", llm.activations_set_by = "--llm-set-activations=int8+bf16"} {
}
