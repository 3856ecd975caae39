// --kern-plan-buffers: each result gets a slot; a slot is reused once its value's last
// reader has run, only by a value of the same width, never by an op that reads it.
//
// RUN: midllama-opt --kern-plan-buffers %s | FileCheck %s

llm.param @w : !llm.weight<16x16xf32>
llm.param @n : !llm.weight<16xf32>
llm.param @head : !llm.weight<512x16xf32>

// CHECK-LABEL: func.func @chain
// CHECK-SAME: attributes {kern.slot_widths = array<i64: 16, 16, 16, 512>}
func.func @chain(%x: tensor<1x?x16xf32>) -> tensor<1x1x512xf32> {
  %w = llm.weight @w : !llm.weight<16x16xf32>
  %n = llm.weight @n : !llm.weight<16xf32>
  // CHECK: kern.matmul {{.*}}kern.slots = array<i64: 0>
  %a = kern.matmul %x, %w : tensor<1x?x16xf32>, !llm.weight<16x16xf32> -> tensor<1x?x16xf32>
  // %a is still read by the add below: a new slot.
  // CHECK: kern.rms_norm {{.*}}kern.slots = array<i64: 1>
  %b = kern.rms_norm %a, %n {epsilon = 1.0e-5 : f32} : tensor<1x?x16xf32>, !llm.weight<16xf32>
  // %a and %b are live: a third slot. Nothing reads %c, so its slot is free right after.
  // CHECK: kern.silu {{.*}}kern.slots = array<i64: 2>
  %c = kern.silu %b : tensor<1x?x16xf32>
  // %a and %b die here: the result may not take their slots (it reads them) ...
  // CHECK: kern.add {{.*}}kern.slots = array<i64: 2>
  %d = kern.add %a, %b : tensor<1x?x16xf32>
  // ... but the next op can.
  // CHECK: kern.matmul {{.*}}kern.slots = array<i64: 0>
  %e = kern.matmul %d, %w : tensor<1x?x16xf32>, !llm.weight<16x16xf32> -> tensor<1x?x16xf32>
  // Another width gets its own slot.
  // CHECK: kern.matmul {{.*}}kern.slots = array<i64: 3>
  %l = llm.weight @head : !llm.weight<512x16xf32>
  %f = kern.matmul %e, %l {last_token_only} : tensor<1x?x16xf32>, !llm.weight<512x16xf32> -> tensor<1x1x512xf32>
  return %f : tensor<1x1x512xf32>
}
