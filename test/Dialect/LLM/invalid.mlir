// RUN: midllama-opt %s -split-input-file -verify-diagnostics

// Grouped-query attention needs the KV heads to divide the query heads.
func.func @kv_heads_not_dividing(%q: tensor<1x4x8x8xf32>, %kv: tensor<1x4x3x8xf32>) -> tensor<1x4x8x8xf32> {
  // expected-error @+1 {{num_kv_heads (3) must divide num_heads (8)}}
  %o = llm.attention %q, %kv, %kv {num_heads = 8 : i64, num_kv_heads = 3 : i64}
      : (tensor<1x4x8x8xf32>, tensor<1x4x3x8xf32>, tensor<1x4x3x8xf32>) -> tensor<1x4x8x8xf32>
  return %o : tensor<1x4x8x8xf32>
}

// -----

func.func @attention_wrong_rank(%q: tensor<4x8x8xf32>) -> tensor<4x8x8xf32> {
  // expected-error @+1 {{q must have rank 4 ([batch, seq, heads, head_dim]), got rank 3}}
  %o = llm.attention %q, %q, %q {num_heads = 8 : i64, num_kv_heads = 8 : i64}
      : (tensor<4x8x8xf32>, tensor<4x8x8xf32>, tensor<4x8x8xf32>) -> tensor<4x8x8xf32>
  return %o : tensor<4x8x8xf32>
}

// -----

func.func @attention_heads_mismatch(%q: tensor<1x4x8x8xf32>, %kv: tensor<1x4x4x8xf32>) -> tensor<1x4x8x8xf32> {
  // expected-error @+1 {{q heads (dim 2) is 8, expected 16}}
  %o = llm.attention %q, %kv, %kv {num_heads = 16 : i64, num_kv_heads = 4 : i64}
      : (tensor<1x4x8x8xf32>, tensor<1x4x4x8xf32>, tensor<1x4x4x8xf32>) -> tensor<1x4x8x8xf32>
  return %o : tensor<1x4x8x8xf32>
}

// -----

func.func @attention_half_cache(%q: tensor<1x1x8x8xf32>, %kv: tensor<1x1x4x8xf32>, %c: tensor<1x4x7x8xf32>) -> tensor<1x1x8x8xf32> {
  // expected-error @+1 {{past must be a (key, value) pair, got 1 values}}
  %o = llm.attention %q, %kv, %kv past(%c) {num_heads = 8 : i64, num_kv_heads = 4 : i64}
      : (tensor<1x1x8x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x4x7x8xf32>) -> tensor<1x1x8x8xf32>
  return %o : tensor<1x1x8x8xf32>
}

// -----

func.func @attention_present_length(%q: tensor<1x1x8x8xf32>, %kv: tensor<1x1x4x8xf32>, %c: tensor<1x4x7x8xf32>) -> tensor<1x4x7x8xf32> {
  // expected-error @+1 {{present length (dim 2) is 7, expected 8}}
  %o, %k, %v = llm.attention %q, %kv, %kv past(%c, %c) {num_heads = 8 : i64, num_kv_heads = 4 : i64}
      : (tensor<1x1x8x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x4x7x8xf32>, tensor<1x4x7x8xf32>)
      -> (tensor<1x1x8x8xf32>, tensor<1x4x7x8xf32>, tensor<1x4x7x8xf32>)
  return %k : tensor<1x4x7x8xf32>
}

// -----

func.func @attention_cache_layout(%q: tensor<1x1x8x8xf32>, %kv: tensor<1x1x4x8xf32>, %c: tensor<1x7x4x8xf32>) -> tensor<1x1x8x8xf32> {
  // expected-error @+1 {{past kv heads (dim 1) is 7, expected 4}}
  %o = llm.attention %q, %kv, %kv past(%c, %c) {num_heads = 8 : i64, num_kv_heads = 4 : i64}
      : (tensor<1x1x8x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x7x4x8xf32>, tensor<1x7x4x8xf32>) -> tensor<1x1x8x8xf32>
  return %o : tensor<1x1x8x8xf32>
}

// -----

func.func @attention_bad_scale(%q: tensor<1x1x8x8xf32>) -> tensor<1x1x8x8xf32> {
  // expected-error @+1 {{scale must be positive}}
  %o = llm.attention %q, %q, %q {num_heads = 8 : i64, num_kv_heads = 8 : i64, scale = -1.0 : f32}
      : (tensor<1x1x8x8xf32>, tensor<1x1x8x8xf32>, tensor<1x1x8x8xf32>) -> tensor<1x1x8x8xf32>
  return %o : tensor<1x1x8x8xf32>
}

