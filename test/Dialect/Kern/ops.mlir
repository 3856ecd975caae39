// Every kern op parses, verifies and prints back the same, in the generic form too.
//
// RUN: midllama-opt %s | midllama-opt | FileCheck %s
// RUN: midllama-opt %s --mlir-print-op-generic | midllama-opt | FileCheck %s

llm.param @t : !llm.weight<32x16xf16>
llm.param @n : !llm.weight<16xf32>
llm.param @q : !llm.weight<16x16xbf16>
llm.param @g : !llm.weight<24x16xf32>

// CHECK-LABEL: func.func @all
func.func @all(%tok: tensor<1x?xi64>, %pos: tensor<1x?xi64>) -> tensor<1x?x16xf32> {
  %t = llm.weight @t : !llm.weight<32x16xf16>
  %n = llm.weight @n : !llm.weight<16xf32>
  %wq = llm.weight @q : !llm.weight<16x16xbf16>
  %wg = llm.weight @g : !llm.weight<24x16xf32>
  // CHECK: kern.embed %{{.+}}, %{{.+}} : tensor<1x?xi64>, !llm.weight<32x16xf16> -> tensor<1x?x16xf32>
  %h = kern.embed %tok, %t : tensor<1x?xi64>, !llm.weight<32x16xf16> -> tensor<1x?x16xf32>
  // CHECK: kern.rms_norm %{{.+}}, %{{.+}} {epsilon = 9.99999997E-7 : f32}
  %x = kern.rms_norm %h, %n {epsilon = 1.0e-6 : f32} : tensor<1x?x16xf32>, !llm.weight<16xf32>
  // CHECK: kern.matmul
  %q = kern.matmul %x, %wq : tensor<1x?x16xf32>, !llm.weight<16x16xbf16> -> tensor<1x?x16xf32>
  // CHECK: kern.attention {{.*}}interleaved = false{{.*}}rotary_dim = 4 : i64
  %o = kern.attention %q, %q, %q, %pos {layer = 0 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, head_dim = 8 : i64, scale = 0.35 : f32, theta = 5.0e5 : f32, rotary_dim = 4 : i64, interleaved = false}
      : tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?xi64> -> tensor<1x?x16xf32>
  // CHECK: kern.add_rms_norm
  %s, %y = kern.add_rms_norm %o, %h, %n {epsilon = 1.0e-5 : f32} : tensor<1x?x16xf32>, !llm.weight<16xf32>
  // CHECK: kern.gate_up_swiglu
  %a = kern.gate_up_swiglu %y, %wg, %wg : tensor<1x?x16xf32>, !llm.weight<24x16xf32>, !llm.weight<24x16xf32> -> tensor<1x?x24xf32>
  // CHECK: kern.swiglu
  %b = kern.swiglu %a, %a : tensor<1x?x24xf32>
  // CHECK: kern.silu
  %c = kern.silu %s : tensor<1x?x16xf32>
  // CHECK: kern.mul
  %d = kern.mul %c, %s : tensor<1x?x16xf32>
  // CHECK: kern.add
  %e = kern.add %d, %s : tensor<1x?x16xf32>
  return %e : tensor<1x?x16xf32>
}
