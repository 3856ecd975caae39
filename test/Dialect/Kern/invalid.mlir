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

// -----

// The buffer plan (--kern-plan-buffers) is verified where it is written down.
// expected-error @+1 {{'kern.slot_widths': slot 1 has width 0 (must be positive)}}
func.func @zero_width(%x: tensor<1x?x16xf32>) -> tensor<1x?x16xf32> attributes {kern.slot_widths = array<i64: 16, 0>} {
  return %x : tensor<1x?x16xf32>
}

// -----

func.func @slot_count(%x: tensor<1x?x16xf32>) -> tensor<1x?x16xf32> attributes {kern.slot_widths = array<i64: 16>} {
  // expected-error @+1 {{'kern.slots' has 2 slots for 1 results}}
  %y = kern.silu %x {kern.slots = array<i64: 0, 0>} : tensor<1x?x16xf32>
  return %y : tensor<1x?x16xf32>
}

// -----

func.func @slot_outside_plan(%x: tensor<1x?x16xf32>) -> tensor<1x?x16xf32> attributes {kern.slot_widths = array<i64: 16>} {
  // expected-error @+1 {{'kern.slots': slot 1 is not in the function's plan of 1 slots}}
  %y = kern.silu %x {kern.slots = array<i64: 1>} : tensor<1x?x16xf32>
  return %y : tensor<1x?x16xf32>
}

// -----

func.func @slot_width(%x: tensor<1x?x16xf32>) -> tensor<1x?x16xf32> attributes {kern.slot_widths = array<i64: 16, 32>} {
  // expected-error @+1 {{'kern.slots': result #0 is 16 wide, but slot 1 holds 32}}
  %y = kern.silu %x {kern.slots = array<i64: 1>} : tensor<1x?x16xf32>
  return %y : tensor<1x?x16xf32>
}

// -----

func.func @unknown(%x: tensor<1x?x16xf32>) -> tensor<1x?x16xf32> {
  // expected-error @+1 {{unknown kern dialect attribute 'kern.slot'}}
  %y = kern.silu %x {kern.slot = array<i64: 0>} : tensor<1x?x16xf32>
  return %y : tensor<1x?x16xf32>
}
