// Declarations that disagree with the stories260K parameter file (see llm-verify-params.test):
// the final norm with the wrong size, a layer weight as NF4 that the file holds dense, and
// an inline weight, which is not looked up.
module attributes {llm.param_file = "model.safetensors"} {
  llm.param @model.norm.weight : !llm.weight<32xf32>
  llm.param @model.layers.0.mlp.gate_proj.weight : !llm.weight<172x64xf32, #llm.nf4<>>
  llm.param @model.embed_tokens.weight : !llm.weight<512x64xf32>
  llm.param @inline : !llm.weight<2xf32> = dense<[1.0, 2.0]> : tensor<2xf32>
}