// -----

llm.param @w : !llm.weight<64x64xf32>
func.func @unknown_parameter() {
  // expected-error @+1 {{references unknown parameter @layers.0.wq}}
  %w = llm.weight @layers.0.wq : !llm.weight<64x64xf32>
  return
}

// -----

llm.param @w : !llm.weight<64x64xf32>
func.func @parameter_type_mismatch() {
  // expected-error @+1 {{type '!llm.weight<64x64xf16>' does not match the declaration of @w: '!llm.weight<64x64xf32>'}}
  %w = llm.weight @w : !llm.weight<64x64xf16>
  return
}

// -----

// expected-error @+1 {{quantization group size 128 does not fit the input dimension K = 64}}
llm.param @w : !llm.weight<64x64xf16, #llm.affine<bits = 4, group_size = 128>>

// -----

// expected-error @+1 {{affine quantization supports 2 to 8 bits, got 9}}
llm.param @w : !llm.weight<64x64xf16, #llm.affine<bits = 9, group_size = 32>>

// -----

// expected-error @+1 {{affine quantization group_size must be positive, got 0}}
llm.param @w : !llm.weight<64x64xf16, #llm.affine<bits = 4, group_size = 0>>

// -----

// expected-error @+1 {{affine_min quantization supports 2 to 8 bits, got 1}}
llm.param @w : !llm.weight<64x64xf16, #llm.affine_min<bits = 1, group_size = 32>>

// -----

// expected-error @+1 {{affine_min quantization group_size must be positive, got -4}}
llm.param @w : !llm.weight<64x64xf16, #llm.affine_min<bits = 4, group_size = -4>>

// -----

// expected-error @+1 {{quantization group size 96 does not fit the input dimension K = 64}}
llm.param @w : !llm.weight<64x64xf16, #llm.affine_min<bits = 4, group_size = 96>>

// -----

// expected-error @+1 {{affine quantization scale_block must be 0 or positive, got -16}}
llm.param @w : !llm.weight<64x256xf16, #llm.affine<bits = 6, group_size = 16, symmetric = true, scale_block = -16>>

// -----

// expected-error @+1 {{affine_min quantization scale_block must be 0 or positive, got -1}}
llm.param @w : !llm.weight<64x256xf16, #llm.affine_min<bits = 4, group_size = 32, scale_block = -1>>

// -----

// expected-error @+1 {{nf4 block_size must be a power of two in [32, 4096], got 48}}
llm.param @w : !llm.weight<64x64xf16, #llm.nf4<block_size = 48>>

// -----

// expected-error @+1 {{int8_outliers columns must be sorted and unique, got 17 before 3}}
llm.param @w : !llm.weight<64x64xf16, #llm.int8_outliers<columns = [17, 3]>>

// -----

// expected-error @+1 {{int8_outliers column 64 is out of range for the input dimension K = 64}}
llm.param @w : !llm.weight<64x64xf16, #llm.int8_outliers<columns = [3, 64]>>

// -----

// expected-error @+1 {{2:4 sparsity needs the input dimension K = 70 to be a multiple of 4}}
llm.param @w : !llm.weight<64x70xf16, #llm.n_m<2:4>>

// -----

// expected-error @+1 {{N:M sparsity needs 1 <= N < M, got 4:2}}
llm.param @w : !llm.weight<64x64xf16, #llm.n_m<4:2>>

// -----

// expected-error @+1 {{unstructured sparsity keeps 5000 weights but the weight has only 4096}}
llm.param @w : !llm.weight<64x64xf16, #llm.unstructured<nnz = 5000>>

// -----

// expected-error @+1 {{a weight has at most one storage format}}
llm.param @w : !llm.weight<64x64xf16, #llm.nf4<>, #llm.affine<bits = 4, group_size = 32>>

// -----

// expected-error @+1 {{weights are rank 1 or 2, got rank 3}}
llm.param @w : !llm.weight<2x64x64xf16>

// -----

// expected-error @+1 {{only rank-2 weights can be quantized or sparse, got rank 1}}
llm.param @w : !llm.weight<64xf16, #llm.nf4<>>

