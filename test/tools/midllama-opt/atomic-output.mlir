// midllama-opt writes -o through a temporary file: a failing run leaves an existing output
// (even the input itself) untouched, and a successful run replaces it whole.
//
// RUN: echo "precious" > %t.out
// RUN: not midllama-opt %s --llm-stats=format=bad -o %t.out
// RUN: FileCheck %s --check-prefix=KEPT --input-file %t.out
// KEPT: precious
//
// In-place rewrite that fails: the input survives byte for byte.
// RUN: cp %s %t.in.mlir
// RUN: not midllama-opt %t.in.mlir --llm-stats=format=bad -o %t.in.mlir
// RUN: cmp %s %t.in.mlir
//
// In-place rewrite that succeeds, and no temporary file left behind.
// RUN: midllama-opt %t.in.mlir -o %t.in.mlir
// RUN: FileCheck %s --check-prefix=DONE --input-file %t.in.mlir
// RUN: ls %t.in.mlir* | count 1
// DONE: llm.param @w : !llm.weight<4x4xf32>

module {
  llm.param @w : !llm.weight<4x4xf32>
}
