module attributes {llm.activations = "int8-weight-groups"} {
}