// -----

// expected-error @+1 {{an inline value is only allowed for dense weights}}
llm.param @w : !llm.weight<64x64xf16, #llm.nf4<>> = dense<0.0> : tensor<64x64xf16>

// -----

// expected-error @+1 {{inline value of type 'tensor<3xf32>' does not match the parameter type '!llm.weight<2xf32>'}}
llm.param @w : !llm.weight<2xf32> = dense<1.0> : tensor<3xf32>

// -----

func.func @param_outside_module() {
  // expected-error @+1 {{expects parent op 'builtin.module'}}
  llm.param @w : !llm.weight<2xf32>
  return
}

// -----

// expected-error @+1 {{'llm.param_file' must be a non-empty string (the parameter file path)}}
module attributes {llm.param_file = 3 : i64} {
}

// -----

// The runtime's default activations: fp32, the int8 kinds, bf16, nothing else.
// expected-error @+1 {{'llm.activations' must be "fp32", "int8", "int8-weight-groups", "bf16", "int8+bf16" or "int8-weight-groups+bf16" on a builtin.module}}
module attributes {llm.activations = "int4"} {
}

// -----

// expected-error @+1 {{'llm.activations' must be "fp32", "int8", "int8-weight-groups", "bf16", "int8+bf16" or "int8-weight-groups+bf16" on a builtin.module}}
module attributes {llm.activations = 8 : i64} {
}

// -----

// Who set them: a non-empty string.
// expected-error @+1 {{'llm.activations_set_by' must be a non-empty string on a builtin.module}}
module attributes {llm.activations = "bf16", llm.activations_set_by = ""} {
}

// -----

// The KV cache the runtime keeps by default: f32 or f16, nothing else.
// expected-error @+1 {{'llm.kv_cache' must be "f32" or "f16" on a builtin.module}}
module attributes {llm.kv_cache = "bf16"} {
}

// -----

// expected-error @+1 {{'llm.kv_cache' must be "f32" or "f16" on a builtin.module}}
module attributes {llm.kv_cache = 16 : i64} {
}

// -----

// expected-error @+1 {{unknown llm dialect attribute 'llm.paramfile'}}
module attributes {llm.paramfile = "x"} {
}

// -----

func.func @embedding_table_rank(%ids: tensor<1x4xi32>, %t: !llm.weight<64xf32>) -> tensor<1x4x64xf32> {
  // expected-error @+1 {{embedding table must be a [vocab, dim] weight, got rank 1}}
  %h = llm.embedding %ids, %t : tensor<1x4xi32>, !llm.weight<64xf32> -> tensor<1x4x64xf32>
  return %h : tensor<1x4x64xf32>
}

// -----

func.func @embedding_dim(%ids: tensor<1x4xi32>, %t: !llm.weight<512x64xf32>) -> tensor<1x4x32xf32> {
  // expected-error @+1 {{result embedding dim (dim 2) is 32, expected 64}}
  %h = llm.embedding %ids, %t : tensor<1x4xi32>, !llm.weight<512x64xf32> -> tensor<1x4x32xf32>
  return %h : tensor<1x4x32xf32>
}

// -----

func.func @rms_norm_size(%x: tensor<1x4x64xf32>, %w: !llm.weight<32xf32>) -> tensor<1x4x64xf32> {
  // expected-error @+1 {{input feature size (dim 2) is 64, expected 32}}
  %y = llm.rms_norm %x, %w : tensor<1x4x64xf32>, !llm.weight<32xf32>
  return %y : tensor<1x4x64xf32>
}

// -----

func.func @rms_norm_epsilon(%x: tensor<1x4x64xf32>, %w: !llm.weight<64xf32>) -> tensor<1x4x64xf32> {
  // expected-error @+1 {{epsilon must be positive}}
  %y = llm.rms_norm %x, %w {epsilon = 0.0 : f32} : tensor<1x4x64xf32>, !llm.weight<64xf32>
  return %y : tensor<1x4x64xf32>
}

// -----

func.func @linear_in_features(%x: tensor<1x4x60xf32>, %w: !llm.weight<172x64xf32>) -> tensor<1x4x172xf32> {
  // expected-error @+1 {{input features (60) do not match the weight's input dimension K = 64}}
  %y = llm.linear %x, %w : tensor<1x4x60xf32>, !llm.weight<172x64xf32> -> tensor<1x4x172xf32>
  return %y : tensor<1x4x172xf32>
}

