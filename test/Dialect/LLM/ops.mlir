// Round-trip of every llm op, in custom form and through the generic form.
// RUN: midllama-opt %s | midllama-opt | FileCheck %s
// RUN: midllama-opt %s --mlir-print-op-generic | midllama-opt | FileCheck %s
// RUN: midllama-opt %s --mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC

// GENERIC: "llm.param"() <{sym_name = "tok_embeddings", type = !llm.weight<512x64xf32>}>
// GENERIC: "llm.decoder_layer"
// GENERIC: "llm.attention"
// GENERIC-SAME: num_heads = 8 : i64, num_kv_heads = 4 : i64

// CHECK: module attributes {llm.activations = "int8", llm.param_file = "tiny.safetensors"}
module attributes {llm.activations = "int8", llm.param_file = "tiny.safetensors"} {
  // CHECK-DAG: llm.param @tok_embeddings : !llm.weight<512x64xf32>
  // CHECK-DAG: llm.param @layers.0.attention_norm : !llm.weight<64xf32>
  // CHECK-DAG: llm.param @layers.0.attention.wq : !llm.weight<64x64xf16, #llm.affine<bits = 4, group_size = 32>>
  // CHECK-DAG: llm.param @layers.0.attention.wk : !llm.weight<32x64xf16, #llm.nf4<double_quant = true>>
  // CHECK-DAG: llm.param @layers.0.attention.wv : !llm.weight<32x64xf16, #llm.int8_outliers<columns = [3, 17]>>
  // CHECK-DAG: llm.param @layers.0.attention.wo : !llm.weight<64x64xf32, #llm.n_m<2:4>>
  // CHECK-DAG: llm.param @layers.0.feed_forward.w3 : !llm.weight<172x64xf16, #llm.affine_min<bits = 4, group_size = 32>>
  // CHECK-DAG: llm.param @layers.0.k_quant : !llm.weight<64x256xf16, #llm.affine_min<bits = 4, group_size = 32, scale_block = 8>>
  // CHECK-DAG: llm.param @layers.0.k_quant6 : !llm.weight<64x256xf16, #llm.affine<bits = 6, group_size = 16, symmetric = true, scale_block = 16>>
  // CHECK-DAG: llm.param @tiny_bias : !llm.weight<2xf32> = dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>
  llm.param @tok_embeddings : !llm.weight<512x64xf32>
  llm.param @layers.0.attention_norm : !llm.weight<64xf32>
  llm.param @layers.0.attention.wq : !llm.weight<64x64xf16, #llm.affine<bits = 4, group_size = 32>>
  llm.param @layers.0.attention.wk : !llm.weight<32x64xf16, #llm.nf4<block_size = 64, double_quant = true>>
  llm.param @layers.0.attention.wv : !llm.weight<32x64xf16, #llm.int8_outliers<columns = [3, 17]>>
  llm.param @layers.0.attention.wo : !llm.weight<64x64xf32, #llm.n_m<2:4>>
  llm.param @layers.0.ffn_norm : !llm.weight<64xf32>
  llm.param @layers.0.feed_forward.w1 : !llm.weight<172x64xf32, #llm.unstructured<nnz = 5504>>
  llm.param @layers.0.feed_forward.w2 : !llm.weight<64x172xf32, #llm.affine<bits = 3, group_size = 32, symmetric = true, act_order = true>>
  llm.param @layers.0.feed_forward.w3 : !llm.weight<172x64xf16, #llm.affine_min<bits = 4, group_size = 32>>
  llm.param @norm : !llm.weight<64xf32>
  llm.param @layers.0.k_quant : !llm.weight<64x256xf16, #llm.affine_min<bits = 4, group_size = 32, scale_block = 8>>
  llm.param @layers.0.k_quant6 : !llm.weight<64x256xf16, #llm.affine<bits = 6, group_size = 16, symmetric = true, scale_block = 16>>
  llm.param @tiny_bias : !llm.weight<2xf32> = dense<[1.0, 2.0]> : tensor<2xf32>

