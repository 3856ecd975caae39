// --llm-name-weights names weights after their roles, read from the structure of outlined
// layers. Direct parameters are renamed (llm.stored_as keeps their name in the parameter
// file); transformed ones get the transform's `name`; a tied head keeps the embedding's name.
//
// RUN: midllama-opt --llm-name-weights %s | FileCheck %s
// A module already named so (the llama2.c import's) is left as it is.
// RUN: midllama-opt --llm-name-weights %s | midllama-opt --llm-name-weights | FileCheck %s
// And a module without layers is left alone.
// RUN: midllama-opt --llm-name-weights %S/Inputs/two-layer-flat.mlir | FileCheck %s --check-prefix=FLAT

// CHECK-DAG: llm.param @model.embed_tokens.weight : !llm.weight<32x16xf32> {llm.stored_as = "val_1"}
// CHECK-DAG: llm.param @model.layers.0.input_layernorm.weight : !llm.weight<16xf32> {llm.stored_as = "g1"}
// CHECK-DAG: llm.param @model.layers.0.post_attention_layernorm.weight : !llm.weight<16xf32> {llm.stored_as = "g2"}
// CHECK-DAG: llm.param @model.norm.weight : !llm.weight<16xf32> {llm.stored_as = "g3"}
// The packed QKV parameter itself has no role; its slices do.
// CHECK-DAG: llm.param @qkv : !llm.weight<16x32xf32>
// CHECK-DAG: llm.param @model.layers.0.mlp.down_proj.weight : !llm.weight<16x24xf32, #llm.affine<bits = 4, group_size = 8, symmetric = true>> {llm.stored_as = "down_q4"}
// CHECK: llm.decoder_layer 0
// CHECK: llm.weight @model.layers.0.input_layernorm.weight
// CHECK: llm.weight_slice %{{.+}} {axis = 0 : i64, name = "model.layers.0.self_attn.q_proj.weight", offset = 0 : i64}
// CHECK: llm.weight_slice %{{.+}} {axis = 0 : i64, name = "model.layers.0.self_attn.k_proj.weight", offset = 16 : i64}
// CHECK: llm.weight_slice %{{.+}} {axis = 0 : i64, name = "model.layers.0.self_attn.v_proj.weight", offset = 24 : i64}
// CHECK: llm.weight_transpose %{{.+}} {name = "model.layers.0.self_attn.o_proj.weight"}
// CHECK: llm.weight_transpose %{{.+}} {name = "model.layers.0.mlp.gate_proj.weight"}
// CHECK: llm.weight_transpose %{{.+}} {name = "model.layers.0.mlp.up_proj.weight"}
// CHECK: llm.weight @model.layers.0.mlp.down_proj.weight
// CHECK: llm.weight @model.norm.weight
// CHECK: %[[HEAD:.+]] = llm.weight @model.embed_tokens.weight
// CHECK: llm.linear %{{.+}}, %[[HEAD]]

// FLAT: llm.param @tok_embeddings