// -----

func.func @linear_out_features(%x: tensor<1x4x64xf32>, %w: !llm.weight<172x64xf32>) -> tensor<1x4x64xf32> {
  // expected-error @+1 {{result output features (dim 2) is 64, expected 172}}
  %y = llm.linear %x, %w : tensor<1x4x64xf32>, !llm.weight<172x64xf32> -> tensor<1x4x64xf32>
  return %y : tensor<1x4x64xf32>
}

// -----

func.func @linear_weight_rank(%x: tensor<1x4x64xf32>, %w: !llm.weight<64xf32>) -> tensor<1x4x64xf32> {
  // expected-error @+1 {{weight must be [out, in] (rank 2), got rank 1}}
  %y = llm.linear %x, %w : tensor<1x4x64xf32>, !llm.weight<64xf32> -> tensor<1x4x64xf32>
  return %y : tensor<1x4x64xf32>
}

// -----

func.func @linear_bias(%x: tensor<4x64xf32>, %w: !llm.weight<8x64xf32>, %b: !llm.weight<7xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{bias has 7 elements, expected N = 8}}
  %y = llm.linear %x, %w, %b : tensor<4x64xf32>, !llm.weight<8x64xf32>, !llm.weight<7xf32> -> tensor<4x8xf32>
  return %y : tensor<4x8xf32>
}

// -----

func.func @linear_element_type(%x: tensor<4x64xf32>, %w: !llm.weight<8x64xf16>) -> tensor<4x8xf16> {
  // expected-error @+1 {{result element type 'f16' differs from 'f32'}}
  %y = llm.linear %x, %w : tensor<4x64xf32>, !llm.weight<8x64xf16> -> tensor<4x8xf16>
  return %y : tensor<4x8xf16>
}

// -----

func.func @rotary_dim_odd(%x: tensor<1x4x8x8xf32>, %p: tensor<1x4xi64>) -> tensor<1x4x8x8xf32> {
  // expected-error @+1 {{rotary_dim must be positive and even, got 7}}
  %y = llm.rotary %x, %p {theta = 1.0e+04 : f32, rotary_dim = 7 : i64} : tensor<1x4x8x8xf32>, tensor<1x4xi64>
  return %y : tensor<1x4x8x8xf32>
}

// -----

func.func @rotary_dim_too_large(%x: tensor<1x4x8x8xf32>, %p: tensor<1x4xi64>) -> tensor<1x4x8x8xf32> {
  // expected-error @+1 {{rotary_dim 16 exceeds head_dim 8}}
  %y = llm.rotary %x, %p {theta = 1.0e+04 : f32, rotary_dim = 16 : i64} : tensor<1x4x8x8xf32>, tensor<1x4xi64>
  return %y : tensor<1x4x8x8xf32>
}

// -----

func.func @rotary_positions(%x: tensor<1x4x8x8xf32>, %p: tensor<1x5xi64>) -> tensor<1x4x8x8xf32> {
  // expected-error @+1 {{positions seq (dim 1) is 5, expected 4}}
  %y = llm.rotary %x, %p {theta = 1.0e+04 : f32, rotary_dim = 8 : i64} : tensor<1x4x8x8xf32>, tensor<1x5xi64>
  return %y : tensor<1x4x8x8xf32>
}

// -----

func.func @rotary_theta_infinite(%x: tensor<1x4x8x8xf32>, %p: tensor<1x4xi64>) -> tensor<1x4x8x8xf32> {
  // expected-error @+1 {{theta must be a finite positive number, got INF}}
  %y = llm.rotary %x, %p {theta = 0x7F800000 : f32, rotary_dim = 8 : i64} : tensor<1x4x8x8xf32>, tensor<1x4xi64>
  return %y : tensor<1x4x8x8xf32>
}

// -----

func.func @rotary_theta_nan(%x: tensor<1x4x8x8xf32>, %p: tensor<1x4xi64>) -> tensor<1x4x8x8xf32> {
  // expected-error @+1 {{theta must be a finite positive number, got nan}}
  %y = llm.rotary %x, %p {theta = 0x7FC00000 : f32, rotary_dim = 8 : i64} : tensor<1x4x8x8xf32>, tensor<1x4xi64>
  return %y : tensor<1x4x8x8xf32>
}