  // CHECK-LABEL: func.func @decode
  // CHECK-SAME: (%[[IDS:.+]]: tensor<1x?xi32>, %[[POS:.+]]: tensor<1x?xi64>, %[[PK:.+]]: tensor<1x4x?x8xf32>, %[[PV:.+]]: tensor<1x4x?x8xf32>)
  func.func @decode(%ids: tensor<1x?xi32>, %pos: tensor<1x?xi64>,
                    %pk: tensor<1x4x?x8xf32>, %pv: tensor<1x4x?x8xf32>)
      -> (tensor<1x1x512xf32>, tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>) {
    // CHECK: %[[EMB:.+]] = llm.weight @tok_embeddings : !llm.weight<512x64xf32>
    // CHECK: %[[H0:.+]] = llm.embedding %[[IDS]], %[[EMB]] : tensor<1x?xi32>, !llm.weight<512x64xf32> -> tensor<1x?x64xf32>
    %emb = llm.weight @tok_embeddings : !llm.weight<512x64xf32>
    %h0 = llm.embedding %ids, %emb : tensor<1x?xi32>, !llm.weight<512x64xf32> -> tensor<1x?x64xf32>
    // CHECK: %[[L:.+]]:3 = llm.decoder_layer 0(%[[H0]], %[[POS]], %[[PK]], %[[PV]])
    // CHECK: ^bb0(%[[X:.+]]: tensor<1x?x64xf32>, %[[P:.+]]: tensor<1x?xi64>, %[[CK:.+]]: tensor<1x4x?x8xf32>, %[[CV:.+]]: tensor<1x4x?x8xf32>):
    %h1:3 = llm.decoder_layer 0 (%h0, %pos, %pk, %pv)
        : (tensor<1x?x64xf32>, tensor<1x?xi64>, tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>)
        -> (tensor<1x?x64xf32>, tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>) {
    ^bb0(%x: tensor<1x?x64xf32>, %p: tensor<1x?xi64>, %ck: tensor<1x4x?x8xf32>, %cv: tensor<1x4x?x8xf32>):
      // CHECK: %[[XN:.+]] = llm.rms_norm %[[X]], %{{.+}} : tensor<1x?x64xf32>, !llm.weight<64xf32>
      %wn = llm.weight @layers.0.attention_norm : !llm.weight<64xf32>
      %xn = llm.rms_norm %x, %wn {epsilon = 1.0e-05 : f32} : tensor<1x?x64xf32>, !llm.weight<64xf32>
      %wq = llm.weight @layers.0.attention.wq : !llm.weight<64x64xf16, #llm.affine<bits = 4, group_size = 32>>
      %wk = llm.weight @layers.0.attention.wk : !llm.weight<32x64xf16, #llm.nf4<block_size = 64, double_quant = true>>
      %wv = llm.weight @layers.0.attention.wv : !llm.weight<32x64xf16, #llm.int8_outliers<columns = [3, 17]>>
      // CHECK: %[[Q:.+]] = llm.linear %[[XN]], %{{.+}} : tensor<1x?x64xf32>, !llm.weight<64x64xf16, #llm.affine<bits = 4, group_size = 32>> -> tensor<1x?x64xf32>
      %q = llm.linear %xn, %wq : tensor<1x?x64xf32>, !llm.weight<64x64xf16, #llm.affine<bits = 4, group_size = 32>> -> tensor<1x?x64xf32>
      %k = llm.linear %xn, %wk : tensor<1x?x64xf32>, !llm.weight<32x64xf16, #llm.nf4<block_size = 64, double_quant = true>> -> tensor<1x?x32xf32>
      %v = llm.linear %xn, %wv : tensor<1x?x64xf32>, !llm.weight<32x64xf16, #llm.int8_outliers<columns = [3, 17]>> -> tensor<1x?x32xf32>
      // CHECK: %[[Q4:.+]] = llm.reshape %[[Q]] : tensor<1x?x64xf32> -> tensor<1x?x8x8xf32>
      %q4 = llm.reshape %q : tensor<1x?x64xf32> -> tensor<1x?x8x8xf32>
      %k4 = llm.reshape %k : tensor<1x?x32xf32> -> tensor<1x?x4x8xf32>
      %v4 = llm.reshape %v : tensor<1x?x32xf32> -> tensor<1x?x4x8xf32>
      // CHECK: %[[QR:.+]] = llm.rotary %[[Q4]], %[[P]] {interleaved = true, rotary_dim = 8 : i64, theta = 1.000000e+04 : f32} : tensor<1x?x8x8xf32>, tensor<1x?xi64>
      %qr = llm.rotary %q4, %p {theta = 1.0e+04 : f32, rotary_dim = 8 : i64, interleaved = true} : tensor<1x?x8x8xf32>, tensor<1x?xi64>
      %kr = llm.rotary %k4, %p {theta = 1.0e+04 : f32, rotary_dim = 8 : i64, interleaved = true} : tensor<1x?x4x8xf32>, tensor<1x?xi64>
      // CHECK: %{{.+}}, %[[PRESENT:.+]]:2 = llm.attention %[[QR]], %{{.+}}, %{{.+}} past(%[[CK]], %[[CV]]) {num_heads = 8 : i64, num_kv_heads = 4 : i64}
      // CHECK-SAME: : (tensor<1x?x8x8xf32>, tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>, tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>) -> (tensor<1x?x8x8xf32>, tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>)
      %o, %nk, %nv = llm.attention %qr, %kr, %v4 past(%ck, %cv) {num_heads = 8 : i64, num_kv_heads = 4 : i64}
          : (tensor<1x?x8x8xf32>, tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>, tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>)
          -> (tensor<1x?x8x8xf32>, tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>)
      %o2 = llm.reshape %o : tensor<1x?x8x8xf32> -> tensor<1x?x64xf32>
      %wo = llm.weight @layers.0.attention.wo : !llm.weight<64x64xf32, #llm.n_m<2:4>>
      %attn = llm.linear %o2, %wo : tensor<1x?x64xf32>, !llm.weight<64x64xf32, #llm.n_m<2:4>> -> tensor<1x?x64xf32>
      // CHECK: %[[H:.+]] = llm.add %[[X]], %{{.+}} : tensor<1x?x64xf32>
      %h = llm.add %x, %attn : tensor<1x?x64xf32>
      %wf = llm.weight @layers.0.ffn_norm : !llm.weight<64xf32>
      %hn = llm.rms_norm %h, %wf : tensor<1x?x64xf32>, !llm.weight<64xf32>
      %w1 = llm.weight @layers.0.feed_forward.w1 : !llm.weight<172x64xf32, #llm.unstructured<nnz = 5504>>
      %w3 = llm.weight @layers.0.feed_forward.w3 : !llm.weight<172x64xf16, #llm.affine_min<bits = 4, group_size = 32>>
      %w2 = llm.weight @layers.0.feed_forward.w2 : !llm.weight<64x172xf32, #llm.affine<bits = 3, group_size = 32, symmetric = true, act_order = true>>
      %g = llm.linear %hn, %w1 : tensor<1x?x64xf32>, !llm.weight<172x64xf32, #llm.unstructured<nnz = 5504>> -> tensor<1x?x172xf32>
      %u = llm.linear %hn, %w3 : tensor<1x?x64xf32>, !llm.weight<172x64xf16, #llm.affine_min<bits = 4, group_size = 32>> -> tensor<1x?x172xf32>
      // CHECK: %[[A:.+]] = llm.swiglu %{{.+}}, %{{.+}} : tensor<1x?x172xf32>
      %a = llm.swiglu %g, %u : tensor<1x?x172xf32>
      %d = llm.linear %a, %w2 : tensor<1x?x172xf32>, !llm.weight<64x172xf32, #llm.affine<bits = 3, group_size = 32, symmetric = true, act_order = true>> -> tensor<1x?x64xf32>
      %y = llm.add %h, %d : tensor<1x?x64xf32>
      // CHECK: llm.yield %{{.+}}, %[[PRESENT]]#0, %[[PRESENT]]#1 : tensor<1x?x64xf32>, tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>
      llm.yield %y, %nk, %nv : tensor<1x?x64xf32>, tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>
    }
    %wn = llm.weight @norm : !llm.weight<64xf32>
    // CHECK: llm.rms_norm %[[L]]#0, %{{.+}} {epsilon = 9.99999997E-7 : f32} : tensor<1x?x64xf32>, !llm.weight<64xf32>
    %hn = llm.rms_norm %h1#0, %wn {epsilon = 1.0e-06 : f32} : tensor<1x?x64xf32>, !llm.weight<64xf32>
    // CHECK: %[[LOGITS:.+]] = llm.lm_head %{{.+}}, %[[EMB]] {last_token_only} : tensor<1x?x64xf32>, !llm.weight<512x64xf32> -> tensor<1x1x512xf32>
    %logits = llm.lm_head %hn, %emb {last_token_only} : tensor<1x?x64xf32>, !llm.weight<512x64xf32> -> tensor<1x1x512xf32>
    // CHECK: return %[[LOGITS]], %[[L]]#1, %[[L]]#2
    return %logits, %h1#1, %h1#2 : tensor<1x1x512xf32>, tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>
  }

