// MLIR 22's parser aborts ("LLVM ERROR: out of memory") on a use of a result number far past
// the op's results, before it can report the error (docs/known-limits.md). midllama-opt and
// midllama-compile refuse such input before parsing, with its line and column.
//
// RUN: not midllama-opt %s -o %t.mlir 2>&1 | FileCheck %s
// RUN: not midllama-compile %s -o %t.mlm 2>&1 | FileCheck %s --check-prefix=COMPILE
// RUN: not ls %t.mlir %t.mlm
//
// CHECK: midllama-opt: {{.*}}result-number-guard.mlir:16:19: result number 2147483648 of '%2' is above 1048576 (the MLIR parser would abort on it; see docs/known-limits.md)
// COMPILE: midllama-compile: {{.*}}result-number-guard.mlir:16:19: result number 2147483648 of '%2' is above 1048576

func.func @f(%a: i32) -> i32 {
  %0 = arith.addi %a, %a : i32
  %1 = arith.addi %0, %a : i32
  %2:2 = "test.two"(%1) : (i32) -> (i32, i32)
  %3 = arith.addi %2#2147483648, %a : i32
  return %3 : i32
}
