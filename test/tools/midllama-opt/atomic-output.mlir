// midllama-opt writes -o as an OutputFile (runtime/support/OutputFile.h): a failing run
// leaves an existing output untouched, a successful one replaces it whole, and the input
// is never the output.
//
// RUN: echo "precious" > %t.out
// RUN: not midllama-opt %s --llm-stats=format=bad -o %t.out
// RUN: FileCheck %s --check-prefix=KEPT --input-file %t.out
// KEPT: precious
//
// A successful run replaces the old output, and leaves no temporary file behind.
// RUN: midllama-opt %s -o %t.out
// RUN: FileCheck %s --check-prefix=DONE --input-file %t.out
// RUN: ls %t.out* | count 1
// DONE: llm.param @w : !llm.weight<4x4xf32>
//
// In place (any spelling) is refused before anything is written: the input survives.
// RUN: cp %s %t.in.mlir
// RUN: not midllama-opt %t.in.mlir -o %t.in.mlir 2>&1 | FileCheck %s --check-prefix=INPLACE
// RUN: cmp %s %t.in.mlir
// RUN: ls %t.in.mlir* | count 1
// INPLACE: midllama-opt: -o '{{.*}}in.mlir' is '{{.*}}in.mlir', an input of this run; refusing to overwrite it (write elsewhere)

module {
  llm.param @w : !llm.weight<4x4xf32>
}
