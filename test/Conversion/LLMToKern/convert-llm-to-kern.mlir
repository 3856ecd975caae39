// --convert-llm-to-kern: layers unrolled, one kernel call per op, each layer's
// reshape/rotary/attention/reshape chain one kern.attention, the KV cache runtime state.
//
// RUN: midllama-opt --convert-llm-to-kern %S/../../Transforms/Inputs/two-layer.mlir | FileCheck %s
// RUN: midllama-opt --convert-llm-to-kern %s -split-input-file -verify-diagnostics

// The caches are gone from the signature: tokens and positions in, logits out.
// CHECK: func.func @forward(%[[TOK:.+]]: tensor<1x?xi32>, %[[POS:.+]]: tensor<1x?xi64>) -> tensor<1x1x512xf32>
// CHECK-NOT: llm.decoder_layer
// CHECK: %[[H:.+]] = kern.embed %[[TOK]]
// CHECK: %[[N:.+]] = kern.rms_norm %[[H]], %{{.+}} {epsilon = 9.99999974E-6 : f32}
// CHECK: %[[Q:.+]] = kern.matmul %[[N]], %{{.+}} : tensor<1x?x64xf32>, !llm.weight<64x64xf32> -> tensor<1x?x64xf32>
// CHECK: %[[K:.+]] = kern.matmul %[[N]]
// CHECK: %[[V:.+]] = kern.matmul %[[N]]
// The rotary embeddings of q and k are the attention's (llama2.c's interleaved pairs).
// CHECK: %[[O:.+]] = kern.attention %[[Q]], %[[K]], %[[V]], %[[POS]] {head_dim = 8 : i64, interleaved = true, layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, rotary_dim = 8 : i64, scale = 0.353553385 : f32, theta = 1.000000e+04 : f32}
// CHECK: kern.matmul %[[O]]
// CHECK: kern.add
// CHECK: kern.swiglu
// Quantized weights reach the kernels as they are stored.
// CHECK: kern.matmul %{{.+}}, %{{.+}} : tensor<1x?x64xf32>, !llm.weight<64x64xf16, #llm.affine<bits = 4, group_size = 32>>
// CHECK: kern.attention {{.*}}layer = 1 : i64
// CHECK: kern.matmul %{{.+}}, %{{.+}} {last_token_only} : tensor<1x?x64xf32>, !llm.weight<512x64xf32> -> tensor<1x1x512xf32>
// CHECK-NOT: llm.attention

// -----

llm.param @e : !llm.weight<32x8xf32>
llm.param @w : !llm.weight<8x8xf32>
llm.param @b : !llm.weight<8xf32>
func.func @bias(%t: tensor<1x4xi64>) -> tensor<1x4x8xf32> {
  %e = llm.weight @e : !llm.weight<32x8xf32>
  %x = llm.embedding %t, %e : tensor<1x4xi64>, !llm.weight<32x8xf32> -> tensor<1x4x8xf32>
  %w = llm.weight @w : !llm.weight<8x8xf32>
  %b = llm.weight @b : !llm.weight<8xf32>
  // expected-error @+1 {{convert-llm-to-kern: linear layers with a bias have no CPU kernel yet}}
  %y = llm.linear %x, %w, %b : tensor<1x4x8xf32>, !llm.weight<8x8xf32>, !llm.weight<8xf32> -> tensor<1x4x8xf32>
  return %y : tensor<1x4x8xf32>
}

// -----

llm.param @e : !llm.weight<32x8xf32>
func.func @transpose(%t: tensor<1x4xi64>) -> tensor<1x8x4xf32> {
  %e = llm.weight @e : !llm.weight<32x8xf32>
  %x = llm.embedding %t, %e : tensor<1x4xi64>, !llm.weight<32x8xf32> -> tensor<1x4x8xf32>
  // expected-error @+1 {{convert-llm-to-kern: 'llm.transpose' has no kernel in the CPU runtime}}
  %y = llm.transpose %x {permutation = array<i64: 0, 2, 1>} : tensor<1x4x8xf32> -> tensor<1x8x4xf32>
  return %y : tensor<1x8x4xf32>
}

// -----

// An activation that comes from outside the kernels (a function argument).
func.func @free_input(%x: tensor<1x4x8xf32>) -> tensor<1x4x8xf32> {
  // expected-error @+1 {{convert-llm-to-kern: an operand is not computed by any kernel}}
  %y = llm.silu %x : tensor<1x4x8xf32>
  return %y : tensor<1x4x8xf32>
}
