//===- LLMAttrs.td - Weight storage formats ----------------*- tablegen -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The attributes that say how the bytes of an `!llm.weight` encode it. A weight has at most
// one quantization format and at most one sparsity pattern; no format means dense storage in
// the weight's element type. The byte layout each implies is in docs/weights.md and
// dialects/LLM/IR/WeightLayout.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_DIALECT_LLM_IR_LLMATTRS_TD
#define MIDLLAMA_DIALECT_LLM_IR_LLMATTRS_TD

include "midllama/Dialect/LLM/IR/LLMAttrInterfaces.td"
include "midllama/Dialect/LLM/IR/LLMDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

class LLM_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<LLM_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

/// A storage format: implements the format interface, and those of its methods with a
/// default that it overrides (`overrides`).
class LLM_FormatAttr<string name, string attrMnemonic, list<string> overrides = []>
    : LLM_Attr<name, attrMnemonic,
               [DeclareAttrInterfaceMethods<LLM_WeightFormatAttrInterface, overrides>]>;
/// A sparsity pattern.
class LLM_SparsityAttr<string name, string attrMnemonic>
    : LLM_Attr<name, attrMnemonic, [DeclareAttrInterfaceMethods<LLM_WeightSparsityAttrInterface>]>;

//===----------------------------------------------------------------------===//
// Quantization formats
//===----------------------------------------------------------------------===//

