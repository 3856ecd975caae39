// A two-layer stories260K-shaped decoder (dim 64, 8 heads, 4 KV heads, FFN 172, vocab 512)
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
    %h1 = llm.decoder_layer 0 (%h0, %pos) : (tensor<1x?x64xf32>, tensor<1x?xi64>) -> tensor<1x?x64xf32> {
    ^bb0(%x: tensor<1x?x64xf32>, %p: tensor<1x?xi64>):
      %an = llm.weight @shared.attention_norm : !llm.weight<64xf32>
      %xn = llm.rms_norm %x, %an : tensor<1x?x64xf32>, !llm.weight<64xf32>
      %wq = llm.weight @layers.0.attention.wq : !llm.weight<64x64xf32>
      %wk = llm.weight @layers.0.attention.wk : !llm.weight<32x64xf32>
      %wv = llm.weight @layers.0.attention.wv : !llm.weight<32x64xf32>
      %wo = llm.weight @layers.0.attention.wo : !llm.weight<64x64xf32>
      %q = llm.linear %xn, %wq : tensor<1x?x64xf32>, !llm.weight<64x64xf32> -> tensor<1x?x64xf32>
      %k = llm.linear %xn, %wk : tensor<1x?x64xf32>, !llm.weight<32x64xf32> -> tensor<1x?x32xf32>
      %v = llm.linear %xn, %wv : tensor<1x?x64xf32>, !llm.weight<32x64xf32> -> tensor<1x?x32xf32>
      %q4 = llm.reshape %q : tensor<1x?x64xf32> -> tensor<1x?x8x8xf32>
      %k4 = llm.reshape %k : tensor<1x?x32xf32> -> tensor<1x?x4x8xf32>
      %v4 = llm.reshape %v : tensor<1x?x32xf32> -> tensor<1x?x4x8xf32>
      %qr = llm.rotary %q4, %p {theta = 1.0e+04 : f32, rotary_dim = 8 : i64, interleaved = true} : tensor<1x?x8x8xf32>, tensor<1x?xi64>
      %kr = llm.rotary %k4, %p {theta = 1.0e+04 : f32, rotary_dim = 8 : i64, interleaved = true} : tensor<1x?x4x8xf32>, tensor<1x?xi64>
      %o = llm.attention %qr, %kr, %v4 {num_heads = 8 : i64, num_kv_heads = 4 : i64}
          : (tensor<1x?x8x8xf32>, tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>) -> tensor<1x?x8x8xf32>
      %o2 = llm.reshape %o : tensor<1x?x8x8xf32> -> tensor<1x?x64xf32>
      %attn = llm.linear %o2, %wo : tensor<1x?x64xf32>, !llm.weight<64x64xf32> -> tensor<1x?x64xf32>
      %h = llm.add %x, %attn : tensor<1x?x64xf32>
      %fn = llm.weight @layers.0.ffn_norm : !llm.weight<64xf32>
      %hn = llm.rms_norm %h, %fn : tensor<1x?x64xf32>, !llm.weight<64xf32>
      %w1 = llm.weight @layers.0.feed_forward.w1 : !llm.weight<172x64xf32>
      %w2 = llm.weight @layers.0.feed_forward.w2 : !llm.weight<64x172xf32>
      %w3 = llm.weight @layers.0.feed_forward.w3 : !llm.weight<172x64xf32>
      %g = llm.linear %hn, %w1 : tensor<1x?x64xf32>, !llm.weight<172x64xf32> -> tensor<1x?x172xf32>
      %u = llm.linear %hn, %w3 : tensor<1x?x64xf32>, !llm.weight<172x64xf32> -> tensor<1x?x172xf32>
      %a = llm.swiglu %g, %u : tensor<1x?x172xf32>
      %d = llm.linear %a, %w2 : tensor<1x?x172xf32>, !llm.weight<64x172xf32> -> tensor<1x?x64xf32>
      %y = llm.add %h, %d : tensor<1x?x64xf32>
      llm.yield %y : tensor<1x?x64xf32>
    }
    %h2 = llm.decoder_layer 1 (%h1, %pos) : (tensor<1x?x64xf32>, tensor<1x?xi64>) -> tensor<1x?x64xf32> {
    ^bb0(%x: tensor<1x?x64xf32>, %p: tensor<1x?xi64>):
      %an = llm.weight @shared.attention_norm : !llm.weight<64xf32>
      %xn = llm.rms_norm %x, %an : tensor<1x?x64xf32>, !llm.weight<64xf32>
      %wq = llm.weight @layers.1.attention.wq : !llm.weight<64x64xf16, #llm.affine<bits = 4, group_size = 32>>
      %wk = llm.weight @layers.1.attention.wk : !llm.weight<32x64xf16, #llm.nf4<block_size = 64, double_quant = true>>
      %wv = llm.weight @layers.1.attention.wv : !llm.weight<32x64xf16, #llm.int8_outliers<columns = [3, 17]>>
      %wo = llm.weight @layers.1.attention.wo : !llm.weight<64x64xf16, #llm.n_m<2:4>>
      %q = llm.linear %xn, %wq : tensor<1x?x64xf32>, !llm.weight<64x64xf16, #llm.affine<bits = 4, group_size = 32>> -> tensor<1x?x64xf32>
      %k = llm.linear %xn, %wk : tensor<1x?x64xf32>, !llm.weight<32x64xf16, #llm.nf4<block_size = 64, double_quant = true>> -> tensor<1x?x32xf32>
      %v = llm.linear %xn, %wv : tensor<1x?x64xf32>, !llm.weight<32x64xf16, #llm.int8_outliers<columns = [3, 17]>> -> tensor<1x?x32xf32>
      %q4 = llm.reshape %q : tensor<1x?x64xf32> -> tensor<1x?x8x8xf32>
      %k4 = llm.reshape %k : tensor<1x?x32xf32> -> tensor<1x?x4x8xf32>
      %v4 = llm.reshape %v : tensor<1x?x32xf32> -> tensor<1x?x4x8xf32>
      %qr = llm.rotary %q4, %p {theta = 1.0e+04 : f32, rotary_dim = 8 : i64, interleaved = true} : tensor<1x?x8x8xf32>, tensor<1x?xi64>
      %kr = llm.rotary %k4, %p {theta = 1.0e+04 : f32, rotary_dim = 8 : i64, interleaved = true} : tensor<1x?x4x8xf32>, tensor<1x?xi64>
      %o = llm.attention %qr, %kr, %v4 {num_heads = 8 : i64, num_kv_heads = 4 : i64}
          : (tensor<1x?x8x8xf32>, tensor<1x?x4x8xf32>, tensor<1x?x4x8xf32>) -> tensor<1x?x8x8xf32>
      %o2 = llm.reshape %o : tensor<1x?x8x8xf32> -> tensor<1x?x64xf32>
      %attn = llm.linear %o2, %wo : tensor<1x?x64xf32>, !llm.weight<64x64xf16, #llm.n_m<2:4>> -> tensor<1x?x64xf32>
      %h = llm.add %x, %attn : tensor<1x?x64xf32>
      %fn = llm.weight @layers.1.ffn_norm : !llm.weight<64xf32>
      %hn = llm.rms_norm %h, %fn : tensor<1x?x64xf32>, !llm.weight<64xf32>
      %w1 = llm.weight @layers.1.feed_forward.w1 : !llm.weight<172x64xf16, #llm.affine<bits = 4, group_size = 32>, #llm.n_m<2:4>>
      %w2 = llm.weight @layers.1.feed_forward.w2 : !llm.weight<64x172xf32, #llm.affine<bits = 3, group_size = 32, symmetric = true, act_order = true>>
      %w3 = llm.weight @layers.1.feed_forward.w3 : !llm.weight<172x64xf32, #llm.unstructured<nnz = 5504>>
      %g = llm.linear %hn, %w1 : tensor<1x?x64xf32>, !llm.weight<172x64xf16, #llm.affine<bits = 4, group_size = 32>, #llm.n_m<2:4>> -> tensor<1x?x172xf32>
      %u = llm.linear %hn, %w3 : tensor<1x?x64xf32>, !llm.weight<172x64xf32, #llm.unstructured<nnz = 5504>> -> tensor<1x?x172xf32>
      %a = llm.swiglu %g, %u : tensor<1x?x172xf32>
      %d = llm.linear %a, %w2 : tensor<1x?x172xf32>, !llm.weight<64x172xf32, #llm.affine<bits = 3, group_size = 32, symmetric = true, act_order = true>> -> tensor<1x?x64xf32>
      %y = llm.add %h, %d : tensor<1x?x64xf32>
      llm.yield %y : tensor<1x?x64xf32>
    }
    %nw = llm.weight @norm : !llm.weight<64xf32>
    %hn = llm.rms_norm %h2, %nw : tensor<1x?x64xf32>, !llm.weight<64xf32>
    %logits = llm.lm_head %hn, %emb {last_token_only} : tensor<1x?x64xf32>, !llm.weight<512x64xf32> -> tensor<1x1x512xf32>
    return %logits : tensor<1x1x512xf32>
  }
}
