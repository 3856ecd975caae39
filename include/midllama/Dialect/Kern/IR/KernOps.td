//===- KernOps.td - Ops of the kern dialect ----------------*- tablegen -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_DIALECT_KERN_IR_KERNOPS_TD
#define MIDLLAMA_DIALECT_KERN_IR_KERNOPS_TD

include "midllama/Dialect/Kern/IR/KernDialect.td"
include "midllama/Dialect/LLM/IR/LLMTypes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/OpBase.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

class Kern_Op<string mnemonic, list<Trait> traits = []> : Op<Kern_Dialect, mnemonic, traits>;

def Kern_Activation : RankedTensorOf<[F32], [HasAnyRankOfPred<[3]>]>;
def Kern_Tokens : RankedTensorOf<[I32, I64], [HasAnyRankOfPred<[2]>]>;

def Kern_EmbedOp : Kern_Op<"embed", [Pure]> {
  let summary = "Rows of the embedding table for each token";
  let description = [{
    ```mlir
    %h = kern.embed %tokens, %table : tensor<?x?xi32>, !llm.weight<512x64xf32> -> tensor<?x?x64xf32>
    ```
  }];
  let arguments = (ins Kern_Tokens:$tokens, LLM_WeightType:$table);
  let results = (outs Kern_Activation:$result);
  let assemblyFormat = [{
    $tokens `,` $table attr-dict `:` type($tokens) `,` qualified(type($table)) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Kern_RMSNormOp : Kern_Op<"rms_norm", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "RMSNorm over the last dimension";
  let arguments = (ins Kern_Activation:$input, LLM_WeightType:$weight, F32Attr:$epsilon);
  let results = (outs Kern_Activation:$result);
  let assemblyFormat = "$input `,` $weight attr-dict `:` type($input) `,` qualified(type($weight))";
}

def Kern_AddRMSNormOp : Kern_Op<"add_rms_norm",
    [Pure, AllTypesMatch<["input", "residual", "sum", "result"]>]> {
  let summary = "Fused residual add and RMSNorm: sum = input + residual, result = norm(sum)";
  let description = [{
    Made by `--kern-fuse` from a `kern.add` whose sum feeds a `kern.rms_norm`: one pass over
    the residual stream instead of two.
  }];
  let arguments = (ins Kern_Activation:$input, Kern_Activation:$residual,
                       LLM_WeightType:$weight, F32Attr:$epsilon);
  let results = (outs Kern_Activation:$sum, Kern_Activation:$result);
  let assemblyFormat = [{
    $input `,` $residual `,` $weight attr-dict `:` type($input) `,` qualified(type($weight))
  }];
}

def Kern_MatMulOp : Kern_Op<"matmul", [Pure]> {
  let summary = "input × weightᵀ for a [N, K] weight in any storage encoding";
  let description = [{
    With `last_token_only`, only the last position of each sequence is projected (the LM
    head while decoding).
  }];
  let arguments = (ins Kern_Activation:$input, LLM_WeightType:$weight,
                       UnitAttr:$last_token_only);
  let results = (outs Kern_Activation:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` qualified(type($weight)) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Kern_GateUpSwiGLUOp : Kern_Op<"gate_up_swiglu", [Pure]> {
  let summary = "Fused gate and up projections and SwiGLU: silu(x Wgᵀ) * (x Wuᵀ)";
  let description = [{
    Made by `--kern-fuse`: the two projections read the input once and the [seq, ffn]
    gate and up activations are never stored.
  }];
  let arguments = (ins Kern_Activation:$input, LLM_WeightType:$gate, LLM_WeightType:$up);
  let results = (outs Kern_Activation:$result);
  let assemblyFormat = [{
    $input `,` $gate `,` $up attr-dict `:` type($input) `,` qualified(type($gate)) `,`
    qualified(type($up)) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Kern_SwiGLUOp : Kern_Op<"swiglu", [Pure, SameOperandsAndResultType]> {
  let summary = "silu(gate) * up";
  let arguments = (ins Kern_Activation:$gate, Kern_Activation:$up);
  let results = (outs Kern_Activation:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($result)";
}

def Kern_AddOp : Kern_Op<"add", [Pure, SameOperandsAndResultType]> {
  let summary = "Elementwise sum (residual connections)";
  let arguments = (ins Kern_Activation:$lhs, Kern_Activation:$rhs);
  let results = (outs Kern_Activation:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def Kern_MulOp : Kern_Op<"mul", [Pure, SameOperandsAndResultType]> {
  let summary = "Elementwise product";
  let arguments = (ins Kern_Activation:$lhs, Kern_Activation:$rhs);
  let results = (outs Kern_Activation:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def Kern_SiLUOp : Kern_Op<"silu", [Pure, SameOperandsAndResultType]> {
  let summary = "x * sigmoid(x)";
  let arguments = (ins Kern_Activation:$input);
  let results = (outs Kern_Activation:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def Kern_AttentionOp : Kern_Op<"attention", [MemoryEffects<[MemRead, MemWrite]>]> {
  let summary = "Rotary embedding, KV-cache append and causal GQA attention of one layer";
  let description = [{
    `q`, `k`, `v` are the projections `[batch, seq, heads * head_dim]` of the new tokens.
    The kernel rotates q and k at the tokens' positions (`theta`, `rotary_dim`, half-split or
    `interleaved` pairs; `rotary_dim = 0` for none), appends k and v to the KV cache of
    `layer`, and computes causal attention of the queries over everything cached, query head
    h reading KV head `h / (num_heads / num_kv_heads)`, scaled by `scale`. It writes the
    cache, so it is not pure; the plan keeps the layers in order.

    ```mlir
    %o = kern.attention %q, %k, %v, %pos {layer = 0 : i64, num_heads = 8 : i64, num_kv_heads = 4 : i64, head_dim = 8 : i64, scale = 0.353553385 : f32, theta = 1.0e+04 : f32, rotary_dim = 8 : i64, interleaved = true}
        : tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?xi64> -> tensor<?x?x64xf32>
    ```
  }];
  let arguments = (ins Kern_Activation:$q, Kern_Activation:$k, Kern_Activation:$v,
                       RankedTensorOf<[I64]>:$positions,
                       I64Attr:$layer, I64Attr:$num_heads, I64Attr:$num_kv_heads,
                       I64Attr:$head_dim, F32Attr:$scale, F32Attr:$theta, I64Attr:$rotary_dim,
                       BoolAttr:$interleaved);
  let results = (outs Kern_Activation:$result);
  let assemblyFormat = [{
    $q `,` $k `,` $v `,` $positions attr-dict `:` type($q) `,` type($k) `,` type($v) `,`
    type($positions) `->` type($result)
  }];
  let hasVerifier = 1;
}

#endif // MIDLLAMA_DIALECT_KERN_IR_KERNOPS_TD
