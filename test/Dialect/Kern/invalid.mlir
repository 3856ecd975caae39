// RUN: midllama-opt %s -split-input-file -verify-diagnostics

llm.param @w : !llm.weight<24x16xf32>
func.func @matmul_width(%x: tensor<1x?x8xf32>) -> tensor<1x?x24xf32> {
  %w = llm.weight @w : !llm.weight<24x16xf32>
  // expected-error @+1 {{'kern.matmul' op weight '!llm.weight<24x16xf32>' does not map width 8 to 24}}
  %y = kern.matmul %x, %w : tensor<1x?x8xf32>, !llm.weight<24x16xf32> -> tensor<1x?x24xf32>
  return %y : tensor<1x?x24xf32>
}

// -----

func.func @attention_heads(%q: tensor<1x?x16xf32>, %pos: tensor<1x?xi64>) -> tensor<1x?x16xf32> {
  // expected-error @+1 {{'kern.attention' op num_heads must be a positive multiple of num_kv_heads}}
  %o = kern.attention %q, %q, %q, %pos {layer = 0 : i64, num_heads = 2 : i64, num_kv_heads = 3 : i64, head_dim = 8 : i64, scale = 0.35 : f32, theta = 1.0e4 : f32, rotary_dim = 8 : i64, interleaved = false}
      : tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?xi64> -> tensor<1x?x16xf32>
  return %o : tensor<1x?x16xf32>
}

// -----

func.func @attention_rotary(%q: tensor<1x?x16xf32>, %pos: tensor<1x?xi64>) -> tensor<1x?x16xf32> {
  // expected-error @+1 {{'kern.attention' op rotary_dim must be even and at most head_dim}}
  %o = kern.attention %q, %q, %q, %pos {layer = 0 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, head_dim = 8 : i64, scale = 0.35 : f32, theta = 1.0e4 : f32, rotary_dim = 10 : i64, interleaved = false}
      : tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?xi64> -> tensor<1x?x16xf32>
  return %o : tensor<1x?x16xf32>
}

// -----

func.func @f16_activation(%x: tensor<1x?x16xf16>) -> tensor<1x?x16xf16> {
  // expected-error @+1 {{'kern.silu' op operand #0 must be ranked tensor of 32-bit float values, but got 'tensor<1x?x16xf16>'}}
  %y = kern.silu %x : tensor<1x?x16xf16>
  return %y : tensor<1x?x16xf16>
}

// -----

func.func @attention_theta(%q: tensor<1x?x16xf32>, %pos: tensor<1x?xi64>) -> tensor<1x?x16xf32> {
  // expected-error @+1 {{'kern.attention' op theta must be a finite positive number, got INF}}
  %o = kern.attention %q, %q, %q, %pos {layer = 0 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, head_dim = 8 : i64, scale = 0.35 : f32, theta = 0x7F800000 : f32, rotary_dim = 8 : i64, interleaved = false}
      : tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?xi64> -> tensor<1x?x16xf32>
  return %o : tensor<1x?x16xf32>
}

// -----

func.func @attention_scale(%q: tensor<1x?x16xf32>, %pos: tensor<1x?xi64>) -> tensor<1x?x16xf32> {
  // expected-error @+1 {{'kern.attention' op scale must be a finite positive number, got nan}}
  %o = kern.attention %q, %q, %q, %pos {layer = 0 : i64, num_heads = 2 : i64, num_kv_heads = 2 : i64, head_dim = 8 : i64, scale = 0x7FC00000 : f32, theta = 1.0e4 : f32, rotary_dim = 8 : i64, interleaved = false}
      : tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?xi64> -> tensor<1x?x16xf32>
  return %o : tensor<1x?x16xf32>
}
