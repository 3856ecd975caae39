//===- KernDialect.td - The kern dialect -------------------*- tablegen -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_DIALECT_KERN_IR_KERNDIALECT_TD
#define MIDLLAMA_DIALECT_KERN_IR_KERNDIALECT_TD

include "mlir/IR/OpBase.td"

def Kern_Dialect : Dialect {
  let name = "kern";
  let summary = "The decoder as a sequence of runtime kernel calls";
  let description = [{
    `kern` is where compilation decisions are made and recorded: each op is one call of a
    runtime kernel (`runtime/cpu`, later `runtime/cuda`), so fusion is a rewrite of kern ops
    and the compiled artifact's program is a kern function written out op by op.

    Ops read weights as `!llm.weight` values (the kernel is chosen by the weight's storage
    encoding) and activations as ranked tensors `[batch, seq, width]` computed in fp32. The
    decoder layers are unrolled; the KV cache is runtime state owned by `kern.attention`
    (its `layer` attribute names the cache), not SSA values. After
    `--kern-plan-buffers`, every activation lives in a numbered buffer slot (`slot`
    attributes; the function records the slot widths), which is what the runtime allocates.
  }];
  let cppNamespace = "::midllama::kern";
  let dependentDialects = ["::midllama::llm::LLMDialect"];
  let hasOperationAttrVerify = 1;
  let extraClassDeclaration = [{
    /// Function attribute: the width (last dimension) of every buffer slot, by slot index.
    static constexpr ::llvm::StringLiteral kSlotWidthsAttrName = "kern.slot_widths";
    /// Op attribute: the buffer slot of each result.
    static constexpr ::llvm::StringLiteral kSlotsAttrName = "kern.slots";
  }];
}

#endif // MIDLLAMA_DIALECT_KERN_IR_KERNDIALECT_TD
