//===- LLMTypes.td - The !llm.weight type ------------------*- tablegen -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_DIALECT_LLM_IR_LLMTYPES_TD
#define MIDLLAMA_DIALECT_LLM_IR_LLMTYPES_TD

include "midllama/Dialect/LLM/IR/LLMAttrs.td"

def LLM_WeightType : TypeDef<LLM_Dialect, "Weight"> {
  let mnemonic = "weight";
  let summary = "A model parameter: logical shape, element type and storage encoding";
  let description = [{
    The value of a model parameter as the computation sees it: a rank-1 (norm weights,
    biases) or rank-2 (`[out, in]` linear weights, `[vocab, dim]` embeddings) array of
    `elementType` (f32, f16 or bf16). The optional `format` says how the stored bytes encode
    it (`#llm.affine`, `#llm.nf4`, `#llm.int8_outliers`; none means dense `elementType`) and
    the optional `sparsity` which entries are known to be zero (`#llm.n_m`,
    `#llm.unstructured`). For a quantized weight `elementType` is the type of its scales and
    of the dequantized values.

    ```mlir
    !llm.weight<64xf32>
    !llm.weight<4096x4096xf16, #llm.affine<bits = 4, group_size = 128>>
    !llm.weight<4096x4096xf16, #llm.affine<bits = 4, group_size = 128>, #llm.n_m<2:4>>
    !llm.weight<4096x4096xf16, #llm.unstructured<nnz = 8388608>>
    ```
  }];
  let parameters = (ins
    ArrayRefParameter<"int64_t", "logical shape, [out, in] for linears">:$shape,
    AttrParameter<"::mlir::Type", "f32, f16 or bf16: dense storage, or scale type">:$elementType,
    AttrParameter<"::midllama::llm::WeightFormatAttrInterface",
                  "storage format (null: dense)">:$format,
    AttrParameter<"::midllama::llm::WeightSparsityAttrInterface",
                  "sparsity pattern (null: dense)">:$sparsity);
  let builders = [
    TypeBuilder<(ins "::llvm::ArrayRef<int64_t>":$shape, "::mlir::Type":$elementType), [{
      return $_get($_ctxt, shape, elementType, WeightFormatAttrInterface(),
                   WeightSparsityAttrInterface());
    }]>
  ];
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getRank() const { return getShape().size(); }
    /// Number of logical weights (the product of the shape).
    int64_t getNumElements() const;
    /// Rows and columns of a rank-2 weight (`[out, in]`); a rank-1 weight is one row.
    int64_t getNumRows() const { return getRank() == 2 ? getShape()[0] : 1; }
    int64_t getNumColumns() const { return getShape().back(); }
    bool isDense() const { return !getFormat(); }
    /// A copy of this type with another format or sparsity (null to drop it).
    WeightType withFormat(WeightFormatAttrInterface format) const;
    WeightType withSparsity(WeightSparsityAttrInterface sparsity) const;
  }];
}

#endif // MIDLLAMA_DIALECT_LLM_IR_LLMTYPES_TD
