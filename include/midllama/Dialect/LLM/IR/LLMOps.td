//===- LLMOps.td - Ops of the llm dialect ------------------*- tablegen -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_DIALECT_LLM_IR_LLMOPS_TD
#define MIDLLAMA_DIALECT_LLM_IR_LLMOPS_TD

include "midllama/Dialect/LLM/IR/LLMTypes.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/IR/RegionKindInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

class LLM_Op<string mnemonic, list<Trait> traits = []>
    : Op<LLM_Dialect, mnemonic, traits>;

def LLM_FloatTensor : TensorOf<[F32, F16, BF16]>;
def LLM_TokenTensor : TensorOf<[I32, I64]>;

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

def LLM_ParamOp : LLM_Op<"param", [Symbol, HasParent<"::mlir::ModuleOp">]> {
  let summary = "Declares a named model parameter and its storage encoding";
  let description = [{
    Declares the parameter `sym_name` of type `type`. Its bytes are the tensors named
    `sym_name` (dense) or `sym_name.<component>` (encoded) in the module's parameter file
    (`llm.param_file`); docs/weights.md lists the components of each encoding. Small test
    modules may give a dense parameter's value inline instead.

    ```mlir
    module attributes {llm.param_file = "stories260K.safetensors"} {
      llm.param @layers.0.attention.wq : !llm.weight<64x64xf32>
      llm.param @layers.0.feed_forward.w1 : !llm.weight<172x64xf16, #llm.affine<bits = 4, group_size = 32>>
      llm.param @tiny : !llm.weight<2xf32> = dense<[1.0, 2.0]> : tensor<2xf32>
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name,
                       TypeAttrOf<LLM_WeightType>:$type,
                       OptionalAttr<ElementsAttr>:$value);
  let assemblyFormat = "$sym_name `:` $type (`=` $value^)? attr-dict";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::midllama::llm::WeightType getWeightType() {
      return ::llvm::cast<::midllama::llm::WeightType>(getType());
    }
  }];
}

def LLM_WeightOp : LLM_Op<"weight",
    [Pure, DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "Reads a declared parameter";
  let description = [{
    The value of the parameter `name`, which must be declared by an `llm.param` of the same
    type in the enclosing module.

    ```mlir
    %w = llm.weight @layers.0.attention.wq : !llm.weight<64x64xf32>
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$name);
  let results = (outs LLM_WeightType:$result);
  let assemblyFormat = "$name attr-dict `:` qualified(type($result))";
  let extraClassDeclaration = [{
    ::midllama::llm::WeightType getWeightType() {
      return ::llvm::cast<::midllama::llm::WeightType>(getResult().getType());
    }
  }];
}

def LLM_WeightTransposeOp : LLM_Op<"weight_transpose", [Pure]> {
  let summary = "A dense rank-2 weight with its dimensions swapped";
  let description = [{
    Importers use it where a source stores a weight `[in, out]` (ONNX MatMul's B operand)
    and the `llm` ops want `[out, in]`. `--llm-materialize-weights` folds it into a new
    parameter, named `name` when given. An unnamed transpose of a transpose folds to the
    original weight (a tied embedding read as `Transpose` then as a MatMul operand), so
    it never costs a second copy.

    ```mlir
    %wt = llm.weight_transpose %w {name = "model.layers.0.mlp.up_proj.weight"} : !llm.weight<64x172xf32> -> !llm.weight<172x64xf32>
    ```
  }];
  let arguments = (ins LLM_WeightType:$input, OptionalAttr<StrAttr>:$name);
  let results = (outs LLM_WeightType:$result);
  let assemblyFormat = "$input attr-dict `:` qualified(type($input)) `->` qualified(type($result))";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def LLM_WeightSliceOp : LLM_Op<"weight_slice", [Pure]> {
  let summary = "A contiguous range of rows or columns of a dense weight";
  let description = [{
    Rows (`axis = 0`) or columns (`axis = 1`) `[offset, offset + size)` of a dense weight,
    or rows of an affine-quantized one (its codes, scales and zero points are per row);
    importers use it to split fused projections (one QKV weight into q, k and v).
    `--llm-materialize-weights` folds it into a new parameter, named `name` when given.

    ```mlir
    %wk = llm.weight_slice %qkv {axis = 0 : i64, offset = 64 : i64, name = "model.layers.0.self_attn.k_proj.weight"} : !llm.weight<128x64xf32> -> !llm.weight<32x64xf32>
    ```
  }];
  let arguments = (ins LLM_WeightType:$input, I64Attr:$axis, I64Attr:$offset,
                       OptionalAttr<StrAttr>:$name);
  let results = (outs LLM_WeightType:$result);
  let assemblyFormat = "$input attr-dict `:` qualified(type($input)) `->` qualified(type($result))";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Structure
//===----------------------------------------------------------------------===//

def LLM_DecoderLayerOp : LLM_Op<"decoder_layer", [IsolatedFromAbove, SingleBlock]> {
  let summary = "One decoder layer, the unit of layer-by-layer calibration";
  let description = [{
    Groups the ops of decoder layer `index`. The region is isolated from above: it sees only
    its operands (as entry block arguments) and parameters by name, so a compression pass can
    run it alone on calibration activations and feed its results to the next layer. Results
    are the values yielded by `llm.yield` (typically the hidden state and the layer's updated
    KV cache).

    ```mlir
    %h1 = llm.decoder_layer 0 (%h0, %pos) : (tensor<1x?x64xf32>, tensor<1x?xi64>) -> tensor<1x?x64xf32> {
    ^bb0(%x: tensor<1x?x64xf32>, %p: tensor<1x?xi64>):
      ...
      llm.yield %y : tensor<1x?x64xf32>
    }
    ```
  }];
  let arguments = (ins I64Attr:$index, Variadic<AnyType>:$inputs);
  let results = (outs Variadic<AnyType>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $index `(` $inputs `)` attr-dict `:` functional-type($inputs, $results) $body
  }];
  let hasVerifier = 1;
}

def LLM_YieldOp : LLM_Op<"yield",
    [Pure, Terminator, ReturnLike, HasParent<"DecoderLayerOp">]> {
  let summary = "Returns the results of a decoder layer";
  let description = [{
    ```mlir
    llm.yield %hidden, %present_k, %present_v : tensor<1x?x64xf32>, tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>
    ```
  }];
  let arguments = (ins Variadic<AnyType>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

//===----------------------------------------------------------------------===//
// Transformer building blocks
//===----------------------------------------------------------------------===//

def LLM_EmbeddingOp : LLM_Op<"embedding", [Pure]> {
  let summary = "Token embedding lookup";
  let description = [{
    Gathers rows of the `[vocab, dim]` table: `result[..., :] = table[ids[...], :]`. The
    result has the shape of `ids` with `dim` appended.

    ```mlir
    %h = llm.embedding %ids, %table : tensor<1x?xi32>, !llm.weight<512x64xf32> -> tensor<1x?x64xf32>
    ```
  }];
  let arguments = (ins LLM_TokenTensor:$ids, LLM_WeightType:$table);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $ids `,` $table attr-dict `:` type($ids) `,` qualified(type($table)) `->` type($result)
  }];
  let hasVerifier = 1;
}

def LLM_RMSNormOp : LLM_Op<"rms_norm", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "Root-mean-square normalization over the last dimension";
  let description = [{
    `result = input / sqrt(mean(input^2, -1) + epsilon) * weight`, the mean taken in fp32
    over the last dimension, whose size must equal the size of the rank-1 `weight`.

    ```mlir
    %n = llm.rms_norm %h, %w {epsilon = 1.0e-05 : f32} : tensor<1x?x64xf32>, !llm.weight<64xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, LLM_WeightType:$weight,
                       DefaultValuedAttr<F32Attr, "1.0e-5">:$epsilon);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = "$input `,` $weight attr-dict `:` type($input) `,` qualified(type($weight))";
  let hasVerifier = 1;
}

def LLM_LinearOp : LLM_Op<"linear", [Pure]> {
  let summary = "Fully connected layer: input × weightᵀ (+ bias)";
  let description = [{
    `result[..., n] = sum_k input[..., k] * weight[n, k] (+ bias[n])` for a `[N, K]` weight
    in any storage encoding. Quantization and pruning passes act on this op's weight.

    ```mlir
    %q = llm.linear %x, %wq : tensor<1x?x64xf32>, !llm.weight<64x64xf32> -> tensor<1x?x64xf32>
    %y = llm.linear %x, %w, %b : tensor<1x?x64xf32>, !llm.weight<172x64xf16, #llm.nf4<>>, !llm.weight<172xf32> -> tensor<1x?x172xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, LLM_WeightType:$weight,
                       Optional<LLM_WeightType>:$bias);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` type($input) `,` qualified(type($weight))
    (`,` qualified(type($bias))^)? `->` type($result)
  }];
  let builders = [
    // The result type from the operands (inferResultType), as the verifier expects it.
    OpBuilder<(ins "::mlir::Value":$input, "::mlir::Value":$weight,
                   CArg<"::mlir::Value", "{}">:$bias), [{
      build($_builder, $_state, inferResultType(input.getType(), weight.getType()), input,
            weight, bias);
    }]>
  ];
  let extraClassDeclaration = [{
    /// `input`'s shape with the last dimension replaced by the weight's N, in `input`'s
    /// element type: what the verifier requires of the result (null if the operands are
    /// malformed; the verifier then says how).
    static ::mlir::RankedTensorType inferResultType(::mlir::Type input, ::mlir::Type weight);
  }];
  let hasVerifier = 1;
}

def LLM_RotaryOp : LLM_Op<"rotary", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "Rotary position embedding (RoPE) of queries or keys";
  let description = [{
    Rotates the first `rotary_dim` features of every head of `input` (`[batch, seq, heads,
    head_dim]`) by the angle `positions[b, s] * theta^(-2i / rotary_dim)` for pair `i`;
    features past `rotary_dim` pass through. Pair `i` is `(x[i], x[i + rotary_dim/2])` in the
    half-split convention of Hugging Face LLaMA, or `(x[2i], x[2i+1])` when `interleaved`
    (Meta's and llama2.c's convention).

    ```mlir
    %qr = llm.rotary %q, %pos {theta = 1.0e+04 : f32, rotary_dim = 8 : i64} : tensor<1x?x8x8xf32>, tensor<1x?xi64>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, LLM_TokenTensor:$positions,
                       F32Attr:$theta, I64Attr:$rotary_dim,
                       DefaultValuedAttr<BoolAttr, "false">:$interleaved);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = "$input `,` $positions attr-dict `:` type($input) `,` type($positions)";
  let hasVerifier = 1;
}

def LLM_AttentionOp : LLM_Op<"attention", [Pure]> {
  let summary = "Causal scaled-dot-product attention with grouped KV heads and a KV cache";
  let description = [{
    Causal attention of `q` (`[B, S, num_heads, D]`) over keys and values `k`, `v`
    (`[B, S, num_kv_heads, D]`); query head `h` reads KV head `h / (num_heads /
    num_kv_heads)`. With a KV cache, `past(%past_k, %past_v)` (`[B, num_kv_heads, P, D]`)
    holds the keys and values of the P earlier positions, and query `s` attends to cached
    positions and to new positions `<= s`. The optional `present` results are the updated
    cache (`[B, num_kv_heads, P + S, D]`). `scale` defaults to `1/sqrt(D)`. The output has the
    shape of `q`.

    ```mlir
    %o, %pk, %pv = llm.attention %q, %k, %v past(%ck, %cv) {num_heads = 8 : i64, num_kv_heads = 4 : i64}
        : (tensor<1x1x8x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>, tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>)
        -> (tensor<1x1x8x8xf32>, tensor<1x4x?x8xf32>, tensor<1x4x?x8xf32>)
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$q, LLM_FloatTensor:$k, LLM_FloatTensor:$v,
                       Variadic<LLM_FloatTensor>:$past,
                       I64Attr:$num_heads, I64Attr:$num_kv_heads,
                       OptionalAttr<F32Attr>:$scale);
  let results = (outs LLM_FloatTensor:$output, Variadic<LLM_FloatTensor>:$present);
  let assemblyFormat = [{
    $q `,` $k `,` $v (`past` `(` $past^ `)`)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def LLM_SwiGLUOp : LLM_Op<"swiglu", [Pure, SameOperandsAndResultType]> {
  let summary = "SwiGLU gating: silu(gate) * up";
  let description = [{
    ```mlir
    %a = llm.swiglu %gate, %up : tensor<1x?x172xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$gate, LLM_FloatTensor:$up);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($result)";
}

def LLM_LMHeadOp : LLM_Op<"lm_head", [Pure]> {
  let summary = "Projects hidden states to vocabulary logits";
  let description = [{
    `logits[..., v] = sum_k hidden[..., k] * weight[v, k]` for a `[vocab, dim]` weight (often
    the embedding table itself, tied). With `last_token_only` only the last sequence position
    is projected (`[B, 1, vocab]`), which is all decoding needs; without it every position
    is (perplexity, calibration).

    ```mlir
    %logits = llm.lm_head %h, %w {last_token_only} : tensor<1x?x64xf32>, !llm.weight<512x64xf32> -> tensor<1x1x512xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, LLM_WeightType:$weight,
                       UnitAttr:$last_token_only);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` qualified(type($weight)) `->` type($result)
  }];
  let builders = [
    // The result type from the operands (inferResultType), as the verifier expects it.
    OpBuilder<(ins "::mlir::Value":$input, "::mlir::Value":$weight,
                   CArg<"bool", "false">:$lastTokenOnly), [{
      build($_builder, $_state,
            inferResultType(input.getType(), weight.getType(), lastTokenOnly), input, weight,
            lastTokenOnly);
    }]>
  ];
  let extraClassDeclaration = [{
    /// `input`'s shape with the sequence dimension 1 when `lastTokenOnly` and the last one
    /// the weight's vocabulary, in `input`'s element type: what the verifier requires of the
    /// result (null if the operands are malformed; the verifier then says how).
    static ::mlir::RankedTensorType inferResultType(::mlir::Type input, ::mlir::Type weight,
                                                    bool lastTokenOnly);
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise and shape ops the importer falls back to
//===----------------------------------------------------------------------===//

class LLM_ElementwiseBinaryOp<string mnemonic, string what>
    : LLM_Op<mnemonic, [Pure, Commutative, SameOperandsAndResultType]> {
  let summary = "Elementwise " # what;
  let description = [{
    Operands and result have the same type; no implicit broadcasting (the importer makes it
    explicit).

    ```mlir
    %r = llm.}] # mnemonic # [{ %a, %b : tensor<1x?x64xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$lhs, LLM_FloatTensor:$rhs);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def LLM_AddOp : LLM_ElementwiseBinaryOp<"add", "addition (residual connections)">;
def LLM_MulOp : LLM_ElementwiseBinaryOp<"mul", "multiplication"> {
  // mul(silu(gate), up) -> swiglu(gate, up): importers see SwiGLU as separate ops.
  let hasCanonicalizer = 1;
}

def LLM_SiLUOp : LLM_Op<"silu", [Pure, SameOperandsAndResultType]> {
  let summary = "Elementwise x * sigmoid(x)";
  let description = [{
    ```mlir
    %s = llm.silu %x : tensor<1x?x172xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def LLM_CastOp : LLM_Op<"cast", [Pure, SameOperandsAndResultShape]> {
  let summary = "Converts the element type of a float tensor (round to nearest even)";
  let description = [{
    ```mlir
    %h16 = llm.cast %h : tensor<1x?x64xf32> -> tensor<1x?x64xf16>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def LLM_ReshapeOp : LLM_Op<"reshape", [Pure]> {
  let summary = "Reinterprets a tensor with another shape of the same element count";
  let description = [{
    Row-major reshape. Dynamic dimensions (batch, sequence), and every dimension before
    them, are kept as they are; the static dimensions after the last dynamic one must hold
    the same number of elements on both sides.

    ```mlir
    %heads = llm.reshape %q : tensor<1x?x64xf32> -> tensor<1x?x8x8xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def LLM_TransposeOp : LLM_Op<"transpose", [Pure]> {
  let summary = "Permutes dimensions: result dim i is input dim permutation[i]";
  let description = [{
    ```mlir
    %t = llm.transpose %x {permutation = array<i64: 0, 2, 1, 3>} : tensor<1x?x4x8xf32> -> tensor<1x4x?x8xf32>
    ```
  }];
  let arguments = (ins LLM_FloatTensor:$input, DenseI64ArrayAttr:$permutation);
  let results = (outs LLM_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

#endif // MIDLLAMA_DIALECT_LLM_IR_LLMOPS_TD
