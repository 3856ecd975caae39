// --llm-set-activations records the runtime's default activations on the module and that
// this pass chose them; an importer's int8 scaled per weight group keeps its span for int8.
//
// RUN: midllama-opt --llm-set-activations="activations=int8+bf16" %s | FileCheck %s --check-prefix=BOTH
// BOTH: module attributes {llm.activations = "int8+bf16", llm.activations_set_by = "--llm-set-activations=int8+bf16"}
// RUN: midllama-opt --llm-set-activations="activations=bf16" %s | FileCheck %s --check-prefix=BF16
// BF16: module attributes {llm.activations = "bf16", llm.activations_set_by = "--llm-set-activations=bf16"}
// The default option is fp32, recorded as chosen.
// RUN: midllama-opt --llm-set-activations %s | FileCheck %s --check-prefix=FP32
// FP32: module attributes {llm.activations = "fp32", llm.activations_set_by = "--llm-set-activations=fp32"}
//
// RUN: midllama-opt --llm-set-activations="activations=int8" %S/Inputs/activations-weight-groups.mlir | FileCheck %s --check-prefix=GROUPS
// GROUPS: module attributes {llm.activations = "int8-weight-groups", llm.activations_set_by = "--llm-set-activations=int8"}
// RUN: midllama-opt --llm-set-activations="activations=int8+bf16" %S/Inputs/activations-weight-groups.mlir | FileCheck %s --check-prefix=GROUPS-BF16
// GROUPS-BF16: module attributes {llm.activations = "int8-weight-groups+bf16"
// RUN: midllama-opt --llm-set-activations="activations=bf16" %S/Inputs/activations-weight-groups.mlir | FileCheck %s --check-prefix=GROUPS-OFF
// GROUPS-OFF: module attributes {llm.activations = "bf16"
//
// RUN: not midllama-opt --llm-set-activations="activations=int4" %s 2>&1 | FileCheck %s --check-prefix=BAD
// BAD: llm-set-activations: activations must be fp32, int8, bf16 or int8+bf16 (got 'int4')

module {
  llm.param @w : !llm.weight<4x4xf32>
}
