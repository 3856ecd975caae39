// two-layer.mlir without its llm.decoder_layer regions, as an op-by-op importer emits
// it (derived from two-layer.mlir). A two-layer stories260K-shaped decoder (dim 64, 8 heads, 4 KV heads, FFN 172, vocab 512)
// whose second layer uses every storage encoding; the embedding is tied to the LM head.
// Used by llm-stats.mlir, whose expected numbers are worked out by hand there.
module attributes {llm.param_file = "two-layer.safetensors"} {
  llm.param @tok_embeddings : !llm.weight<512x64xf32>
  llm.param @shared.attention_norm : !llm.weight<64xf32>
  llm.param @layers.0.attention.wq : !llm.weight<64x64xf32>
  llm.param @layers.0.attention.wk : !llm.weight<32x64xf32>
  llm.param @layers.0.attention.wv : !llm.weight<32x64xf32>
  llm.param @layers.0.attention.wo : !llm.weight<64x64xf32>
  llm.param @layers.0.ffn_norm : !llm.weight<64xf32>
  llm.param @layers.0.feed_forward.w1 : !llm.weight<172x64xf32>
  llm.param @layers.0.feed_forward.w2 : !llm.weight<64x172xf32>
  llm.param @layers.0.feed_forward.w3 : !llm.weight<172x64xf32>
  llm.param @layers.1.attention.wq : !llm.weight<64x64xf16, #llm.affine<bits = 4, group_size = 32>>
  llm.param @layers.1.attention.wk : !llm.weight<32x64xf16, #llm.nf4<block_size = 64, double_quant = true>>
  llm.param @layers.1.attention.wv : !llm.weight<32x64xf16, #llm.int8_outliers<columns = [3, 17]>>
  llm.param @layers.1.attention.wo : !llm.weight<64x64xf16, #llm.n_m<2:4>>
  llm.param @layers.1.ffn_norm : !llm.weight<64xf32>
  llm.param @layers.1.feed_forward.w1 : !llm.weight<172x64xf16, #llm.affine<bits = 4, group_size = 32>, #llm.n_m<2:4>>
  llm.param @layers.1.feed_forward.w2 : !llm.weight<64x172xf32, #llm.affine<bits = 3, group_size = 32, symmetric = true, act_order = true>>
  llm.param @layers.1.feed_forward.w3 : !llm.weight<172x64xf32, #llm.unstructured<nnz = 5504>>
  llm.param @norm : !llm.weight<64xf32>
  llm.param @unused.bias : !llm.weight<172xf32>