  // Prefill without a cache that returns the new cache; all-position logits.
  // CHECK-LABEL: func.func @prefill
  func.func @prefill(%q: tensor<2x16x8x8xf16>, %k: tensor<2x16x4x8xf16>, %v: tensor<2x16x4x8xf16>, %h: tensor<2x16x64xf16>)
      -> (tensor<2x16x8x8xf16>, tensor<2x4x16x8xf16>, tensor<2x4x16x8xf16>, tensor<2x16x512xf16>) {
    // CHECK: llm.attention %{{.+}}, %{{.+}}, %{{.+}} {num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 5.000000e-01 : f32} : (tensor<2x16x8x8xf16>, tensor<2x16x4x8xf16>, tensor<2x16x4x8xf16>) -> (tensor<2x16x8x8xf16>, tensor<2x4x16x8xf16>, tensor<2x4x16x8xf16>)
    %o, %pk, %pv = llm.attention %q, %k, %v {num_heads = 8 : i64, num_kv_heads = 4 : i64, scale = 0.5 : f32}
        : (tensor<2x16x8x8xf16>, tensor<2x16x4x8xf16>, tensor<2x16x4x8xf16>)
        -> (tensor<2x16x8x8xf16>, tensor<2x4x16x8xf16>, tensor<2x4x16x8xf16>)
    %emb = llm.weight @tok_embeddings : !llm.weight<512x64xf32>
    // CHECK: llm.lm_head %{{.+}}, %{{.+}} : tensor<2x16x64xf16>, !llm.weight<512x64xf32> -> tensor<2x16x512xf16>
    %logits = llm.lm_head %h, %emb : tensor<2x16x64xf16>, !llm.weight<512x64xf32> -> tensor<2x16x512xf16>
    return %o, %pk, %pv, %logits : tensor<2x16x8x8xf16>, tensor<2x4x16x8xf16>, tensor<2x4x16x8xf16>, tensor<2x16x512xf16>
  }

