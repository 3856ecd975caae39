// RUN: midllama-opt --canonicalize %s | FileCheck %s

// Folds and canonical forms of the llm ops.

module {
  llm.param @table : !llm.weight<512x64xf32>

  // A tied embedding read through two unnamed transposes is the table itself: no second
  // parameter is ever materialized for it.
  // CHECK-LABEL: func.func @transpose_of_transpose
  // CHECK: %[[W:.+]] = llm.weight @table
  // CHECK-NOT: llm.weight_transpose
  // CHECK: llm.linear %{{.+}}, %[[W]]
  func.func @transpose_of_transpose(%x: tensor<1x4x64xf32>) -> tensor<1x4x512xf32> {
    %w = llm.weight @table : !llm.weight<512x64xf32>
    %t = llm.weight_transpose %w : !llm.weight<512x64xf32> -> !llm.weight<64x512xf32>
    %tt = llm.weight_transpose %t : !llm.weight<64x512xf32> -> !llm.weight<512x64xf32>
    %y = llm.linear %x, %tt : tensor<1x4x64xf32>, !llm.weight<512x64xf32> -> tensor<1x4x512xf32>
    return %y : tensor<1x4x512xf32>
  }

  // A named transpose is a parameter somebody asked for: it stays.
  // CHECK-LABEL: func.func @named_transpose_stays
  // CHECK: llm.weight_transpose
  // CHECK: llm.weight_transpose %{{.+}} {name = "lm_head.weight"}
  func.func @named_transpose_stays(%x: tensor<1x4x64xf32>) -> tensor<1x4x512xf32> {
    %w = llm.weight @table : !llm.weight<512x64xf32>
    %t = llm.weight_transpose %w : !llm.weight<512x64xf32> -> !llm.weight<64x512xf32>
    %tt = llm.weight_transpose %t {name = "lm_head.weight"} : !llm.weight<64x512xf32> -> !llm.weight<512x64xf32>
    %y = llm.linear %x, %tt : tensor<1x4x64xf32>, !llm.weight<512x64xf32> -> tensor<1x4x512xf32>
    return %y : tensor<1x4x512xf32>
  }

  // mul(silu(gate), up) is the fused SwiGLU, in either operand order.
  // CHECK-LABEL: func.func @swiglu
  // CHECK-SAME: (%[[G:.+]]: tensor<2x172xf32>, %[[U:.+]]: tensor<2x172xf32>)
  // CHECK: %[[A:.+]] = llm.swiglu %[[G]], %[[U]]
  // CHECK: %[[B:.+]] = llm.swiglu %[[G]], %[[U]]
  // CHECK-NOT: llm.silu
  func.func @swiglu(%g: tensor<2x172xf32>, %u: tensor<2x172xf32>) -> (tensor<2x172xf32>, tensor<2x172xf32>) {
    %s = llm.silu %g : tensor<2x172xf32>
    %a = llm.mul %s, %u : tensor<2x172xf32>
    %s2 = llm.silu %g : tensor<2x172xf32>
    %b = llm.mul %u, %s2 : tensor<2x172xf32>
    return %a, %b : tensor<2x172xf32>, tensor<2x172xf32>
  }
}
