//===- LLMDialect.td - The llm dialect ---------------------*- tablegen -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_DIALECT_LLM_IR_LLMDIALECT_TD
#define MIDLLAMA_DIALECT_LLM_IR_LLMDIALECT_TD

include "mlir/IR/OpBase.td"

def LLM_Dialect : Dialect {
  let name = "llm";
  let summary = "LLaMA-family decoder at the level where it is compressed";
  let description = [{
    The `llm` dialect describes a LLaMA-family decoder-only transformer with one op per
    building block a compression method reasons about: token embedding, RMSNorm, linear,
    rotary embedding, causal grouped-query attention with a KV cache, SwiGLU, residual add and
    the language-model head, plus the few elementwise and shape ops an importer needs for
    what it cannot raise.

    Weights are not SSA constants. A weight is a named parameter declared once per module
    with `llm.param`; its bytes live in an external, mmap-able parameter file named by the
    module attribute `llm.param_file`. The `!llm.weight` type of a parameter says how those
    bytes encode it: dense fp32/fp16/bf16, affine integer groups (`#llm.affine`), NF4
    (`#llm.nf4`), int8 with fp16 outlier columns (`#llm.int8_outliers`), optionally pruned
    (`#llm.n_m`, `#llm.unstructured`). Passes rewrite a weight by changing its type and the
    parameter file together. See docs/weights.md for the rationale and the byte layout.

    Activations are ranked tensors of f32/f16/bf16; dynamic batch and sequence dimensions are
    allowed (`tensor<?x?x64xf32>`). Attention inputs use the [batch, seq, heads, head_dim]
    layout; the KV cache uses [batch, kv_heads, cached_len, head_dim].
  }];
  let cppNamespace = "::midllama::llm";
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
  let hasOperationAttrVerify = 1;
  let hasRegionArgAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;
  let extraClassDeclaration = [{
    /// Module attribute naming the parameter file that holds the module's weights, relative
    /// to the directory of the IR file.
    static constexpr ::llvm::StringLiteral kParamFileAttrName = "llm.param_file";
    /// Argument/result attribute naming a model input or output (`tokens`, `logits`,
    /// `past_key.0`, ...), by which the runtime binds them.
    static constexpr ::llvm::StringLiteral kNameAttrName = "llm.name";
    /// Attribute of an `llm.param` renamed since its parameter file was written: the name
    /// its tensors have in that file. --llm-materialize-weights writes them under the
    /// parameter's own name and drops it.
    static constexpr ::llvm::StringLiteral kStoredAsAttrName = "llm.stored_as";
    /// Module attribute: the context length the model was trained for (positions it
    /// supports), when the source says; compilers size the KV cache from it.
    static constexpr ::llvm::StringLiteral kMaxContextAttrName = "llm.max_context";
    /// Module attribute: the model file an importer read (absolute path), so later tools
    /// find what came beside it (the tokenizer).
    static constexpr ::llvm::StringLiteral kSourceAttrName = "llm.source";
    /// Module attribute: the activations the model's weights are meant to meet, "int8"
    /// when an importer kept weights in a format its source multiplies with int8
    /// activations (GGUF's quantized blocks: llama.cpp quantizes activations to Q8, a
    /// scale per 32 columns), "int8-weight-groups" when the source asks for int8 scaled
    /// per weight group (ONNX MatMulNBits at accuracy_level 4, as ONNX Runtime computes
    /// it); absent or "fp32": fp32. --llm-set-activations also sets "bf16" and the int8
    /// kinds with "+bf16" (bf16 for the weights int8 does not take). Compilers record it in
    /// the artifact as the runtime's default (midllama-run --int8-activations,
    /// --bf16-activations and --fp32-activations override it).
    static constexpr ::llvm::StringLiteral kActivationsAttrName = "llm.activations";
    /// Module attribute beside kActivationsAttrName when a pass, not an importer, chose it:
    /// who (the pass and its option), for the run's report.
    static constexpr ::llvm::StringLiteral kActivationsSetByAttrName = "llm.activations_set_by";
    /// Module attribute: the KV cache the CPU runtime keeps by default, "f32" (the
    /// reference numerics; also when absent) or "f16" (keys and values rounded to fp16, as
    /// llama.cpp's default cache), set by --llm-set-kv-cache and recorded in the artifact
    /// (midllama-run --kv-cache overrides it).
    static constexpr ::llvm::StringLiteral kKVCacheAttrName = "llm.kv_cache";
    /// Attribute of an `llm.param` whose values a compression pass rescaled without
    /// changing what the model computes (AWQ's per-channel scales and the 1/s folded into
    /// the op before): a note saying by what, for people and tests; nothing reads it.
    static constexpr ::llvm::StringLiteral kRescaledAttrName = "llm.rescaled";

  private:
    void registerTypes();
    void registerAttributes();

  public:
  }];
}

#endif // MIDLLAMA_DIALECT_LLM_IR_LLMDIALECT_TD
