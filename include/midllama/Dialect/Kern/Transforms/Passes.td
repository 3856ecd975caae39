//===- Passes.td - Passes on the kern dialect ------------------*- tablegen -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// What midllama-compile does to a kern program after --convert-llm-to-kern and before the
// artifact is written: fewer kernel calls, then a buffer plan (midllama-lower-cpu runs
// these in order).
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_DIALECT_KERN_TRANSFORMS_PASSES_TD
#define MIDLLAMA_DIALECT_KERN_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def KernFuse : Pass<"kern-fuse", "::mlir::ModuleOp"> {
  let summary = "Fuse kern ops that the runtime runs better as one kernel";
  let description = [{
    - `kern.add` + `kern.rms_norm` of the sum → `kern.add_rms_norm` (one pass over the
      residual stream);
    - `kern.matmul` gate and up projections of one input + `kern.swiglu` →
      `kern.gate_up_swiglu` (the input is read once, gate and up never stored).
  }];
  let dependentDialects = ["::midllama::kern::KernDialect"];
}

def KernPlanBuffers : Pass<"kern-plan-buffers", "::mlir::ModuleOp"> {
  let summary = "Assign every activation a reusable buffer slot";
  let description = [{
    Walks `@forward` in order and gives each kern result a slot (`kern.slots`), reusing a
    slot of the same width once its last reader has run, never one an op reads (kernels do
    not work in place). The slot widths go to the function's `kern.slot_widths`; the runtime
    allocates each slot once for the longest batch it runs, so memory is planned at compile
    time, and the stories260K plan needs a handful of slots for its ~80 kernel calls.
  }];
  let dependentDialects = ["::midllama::kern::KernDialect"];
}

#endif // MIDLLAMA_DIALECT_KERN_TRANSFORMS_PASSES_TD