  func.func @forward(%ids: tensor<1x?xi32>, %pos: tensor<1x?xi64>) -> tensor<1x1x512xf32> {
    %emb = llm.weight @tok_embeddings : !llm.weight<512x64xf32>
    %h0 = llm.embedding %ids, %emb : tensor<1x?xi32>, !llm.weight<512x64xf32> -> tensor<1x?x64xf32>
    %L0_an = llm.weight @shared.attention_norm : !llm.weight<64xf32>
    %L0_xn = llm.rms_norm %h0, %L0_an : tensor<1x?x64xf32>, !llm.weight<64xf32>
    %L0_wq = llm.weight @layers.0.attention.wq : !llm.weight<64x64xf32>
    %L0_wk = llm.weight @layers.0.attention.wk : !llm.weight<32x64xf32>
    %L0_wv = llm.weight @layers.0.attention.wv : !llm.weight<32x64xf32>
    %L0_wo = llm.weight @layers.0.attention.wo : !llm.weight<64x64xf32>
    %L0_q = llm.linear %L0_xn, %L0_wq : tensor<1x?x64xf32>, !llm.weight<64x64xf32> -> tensor<1x?x64xf32>
    %L0_k = llm.linear %L0_xn, %L0_wk : tensor<1x?x64xf32>, !llm.weight<32x64xf32> -> tensor<1x?x32xf32>
    %L0_v = llm.linear %L0_xn, %L0_wv : tensor<1x?x64xf32>, !llm.weight<32x64xf32> -> tensor<1x?x32xf32>
    %L0_q4 = llm.reshape %L0_q : tensor<1x?x64xf32> -> tensor<1x?x8x8xf32>
    %L0_k4 = llm.reshape %L0_k : tensor<1x?x32xf32> -> tensor<1x?x4x8xf32>
    %L0_v4 = llm.reshape %L0_v : tensor<1x?x32xf32> -> tensor<1x?x4x8xf32>
    %L0_qr = llm.rotary %L0_q4, %pos {theta = 1.0e+04 : f32, rotary_dim = 8 : i64, interleaved = true} : tensor<1x?x8x8xf32>, tensor<1x?xi64>
    %L0_kr = llm.rotary %L0_k4, %pos {theta = 1.0e+04 : f32, rotary_dim = 8 : i64, interleaved = true} : tensor<1x?x4x8xf32>, tensor<1x?xi64>
    %L0_o = llm.attention %L0_qr, %L0_kr, %L0_v4 {num_heads = 8 : i64, num_kv_heads = 4 : i64}
        : (tensor<1x?x8x8xf32>, tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>) -> tensor<1x?x8x8xf32>
    %L0_o2 = llm.reshape %L0_o : tensor<1x?x8x8xf32> -> tensor<1x?x64xf32>
    %L0_attn = llm.linear %L0_o2, %L0_wo : tensor<1x?x64xf32>, !llm.weight<64x64xf32> -> tensor<1x?x64xf32>
    %L0_h = llm.add %h0, %L0_attn : tensor<1x?x64xf32>
    %L0_fn = llm.weight @layers.0.ffn_norm : !llm.weight<64xf32>
    %L0_hn = llm.rms_norm %L0_h, %L0_fn : tensor<1x?x64xf32>, !llm.weight<64xf32>
    %L0_w1 = llm.weight @layers.0.feed_forward.w1 : !llm.weight<172x64xf32>
    %L0_w2 = llm.weight @layers.0.feed_forward.w2 : !llm.weight<64x172xf32>
    %L0_w3 = llm.weight @layers.0.feed_forward.w3 : !llm.weight<172x64xf32>
    %L0_g = llm.linear %L0_hn, %L0_w1 : tensor<1x?x64xf32>, !llm.weight<172x64xf32> -> tensor<1x?x172xf32>
    %L0_u = llm.linear %L0_hn, %L0_w3 : tensor<1x?x64xf32>, !llm.weight<172x64xf32> -> tensor<1x?x172xf32>
    %L0_a = llm.swiglu %L0_g, %L0_u : tensor<1x?x172xf32>
    %L0_d = llm.linear %L0_a, %L0_w2 : tensor<1x?x172xf32>, !llm.weight<64x172xf32> -> tensor<1x?x64xf32>
    %h1 = llm.add %L0_h, %L0_d : tensor<1x?x64xf32>
    %L1_an = llm.weight @shared.attention_norm : !llm.weight<64xf32>
    %L1_xn = llm.rms_norm %h1, %L1_an : tensor<1x?x64xf32>, !llm.weight<64xf32>
    %L1_wq = llm.weight @layers.1.attention.wq : !llm.weight<64x64xf16, #llm.affine<bits = 4, group_size = 32>>
    %L1_wk = llm.weight @layers.1.attention.wk : !llm.weight<32x64xf16, #llm.nf4<block_size = 64, double_quant = true>>
    %L1_wv = llm.weight @layers.1.attention.wv : !llm.weight<32x64xf16, #llm.int8_outliers<columns = [3, 17]>>
    %L1_wo = llm.weight @layers.1.attention.wo : !llm.weight<64x64xf16, #llm.n_m<2:4>>
    %L1_q = llm.linear %L1_xn, %L1_wq : tensor<1x?x64xf32>, !llm.weight<64x64xf16, #llm.affine<bits = 4, group_size = 32>> -> tensor<1x?x64xf32>
    %L1_k = llm.linear %L1_xn, %L1_wk : tensor<1x?x64xf32>, !llm.weight<32x64xf16, #llm.nf4<block_size = 64, double_quant = true>> -> tensor<1x?x32xf32>
    %L1_v = llm.linear %L1_xn, %L1_wv : tensor<1x?x64xf32>, !llm.weight<32x64xf16, #llm.int8_outliers<columns = [3, 17]>> -> tensor<1x?x32xf32>
    %L1_q4 = llm.reshape %L1_q : tensor<1x?x64xf32> -> tensor<1x?x8x8xf32>
    %L1_k4 = llm.reshape %L1_k : tensor<1x?x32xf32> -> tensor<1x?x4x8xf32>
    %L1_v4 = llm.reshape %L1_v : tensor<1x?x32xf32> -> tensor<1x?x4x8xf32>
    %L1_qr = llm.rotary %L1_q4, %pos {theta = 1.0e+04 : f32, rotary_dim = 8 : i64, interleaved = true} : tensor<1x?x8x8xf32>, tensor<1x?xi64>
    %L1_kr = llm.rotary %L1_k4, %pos {theta = 1.0e+04 : f32, rotary_dim = 8 : i64, interleaved = true} : tensor<1x?x4x8xf32>, tensor<1x?xi64>
    %L1_o = llm.attention %L1_qr, %L1_kr, %L1_v4 {num_heads = 8 : i64, num_kv_heads = 4 : i64}
        : (tensor<1x?x8x8xf32>, tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>) -> tensor<1x?x8x8xf32>
    %L1_o2 = llm.reshape %L1_o : tensor<1x?x8x8xf32> -> tensor<1x?x64xf32>
    %L1_attn = llm.linear %L1_o2, %L1_wo : tensor<1x?x64xf32>, !llm.weight<64x64xf16, #llm.n_m<2:4>> -> tensor<1x?x64xf32>
    %L1_h = llm.add %h1, %L1_attn : tensor<1x?x64xf32>
    %L1_fn = llm.weight @layers.1.ffn_norm : !llm.weight<64xf32>
    %L1_hn = llm.rms_norm %L1_h, %L1_fn : tensor<1x?x64xf32>, !llm.weight<64xf32>
    %L1_w1 = llm.weight @layers.1.feed_forward.w1 : !llm.weight<172x64xf16, #llm.affine<bits = 4, group_size = 32>, #llm.n_m<2:4>>
    %L1_w2 = llm.weight @layers.1.feed_forward.w2 : !llm.weight<64x172xf32, #llm.affine<bits = 3, group_size = 32, symmetric = true, act_order = true>>
    %L1_w3 = llm.weight @layers.1.feed_forward.w3 : !llm.weight<172x64xf32, #llm.unstructured<nnz = 5504>>
    %L1_g = llm.linear %L1_hn, %L1_w1 : tensor<1x?x64xf32>, !llm.weight<172x64xf16, #llm.affine<bits = 4, group_size = 32>, #llm.n_m<2:4>> -> tensor<1x?x172xf32>
    %L1_u = llm.linear %L1_hn, %L1_w3 : tensor<1x?x64xf32>, !llm.weight<172x64xf32, #llm.unstructured<nnz = 5504>> -> tensor<1x?x172xf32>
    %L1_a = llm.swiglu %L1_g, %L1_u : tensor<1x?x172xf32>
    %L1_d = llm.linear %L1_a, %L1_w2 : tensor<1x?x172xf32>, !llm.weight<64x172xf32, #llm.affine<bits = 3, group_size = 32, symmetric = true, act_order = true>> -> tensor<1x?x64xf32>
    %h2 = llm.add %L1_h, %L1_d : tensor<1x?x64xf32>
    %nw = llm.weight @norm : !llm.weight<64xf32>
    %hn = llm.rms_norm %h2, %nw : tensor<1x?x64xf32>, !llm.weight<64xf32>
    %logits = llm.lm_head %hn, %emb {last_token_only} : tensor<1x?x64xf32>, !llm.weight<512x64xf32> -> tensor<1x1x512xf32>
    return %logits : tensor<1x1x512xf32>
  }
}