  // Multi-head attention without a cache or present outputs (no KV cache export).
  // CHECK-LABEL: func.func @no_cache
  func.func @no_cache(%q: tensor<1x?x8x8xbf16>) -> tensor<1x?x8x8xbf16> {
    // CHECK: llm.attention %{{.+}}, %{{.+}}, %{{.+}} {num_heads = 8 : i64, num_kv_heads = 8 : i64} : (tensor<1x?x8x8xbf16>, tensor<1x?x8x8xbf16>, tensor<1x?x8x8xbf16>) -> tensor<1x?x8x8xbf16>
    %o = llm.attention %q, %q, %q {num_heads = 8 : i64, num_kv_heads = 8 : i64}
        : (tensor<1x?x8x8xbf16>, tensor<1x?x8x8xbf16>, tensor<1x?x8x8xbf16>) -> tensor<1x?x8x8xbf16>
    return %o : tensor<1x?x8x8xbf16>
  }

  // The importer's fallback ops, and linear with a bias.
  // CHECK-LABEL: func.func @fallbacks
  func.func @fallbacks(%x: tensor<2x4x8xf32>, %y: tensor<2x4x8xf32>, %z: tensor<2x2xf32>) -> (tensor<2x8x4xf16>, tensor<2x2xf32>) {
    // CHECK: %[[S:.+]] = llm.silu %{{.+}} : tensor<2x4x8xf32>
    %s = llm.silu %x : tensor<2x4x8xf32>
    // CHECK: %[[M:.+]] = llm.mul %[[S]], %{{.+}} : tensor<2x4x8xf32>
    %m = llm.mul %s, %y : tensor<2x4x8xf32>
    // CHECK: %[[T:.+]] = llm.transpose %[[M]] {permutation = array<i64: 0, 2, 1>} : tensor<2x4x8xf32> -> tensor<2x8x4xf32>
    %t = llm.transpose %m {permutation = array<i64: 0, 2, 1>} : tensor<2x4x8xf32> -> tensor<2x8x4xf32>
    // CHECK: llm.cast %[[T]] : tensor<2x8x4xf32> -> tensor<2x8x4xf16>
    %c = llm.cast %t : tensor<2x8x4xf32> -> tensor<2x8x4xf16>
    %w = llm.weight @tok_embeddings : !llm.weight<512x64xf32>
    %b = llm.weight @tiny_bias : !llm.weight<2xf32>
    %sq = llm.weight @tiny_bias : !llm.weight<2xf32>
    // CHECK: llm.linear %{{.+}}, %{{.+}}, %{{.+}} : tensor<2x2xf32>, !llm.weight<2x2xf32>, !llm.weight<2xf32> -> tensor<2x2xf32>
    %w2 = llm.weight @sq : !llm.weight<2x2xf32>
    %l = llm.linear %z, %w2, %b : tensor<2x2xf32>, !llm.weight<2x2xf32>, !llm.weight<2xf32> -> tensor<2x2xf32>
    return %c, %l : tensor<2x8x4xf16>, tensor<2x2xf32>
  }
  llm.param @sq : !llm.weight<2x2xf32> = dense<[[1.0, 0.0], [0.0, 1.0]]> : tensor<2x2xf32>

