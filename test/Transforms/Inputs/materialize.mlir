// Reads the stories260K parameter file written next to it by llm-materialize-weights.test.
module attributes {llm.param_file = "model.safetensors"} {
  llm.param @model.layers.0.mlp.up_proj.weight : !llm.weight<172x64xf32>
  llm.param @model.layers.0.self_attn.q_proj.weight : !llm.weight<64x64xf32>
  llm.param @model.layers.0.self_attn.k_proj.weight : !llm.weight<32x64xf32>
  llm.param @small : !llm.weight<2x3xf32> = dense<[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]> : tensor<2x3xf32>

  func.func @f(%x64: tensor<4x64xf32>, %x172: tensor<4x172xf32>, %x2: tensor<4x2xf32>)
      -> (tensor<4x172xf32>, tensor<4x64xf32>, tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x3xf32>) {
    %up = llm.weight @model.layers.0.mlp.up_proj.weight : !llm.weight<172x64xf32>
    %upT = llm.weight_transpose %up {name = "up.T"} : !llm.weight<172x64xf32> -> !llm.weight<64x172xf32>
    %upTT = llm.weight_transpose %upT : !llm.weight<64x172xf32> -> !llm.weight<172x64xf32>
    %a = llm.linear %x64, %upTT : tensor<4x64xf32>, !llm.weight<172x64xf32> -> tensor<4x172xf32>
    %b = llm.linear %x172, %upT : tensor<4x172xf32>, !llm.weight<64x172xf32> -> tensor<4x64xf32>
    %q = llm.weight @model.layers.0.self_attn.q_proj.weight : !llm.weight<64x64xf32>
    %qs = llm.weight_slice %q {axis = 0 : i64, offset = 16 : i64} : !llm.weight<64x64xf32> -> !llm.weight<32x64xf32>
    %c = llm.linear %x64, %qs : tensor<4x64xf32>, !llm.weight<32x64xf32> -> tensor<4x32xf32>
    %k = llm.weight @model.layers.0.self_attn.k_proj.weight : !llm.weight<32x64xf32>
    %d = llm.linear %x64, %k : tensor<4x64xf32>, !llm.weight<32x64xf32> -> tensor<4x32xf32>
    %s = llm.weight @small : !llm.weight<2x3xf32>
    %sc = llm.weight_slice %s {axis = 1 : i64, offset = 1 : i64, name = "small.cols"} : !llm.weight<2x3xf32> -> !llm.weight<2x2xf32>
    %sct = llm.weight_transpose %sc : !llm.weight<2x2xf32> -> !llm.weight<2x2xf32>
    %e0 = llm.linear %x2, %sct : tensor<4x2xf32>, !llm.weight<2x2xf32> -> tensor<4x2xf32>
    %sT = llm.weight_transpose %s : !llm.weight<2x3xf32> -> !llm.weight<3x2xf32>
    %e = llm.linear %x2, %sT : tensor<4x2xf32>, !llm.weight<3x2xf32> -> tensor<4x3xf32>
    return %a, %b, %c, %d, %e : tensor<4x172xf32>, tensor<4x64xf32>, tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x3xf32>
  }
}
