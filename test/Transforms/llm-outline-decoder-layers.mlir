// --llm-outline-decoder-layers groups a flat decoder into llm.decoder_layer regions by
// dataflow. The flat input is Inputs/two-layer.mlir with its regions removed: outlining it
// must give back the same layers, so the weight statistics per layer match exactly.
//
// RUN: midllama-opt --llm-outline-decoder-layers %S/Inputs/two-layer-flat.mlir | FileCheck %s
// RUN: midllama-opt --llm-outline-decoder-layers --llm-stats %S/Inputs/two-layer-flat.mlir -o %t.discard > %t.outlined.txt
// RUN: midllama-opt --llm-stats %S/Inputs/two-layer.mlir -o %t.discard > %t.written.txt
// RUN: diff %t.outlined.txt %t.written.txt
//
// Layers already present are left alone.
// RUN: midllama-opt --llm-outline-decoder-layers %S/Inputs/two-layer.mlir | midllama-opt --llm-stats -o %t.discard | diff - %t.written.txt
//
// RUN: midllama-opt --llm-outline-decoder-layers %s -split-input-file -verify-diagnostics

// CHECK-LABEL: func.func @forward
// CHECK: %[[EMB:.+]] = llm.weight @tok_embeddings
// CHECK: %[[H0:.+]] = llm.embedding %{{.+}}, %[[EMB]]
// CHECK: %[[L0:.+]] = llm.decoder_layer 0(%[[H0]], %[[POS:.+]]) : (tensor<1x?x64xf32>, tensor<1x?xi64>) -> tensor<1x?x64xf32> {
// CHECK:   llm.weight @shared.attention_norm
// CHECK:   llm.attention
// CHECK:   llm.swiglu
// CHECK:   llm.yield %{{.+}} : tensor<1x?x64xf32>
// CHECK: %[[L1:.+]] = llm.decoder_layer 1(%[[L0]], %[[POS]])
// The shared weight is read in both layers.
// CHECK:   llm.weight @shared.attention_norm
// CHECK:   llm.weight @layers.1.attention.wq
// CHECK:   llm.yield
// CHECK: llm.rms_norm %[[L1]]
// The tied embedding stays outside, read by the LM head.
// CHECK: llm.lm_head %{{.+}}, %[[EMB]]

// -----

llm.param @n : !llm.weight<64xf32>
func.func @no_norm(%q: tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32> {
  // expected-error @+1 {{llm-outline-decoder-layers: cannot find the residual input of attention #0 (no RMSNorm feeding its queries)}}
  %o = llm.attention %q, %q, %q {num_heads = 8 : i64, num_kv_heads = 8 : i64}
      : (tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>, tensor<1x4x8x8xf32>) -> tensor<1x4x8x8xf32>
  return %o : tensor<1x4x8x8xf32>
}
