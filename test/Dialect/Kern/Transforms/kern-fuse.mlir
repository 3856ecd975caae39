// --kern-fuse: residual add + RMSNorm, and gate/up projections + SwiGLU, become one kernel
// each; what does not fit the pattern stays.
//
// RUN: midllama-opt --kern-fuse %s | FileCheck %s

llm.param @n : !llm.weight<16xf32>
llm.param @g : !llm.weight<24x16xf32>
llm.param @u : !llm.weight<24x16xf32>
llm.param @u16 : !llm.weight<24x16xf16>

// CHECK-LABEL: func.func @block
// CHECK-SAME: (%[[X:.+]]: tensor<1x?x16xf32>, %[[R:.+]]: tensor<1x?x16xf32>)
// CHECK: %[[W:.+]] = llm.weight @n
// CHECK: %[[SUM:.+]], %[[NORM:.+]] = kern.add_rms_norm %[[X]], %[[R]], %[[W]] {epsilon = 9.99999974E-6 : f32}
// CHECK: %[[ACT:.+]] = kern.gate_up_swiglu %[[NORM]], %{{.+}}, %{{.+}} : tensor<1x?x16xf32>, !llm.weight<24x16xf32>, !llm.weight<24x16xf32> -> tensor<1x?x24xf32>
// CHECK-NOT: kern.matmul
// CHECK-NOT: kern.swiglu
// CHECK: return %[[SUM]], %[[ACT]]
func.func @block(%x: tensor<1x?x16xf32>, %r: tensor<1x?x16xf32>) -> (tensor<1x?x16xf32>, tensor<1x?x24xf32>) {
  %s = kern.add %x, %r : tensor<1x?x16xf32>
  %w = llm.weight @n : !llm.weight<16xf32>
  %n = kern.rms_norm %s, %w {epsilon = 1.0e-5 : f32} : tensor<1x?x16xf32>, !llm.weight<16xf32>
  %wg = llm.weight @g : !llm.weight<24x16xf32>
  %wu = llm.weight @u : !llm.weight<24x16xf32>
  %g = kern.matmul %n, %wg : tensor<1x?x16xf32>, !llm.weight<24x16xf32> -> tensor<1x?x24xf32>
  %u = kern.matmul %n, %wu : tensor<1x?x16xf32>, !llm.weight<24x16xf32> -> tensor<1x?x24xf32>
  %a = kern.swiglu %g, %u : tensor<1x?x24xf32>
  return %s, %a : tensor<1x?x16xf32>, tensor<1x?x24xf32>
}

// Gate and up stored differently (one kernel reads one format), or a projection read
// elsewhere too: not fused. A sum read before the norm: not fused either.
// CHECK-LABEL: func.func @not_fused
// CHECK: kern.add
// CHECK: kern.rms_norm
// CHECK: kern.swiglu
// CHECK-NOT: kern.gate_up_swiglu
func.func @not_fused(%x: tensor<1x?x16xf32>, %r: tensor<1x?x16xf32>) -> (tensor<1x?x16xf32>, tensor<1x?x24xf32>, tensor<1x?x16xf32>) {
  %s = kern.add %x, %r : tensor<1x?x16xf32>
  %early = kern.silu %s : tensor<1x?x16xf32>
  %w = llm.weight @n : !llm.weight<16xf32>
  %n = kern.rms_norm %s, %w {epsilon = 1.0e-5 : f32} : tensor<1x?x16xf32>, !llm.weight<16xf32>
  %wg = llm.weight @g : !llm.weight<24x16xf32>
  %wu = llm.weight @u16 : !llm.weight<24x16xf16>
  %g = kern.matmul %n, %wg : tensor<1x?x16xf32>, !llm.weight<24x16xf32> -> tensor<1x?x24xf32>
  %u = kern.matmul %n, %wu : tensor<1x?x16xf32>, !llm.weight<24x16xf16> -> tensor<1x?x24xf32>
  %a = kern.swiglu %g, %u : tensor<1x?x24xf32>
  return %n, %a, %early : tensor<1x?x16xf32>, tensor<1x?x24xf32>, tensor<1x?x16xf32>
}
