//===- Passes.td - midllama dialect conversions ---------------*- tablegen -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// Conversions from one midllama dialect to another, named convert-<src>-to-<dst>. The
// first step of midllama-compile (the midllama-lower-cpu pipeline, include/midllama/
// Pipelines/Pipelines.h): llm, the IR compression reasons about, to kern, the runtime's
// kernel calls.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_CONVERSION_PASSES_TD
#define MIDLLAMA_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertLLMToKern : Pass<"convert-llm-to-kern", "::mlir::ModuleOp"> {
  let summary = "Lower the llm decoder to kern ops, one per runtime kernel call";
  let description = [{
    Unrolls the `llm.decoder_layer` regions and rewrites each llm op as the kern op of the
    kernel that will run it: projections become `kern.matmul`, the head-split reshapes,
    rotary embeddings and `llm.attention` of a layer become one `kern.attention` on the flat
    q/k/v projections (which rotates q and k, appends to the layer's KV cache and attends),
    casts disappear (kern computes activations in fp32 whatever the weights' precision).
    The KV cache becomes runtime state: past/present arguments and results are removed, so
    `@forward` takes the tokens and their positions and returns the logits.
  }];
  let dependentDialects = ["::midllama::kern::KernDialect", "::midllama::llm::LLMDialect"];
}

#endif // MIDLLAMA_CONVERSION_PASSES_TD