def LLM_AffineQuantAttr : LLM_FormatAttr<"AffineQuant", "affine", ["hasIndependentRows"]> {
  let summary = "Affine integer quantization in groups of input columns (RTN, GPTQ, AWQ)";
  let description = [{
    Each output row is split into groups of `group_size` consecutive input columns (the last
    group may be shorter when `group_size` does not divide K). A group has a scale in the
    weight's element type and, unless `symmetric`, an integer zero point; a weight is
    `(q - zero) * scale` with `q` in `[0, 2^bits)`. Symmetric groups use the implicit zero
    `2^(bits-1)`. With `act_order`, column `k` belongs to group `g_idx[k]` (GPTQ's
    activation-order quantization) and the parameter file holds a `g_idx` table.

    With `scale_block = B > 0` the scales are quantized too, as ggml's Q6_K stores them: a
    group's scale is a signed 8-bit code (`scales`, int8) times a super-scale in the
    weight's element type that `B` consecutive groups of the row share (`scale_scales`).
    Q6_K is `bits = 6, group_size = 16, symmetric = true, scale_block = 16` with fp16
    super-scales: 6.5625 bits per weight, as in the GGUF file.

    ```mlir
    llm.param @w : !llm.weight<4096x11008xf16, #llm.affine<bits = 4, group_size = 128>>
    llm.param @v : !llm.weight<64x172xf32, #llm.affine<bits = 3, group_size = 32, symmetric = true, act_order = true>>
    llm.param @k : !llm.weight<576x1536xf16, #llm.affine<bits = 6, group_size = 16, symmetric = true, scale_block = 16>>
    ```
  }];
  let parameters = (ins
    AttrParameter<"unsigned", "bits per weight, 2 to 8">:$bits,
    AttrParameter<"int64_t", "input columns per group, 1 to K">:$group_size,
    DefaultValuedParameter<"bool", "false", "implicit zero point 2^(bits-1)">:$symmetric,
    DefaultValuedParameter<"bool", "false", "GPTQ activation order: a g_idx table maps "
                           "columns to groups">:$act_order,
    DefaultValuedParameter<"int64_t", "0", "groups per super-scale when the scales are "
                           "int8 codes; 0: scales in the element type">:$scale_block);
  let builders = [
    AttrBuilder<(ins "unsigned":$bits, "int64_t":$group_size, "bool":$symmetric,
                     "bool":$act_order), [{
      return $_get($_ctxt, bits, group_size, symmetric, act_order, /*scale_block=*/0);
    }]>
  ];
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def LLM_AffineMinQuantAttr : LLM_FormatAttr<"AffineMinQuant", "affine_min",
                                            ["hasIndependentRows"]> {
  let summary = "Integer quantization in groups of input columns with a float minimum (ggml Q4_1)";
  let description = [{
    As `#llm.affine`, each output row is split into groups of `group_size` consecutive input
    columns (the last group may be shorter), but a group has a scale and a minimum, both in
    the weight's element type, instead of a scale and an integer zero point: a weight is
    `q * scale + min` with `q` in `[0, 2^bits)`. The minimum need not be a multiple of the
    scale, so the format holds ggml's Q4_1 blocks (`bits = 4, group_size = 32`, fp16 `d` and
    `m`) bit for bit.

    With `scale_block = B > 0` the scales and minimums are quantized too, as ggml's Q4_K
    and Q5_K store them: a group's scale is an unsigned 8-bit code (`scales`, uint8; ggml's
    6-bit sub-block scales) times a super-scale in the element type shared by `B`
    consecutive groups of the row (`scale_scales`), its minimum likewise (`mins`, uint8,
    times `min_scales`: ggml's `-dmin`). Q4_K is `bits = 4, group_size = 32,
    scale_block = 8` with fp16 super-scales: 4.625 bits per weight (ggml packs the 6-bit
    codes into 4.5).

    ```mlir
    llm.param @w : !llm.weight<576x1536xf16, #llm.affine_min<bits = 4, group_size = 32>>
    llm.param @k : !llm.weight<768x2048xf16, #llm.affine_min<bits = 4, group_size = 32, scale_block = 8>>
    ```
  }];
  let parameters = (ins
    AttrParameter<"unsigned", "bits per weight, 2 to 8">:$bits,
    AttrParameter<"int64_t", "input columns per group, 1 to K">:$group_size,
    DefaultValuedParameter<"int64_t", "0", "groups per super-scale when the scales and "
                           "minimums are uint8 codes; 0: both in the element type">:$scale_block);
  let builders = [
    AttrBuilder<(ins "unsigned":$bits, "int64_t":$group_size), [{
      return $_get($_ctxt, bits, group_size, /*scale_block=*/0);
    }]>
  ];
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def LLM_NF4Attr : LLM_FormatAttr<"NF4", "nf4"> {
  let summary = "4-bit NormalFloat blocks (QLoRA), optionally with double-quantized absmax";
  let description = [{
    The row-major weight is cut into blocks of `block_size` values; each block stores one
    absmax and each value the index of the nearest of the 16 NF4 codes to `w / absmax`, two
    codes per byte. With `double_quant`, the fp32 absmax values have their mean subtracted and
    are quantized to 8 bits in blocks of `dq_block_size`, one fp32 scale per block
    (Dettmers et al. 2023, as bitsandbytes does it).

    ```mlir
    llm.param @w : !llm.weight<172x64xf16, #llm.nf4<block_size = 64, double_quant = true>>
    ```
  }];
  let parameters = (ins
    DefaultValuedParameter<"int64_t", "64", "values per absmax block, a power of two in "
                           "[32, 4096]">:$block_size,
    DefaultValuedParameter<"bool", "false", "absmax values quantized to 8 bits">:$double_quant,
    DefaultValuedParameter<"int64_t", "256", "absmax values per fp32 scale when "
                           "double-quantized">:$dq_block_size);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def LLM_Int8OutliersAttr : LLM_FormatAttr<"Int8Outliers", "int8_outliers",
                                          ["appendTypeTensors"]> {
  let summary = "LLM.int8(): int8 rows with a set of input columns kept in fp16";
  let description = [{
    Vector-wise int8 weights (one absmax scale per output row) except for the input columns in
    `columns`, the outlier features found at calibration (Dettmers et al. 2022), whose weights
    are kept in fp16 and multiplied with the matching activation columns in fp16. `columns`
    is sorted, unique and within `[0, K)`.

    ```mlir
    llm.param @w : !llm.weight<64x64xf16, #llm.int8_outliers<columns = [3, 17]>>
    ```
  }];
  let parameters = (ins
    AttrParameter<"::mlir::DenseI64ArrayAttr", "input columns kept in fp16, sorted">:$columns);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

//===----------------------------------------------------------------------===//
// Sparsity patterns
//===----------------------------------------------------------------------===//

def LLM_NMSparsityAttr : LLM_SparsityAttr<"NMSparsity", "n_m"> {
  let summary = "N:M structured sparsity along the input dimension";
  let description = [{
    At most `n` of every `m` consecutive input columns of a row are non-zero (2:4 is the
    pattern sparse tensor cores execute). Stored compressed: the kept values (quantized if the
    weight has a format) plus ceil(log2(m))-bit indices per kept value. K must be a multiple
    of `m`.

    ```mlir
    llm.param @w : !llm.weight<172x64xf16, #llm.n_m<2:4>>
    ```
  }];
  let parameters = (ins
    AttrParameter<"int64_t", "values kept in each run of M">:$n,
    AttrParameter<"int64_t", "run length along the input dimension">:$m);
  // Printed `<2:4>` as people write it (the declarative form would print `<2 : 4>`).
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

def LLM_UnstructuredSparsityAttr : LLM_SparsityAttr<"UnstructuredSparsity", "unstructured"> {
  let summary = "Unstructured sparsity with `nnz` kept weights";
  let description = [{
    Any subset of `nnz` weights is non-zero. The weight is stored compressed (a row bitmask,
    row offsets and the kept values) when that takes fewer bytes than dense storage with
    explicit zeros, and dense otherwise; the choice follows from the type alone, so byte
    counts are exact without reading the parameter file.

    ```mlir
    llm.param @w : !llm.weight<172x64xf32, #llm.unstructured<nnz = 5504>>
    ```
  }];
  let parameters = (ins AttrParameter<"int64_t", "number of kept (non-zero) weights">:$nnz);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

#endif // MIDLLAMA_DIALECT_LLM_IR_LLMATTRS_TD