// -----

func.func @rotary_theta_zero(%x: tensor<1x4x8x8xf32>, %p: tensor<1x4xi64>) -> tensor<1x4x8x8xf32> {
  // expected-error @+1 {{theta must be a finite positive number, got 0}}
  %y = llm.rotary %x, %p {theta = 0.0 : f32, rotary_dim = 8 : i64} : tensor<1x4x8x8xf32>, tensor<1x4xi64>
  return %y : tensor<1x4x8x8xf32>
}

// -----

func.func @lm_head_last_token(%h: tensor<1x4x64xf32>, %w: !llm.weight<512x64xf32>) -> tensor<1x4x512xf32> {
  // expected-error @+1 {{result seq (dim 1) is 4, expected 1}}
  %l = llm.lm_head %h, %w {last_token_only} : tensor<1x4x64xf32>, !llm.weight<512x64xf32> -> tensor<1x4x512xf32>
  return %l : tensor<1x4x512xf32>
}

// -----

func.func @lm_head_vocab(%h: tensor<1x4x64xf32>, %w: !llm.weight<512x64xf32>) -> tensor<1x4x500xf32> {
  // expected-error @+1 {{result vocab (dim 2) is 500, expected 512}}
  %l = llm.lm_head %h, %w : tensor<1x4x64xf32>, !llm.weight<512x64xf32> -> tensor<1x4x500xf32>
  return %l : tensor<1x4x500xf32>
}

// -----

func.func @swiglu_types(%g: tensor<4x172xf32>, %u: tensor<4x64xf32>) -> tensor<4x172xf32> {
  // expected-error @+1 {{requires the same type for all operands and results}}
  %a = "llm.swiglu"(%g, %u) : (tensor<4x172xf32>, tensor<4x64xf32>) -> tensor<4x172xf32>
  return %a : tensor<4x172xf32>
}

// -----

func.func @reshape_count(%x: tensor<4x64xf32>) -> tensor<4x8x7xf32> {
  // expected-error @+1 {{cannot reshape 256 elements into 224}}
  %y = llm.reshape %x : tensor<4x64xf32> -> tensor<4x8x7xf32>
  return %y : tensor<4x8x7xf32>
}

// -----

func.func @reshape_dynamic(%x: tensor<?x64xf32>) -> tensor<4x?x16xf32> {
  // expected-error @+1 {{dynamic dimensions, and the dimensions before them, must be the same in input and result}}
  %y = llm.reshape %x : tensor<?x64xf32> -> tensor<4x?x16xf32>
  return %y : tensor<4x?x16xf32>
}

// -----

func.func @reshape_dynamic_count(%x: tensor<?x?x64xf32>) -> tensor<?x?x8x4xf32> {
  // expected-error @+1 {{cannot reshape 64 elements into 32 (per leading dynamic index)}}
  %y = llm.reshape %x : tensor<?x?x64xf32> -> tensor<?x?x8x4xf32>
  return %y : tensor<?x?x8x4xf32>
}

// -----

func.func @transpose_perm(%x: tensor<2x3x4xf32>) -> tensor<2x4x3xf32> {
  // expected-error @+1 {{permutation must contain each of 0..2 once}}
  %y = llm.transpose %x {permutation = array<i64: 0, 2, 2>} : tensor<2x3x4xf32> -> tensor<2x4x3xf32>
  return %y : tensor<2x4x3xf32>
}

// -----

func.func @cast_shape(%x: tensor<2x3xf32>) -> tensor<3x2xf16> {
  // expected-error @+1 {{requires the same shape for all operands and results}}
  %y = llm.cast %x : tensor<2x3xf32> -> tensor<3x2xf16>
  return %y : tensor<3x2xf16>
}

// -----

func.func @layer_yield_types(%h: tensor<1x4x64xf32>) -> tensor<1x4x64xf32> {
  // expected-error @+1 {{llm.yield types do not match the layer's result types}}
  %y = llm.decoder_layer 0 (%h) : (tensor<1x4x64xf32>) -> tensor<1x4x64xf32> {
  ^bb0(%x: tensor<1x4x64xf32>):
    llm.yield
  }
  return %y : tensor<1x4x64xf32>
}

// -----