  // Weight layout transforms, as importers emit them before --llm-materialize-weights.
  // CHECK-LABEL: func.func @weight_transforms
  func.func @weight_transforms(%x: tensor<3x64xf32>) -> tensor<3x32xf32> {
    %w = llm.weight @tok_embeddings : !llm.weight<512x64xf32>
    // CHECK: %[[T:.+]] = llm.weight_transpose %{{.+}} {name = "emb.t"} : !llm.weight<512x64xf32> -> !llm.weight<64x512xf32>
    %t = llm.weight_transpose %w {name = "emb.t"} : !llm.weight<512x64xf32> -> !llm.weight<64x512xf32>
    // CHECK: llm.weight_slice %[[T]] {axis = 1 : i64, offset = 32 : i64} : !llm.weight<64x512xf32> -> !llm.weight<64x64xf32>
    %s = llm.weight_slice %t {axis = 1 : i64, offset = 32 : i64} : !llm.weight<64x512xf32> -> !llm.weight<64x64xf32>
    %k = llm.weight_slice %s {axis = 0 : i64, offset = 16 : i64, name = "k"} : !llm.weight<64x64xf32> -> !llm.weight<32x64xf32>
    %y = llm.linear %x, %k : tensor<3x64xf32>, !llm.weight<32x64xf32> -> tensor<3x32xf32>
    return %y : tensor<3x32xf32>
  }
}