module {
  llm.param @val_1 : !llm.weight<32x16xf32>
  llm.param @g1 : !llm.weight<16xf32>
  llm.param @g2 : !llm.weight<16xf32>
  llm.param @g3 : !llm.weight<16xf32>
  llm.param @qkv : !llm.weight<16x32xf32>
  llm.param @wo : !llm.weight<16x16xf32>
  llm.param @wg : !llm.weight<16x24xf32>
  llm.param @wu : !llm.weight<16x24xf32>
  llm.param @down_q4 : !llm.weight<16x24xf32, #llm.affine<bits = 4, group_size = 8, symmetric = true>>
  func.func @forward(%ids: tensor<1x?xi64>, %pos: tensor<1x?xi64>) -> tensor<1x?x32xf32> {
    %e = llm.weight @val_1 : !llm.weight<32x16xf32>
    %h = llm.embedding %ids, %e : tensor<1x?xi64>, !llm.weight<32x16xf32> -> tensor<1x?x16xf32>
    %l = llm.decoder_layer 0(%h, %pos) : (tensor<1x?x16xf32>, tensor<1x?xi64>) -> tensor<1x?x16xf32> {
    ^bb0(%x: tensor<1x?x16xf32>, %p: tensor<1x?xi64>):
      %g1 = llm.weight @g1 : !llm.weight<16xf32>
      %n1 = llm.rms_norm %x, %g1 : tensor<1x?x16xf32>, !llm.weight<16xf32>
      %qkv = llm.weight @qkv : !llm.weight<16x32xf32>
      %qkvt = llm.weight_transpose %qkv : !llm.weight<16x32xf32> -> !llm.weight<32x16xf32>
      %wq = llm.weight_slice %qkvt {axis = 0 : i64, offset = 0 : i64} : !llm.weight<32x16xf32> -> !llm.weight<16x16xf32>
      %wk = llm.weight_slice %qkvt {axis = 0 : i64, offset = 16 : i64} : !llm.weight<32x16xf32> -> !llm.weight<8x16xf32>
      %wv = llm.weight_slice %qkvt {axis = 0 : i64, offset = 24 : i64} : !llm.weight<32x16xf32> -> !llm.weight<8x16xf32>
      %q = llm.linear %n1, %wq : tensor<1x?x16xf32>, !llm.weight<16x16xf32> -> tensor<1x?x16xf32>
      %k = llm.linear %n1, %wk : tensor<1x?x16xf32>, !llm.weight<8x16xf32> -> tensor<1x?x8xf32>
      %v = llm.linear %n1, %wv : tensor<1x?x16xf32>, !llm.weight<8x16xf32> -> tensor<1x?x8xf32>
      %q4 = llm.reshape %q : tensor<1x?x16xf32> -> tensor<1x?x2x8xf32>
      %k4 = llm.reshape %k : tensor<1x?x8xf32> -> tensor<1x?x1x8xf32>
      %v4 = llm.reshape %v : tensor<1x?x8xf32> -> tensor<1x?x1x8xf32>
      %qr = llm.rotary %q4, %p {rotary_dim = 8 : i64, theta = 1.0e4 : f32} : tensor<1x?x2x8xf32>, tensor<1x?xi64>
      %kr = llm.rotary %k4, %p {rotary_dim = 8 : i64, theta = 1.0e4 : f32} : tensor<1x?x1x8xf32>, tensor<1x?xi64>
      %a = llm.attention %qr, %kr, %v4 {num_heads = 2 : i64, num_kv_heads = 1 : i64} : (tensor<1x?x2x8xf32>, tensor<1x?x1x8xf32>, tensor<1x?x1x8xf32>) -> tensor<1x?x2x8xf32>
      %a3 = llm.reshape %a : tensor<1x?x2x8xf32> -> tensor<1x?x16xf32>
      %wo = llm.weight @wo : !llm.weight<16x16xf32>
      %wot = llm.weight_transpose %wo : !llm.weight<16x16xf32> -> !llm.weight<16x16xf32>
      %o = llm.linear %a3, %wot : tensor<1x?x16xf32>, !llm.weight<16x16xf32> -> tensor<1x?x16xf32>
      %r1 = llm.add %x, %o : tensor<1x?x16xf32>
      %g2 = llm.weight @g2 : !llm.weight<16xf32>
      %n2 = llm.rms_norm %r1, %g2 : tensor<1x?x16xf32>, !llm.weight<16xf32>
      %wg = llm.weight @wg : !llm.weight<16x24xf32>
      %wgt = llm.weight_transpose %wg : !llm.weight<16x24xf32> -> !llm.weight<24x16xf32>
      %wu = llm.weight @wu : !llm.weight<16x24xf32>
      %wut = llm.weight_transpose %wu : !llm.weight<16x24xf32> -> !llm.weight<24x16xf32>
      %gate = llm.linear %n2, %wgt : tensor<1x?x16xf32>, !llm.weight<24x16xf32> -> tensor<1x?x24xf32>
      %up = llm.linear %n2, %wut : tensor<1x?x16xf32>, !llm.weight<24x16xf32> -> tensor<1x?x24xf32>
      %act = llm.swiglu %gate, %up : tensor<1x?x24xf32>
      %wd = llm.weight @down_q4 : !llm.weight<16x24xf32, #llm.affine<bits = 4, group_size = 8, symmetric = true>>
      %d = llm.linear %act, %wd : tensor<1x?x24xf32>, !llm.weight<16x24xf32, #llm.affine<bits = 4, group_size = 8, symmetric = true>> -> tensor<1x?x16xf32>
      %r2 = llm.add %r1, %d : tensor<1x?x16xf32>
      llm.yield %r2 : tensor<1x?x16xf32>
    }
    %g3 = llm.weight @g3 : !llm.weight<16xf32>
    %n = llm.rms_norm %l, %g3 : tensor<1x?x16xf32>, !llm.weight<16xf32>
    %head = llm.weight @val_1 : !llm.weight<32x16xf32>
    %logits = llm.linear %n, %head : tensor<1x?x16xf32>, !llm.weight<32x16xf32> -> tensor<1x?x32xf32>
    return %logits : tensor<1x?x32xf32>
  }
}