func.func @layer_isolated(%h: tensor<1x4x64xf32>, %other: tensor<1x4x64xf32>) -> tensor<1x4x64xf32> {
  // expected-note @+1 {{required by region isolation constraints}}
  %y = llm.decoder_layer 0 (%h) : (tensor<1x4x64xf32>) -> tensor<1x4x64xf32> {
  ^bb0(%x: tensor<1x4x64xf32>):
    // expected-error @+1 {{using value defined outside the region}}
    %s = llm.add %x, %other : tensor<1x4x64xf32>
    llm.yield %s : tensor<1x4x64xf32>
  }
  return %y : tensor<1x4x64xf32>
}

// -----

func.func @layer_index(%h: tensor<1x4x64xf32>) -> tensor<1x4x64xf32> {
  // expected-error @+1 {{layer index must be >= 0, got -1}}
  %y = llm.decoder_layer -1 (%h) : (tensor<1x4x64xf32>) -> tensor<1x4x64xf32> {
  ^bb0(%x: tensor<1x4x64xf32>):
    llm.yield %x : tensor<1x4x64xf32>
  }
  return %y : tensor<1x4x64xf32>
}

// -----

func.func @layer_arguments(%h: tensor<1x4x64xf32>) -> tensor<1x4x64xf32> {
  // expected-error @+1 {{body argument #0 has type 'tensor<1x4x64xf16>' but input #0 has type 'tensor<1x4x64xf32>'}}
  %y = llm.decoder_layer 0 (%h) : (tensor<1x4x64xf32>) -> tensor<1x4x64xf32> {
  ^bb0(%x: tensor<1x4x64xf16>):
    %c = llm.cast %x : tensor<1x4x64xf16> -> tensor<1x4x64xf32>
    llm.yield %c : tensor<1x4x64xf32>
  }
  return %y : tensor<1x4x64xf32>
}

// -----

func.func @transpose_shape(%w: !llm.weight<4x8xf32>) -> !llm.weight<4x8xf32> {
  // expected-error @+1 {{result '!llm.weight<4x8xf32>' is not the transpose of '!llm.weight<4x8xf32>'}}
  %t = llm.weight_transpose %w : !llm.weight<4x8xf32> -> !llm.weight<4x8xf32>
  return %t : !llm.weight<4x8xf32>
}

// -----

func.func @transpose_quantized(%w: !llm.weight<4x8xf16, #llm.nf4<block_size = 32>>) -> !llm.weight<8x4xf16> {
  // expected-error @+1 {{works on dense weights only}}
  %t = llm.weight_transpose %w : !llm.weight<4x8xf16, #llm.nf4<block_size = 32>> -> !llm.weight<8x4xf16>
  return %t : !llm.weight<8x4xf16>
}

// -----

func.func @slice_range(%w: !llm.weight<128x64xf32>) -> !llm.weight<32x64xf32> {
  // expected-error @+1 {{range [112, 144) is outside dimension 0 (size 128)}}
  %s = llm.weight_slice %w {axis = 0 : i64, offset = 112 : i64} : !llm.weight<128x64xf32> -> !llm.weight<32x64xf32>
  return %s : !llm.weight<32x64xf32>
}

// -----

func.func @slice_axis(%w: !llm.weight<128x64xf32>) -> !llm.weight<32x64xf32> {
  // expected-error @+1 {{axis must be 0 (rows) or 1 (columns), got 2}}
  %s = llm.weight_slice %w {axis = 2 : i64, offset = 0 : i64} : !llm.weight<128x64xf32> -> !llm.weight<32x64xf32>
  return %s : !llm.weight<32x64xf32>
}

// -----

func.func @slice_other_dim(%w: !llm.weight<128x64xf32>) -> !llm.weight<32x60xf32> {
  // expected-error @+1 {{result '!llm.weight<32x60xf32>' must keep dimension 1 of '!llm.weight<128x64xf32>'}}
  %s = llm.weight_slice %w {axis = 0 : i64, offset = 0 : i64} : !llm.weight<128x64xf32> -> !llm.weight<32x60xf32>
  return %s : !llm.weight<32x60xf32>
}

// -----

module {
  // expected-error @+1 {{'llm.rescaled' must be a non-empty string on an llm.param}}
  llm.param @w : !llm.weight<8x8xf32> {llm.rescaled = 1 : i64}
}

// -----

// expected-error @+1 {{'llm.rescaled' must be a non-empty string on an llm.param}}
module attributes {llm.rescaled = "awq"} {
}
