//===- Passes.td - midllama transformation and analysis passes -*- tablegen -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_TRANSFORMS_PASSES_TD
#define MIDLLAMA_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def LLMStats : Pass<"llm-stats", "::mlir::ModuleOp"> {
  let summary = "Report parameter counts, bytes by storage format and weight memory";
  let description = [{
    Prints, for every decoder layer and for the parameters used outside layers, the number
    of parameters and the bytes their storage encodings take; the same broken down by
    storage format (dense f32/f16/bf16, int4 g128, nf4, int8 + outliers, N:M, ...); and the
    estimated weight memory of the module (each stored tensor padded to the parameter file's
    64-byte alignment, as it is once mapped). Bytes follow from the `!llm.weight` types alone
    (docs/weights.md), so the report is exact without reading the parameter file. A
    parameter used by several layers (tied weights) is counted once, under "shared".
    Parameters declared but never read are reported as "unused".

    The IR is not changed. The report goes to stdout or to `output`, as a table or as JSON:

    ```
    midllama-opt --llm-stats='format=json output=stats.json' model.mlir -o /dev/null
    ```
  }];
  let options = [
    Option<"format", "format", "std::string", /*default=*/"\"table\"",
           "Report format: 'table' (for people) or 'json' (for tools)">,
    Option<"output", "output", "std::string", /*default=*/"\"-\"",
           "File to write the report to ('-' for stdout); written atomically">,
    Option<"perParam", "per-param", "bool", /*default=*/"false",
           "Also list every parameter in the table (JSON always lists them)">,
  ];
  let dependentDialects = ["::midllama::llm::LLMDialect"];
}

#endif // MIDLLAMA_TRANSFORMS_PASSES_TD
