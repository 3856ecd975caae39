//===- Passes.td - midllama transformation and analysis passes -*- tablegen -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_TRANSFORMS_PASSES_TD
#define MIDLLAMA_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Options several passes share, declared once: each pass's `options` concatenates
// the blocks it takes with its own (!listconcat), so a name, default or help text
// cannot drift between passes.
//===----------------------------------------------------------------------===//

// Affine quantization in groups of input columns (RTN, GPTQ, AWQ).
defvar AffineOptions = [
  Option<"bits", "bits", "int", /*default=*/"4", "Bits per weight, 2 to 8">,
  Option<"groupSize", "group-size", "int64_t", /*default=*/"128",
           "Input columns per group (at least 1)">,
  Option<"symmetric", "symmetric", "bool", /*default=*/"false",
           "Symmetric groups (implicit zero point 2^(bits-1))">,
];

// What a pruning pass removes (magnitude, Wanda, GBLM, SparseGPT).
defvar PruningPatternOptions = [
  Option<"sparsity", "sparsity", "double", /*default=*/"0.5",
           "Fraction of each comparison group pruned (unstructured), in [0, 1)">,
  Option<"pattern", "pattern", "std::string", /*default=*/"\"unstructured\"",
           "unstructured, or N:M (at most N kept in each run of M input columns: 2:4, 4:8)">,
  Option<"tail", "tail", "std::string", /*default=*/"\"error\"",
           "N:M when M does not divide K: error, or proportional (the last run of t columns keeps round(t·N/M))">,
];

// The calibration data of every calibrated pass (lib/Calibrate).
defvar CalibrationOptions = [
  Option<"calib", "calib", "std::string", /*default=*/"\"\"",
           "Calibration data: a text file, a .tokens file, or the name of a calibration "
           "set of data/ (wikitext2-train, tinystories) (required)">,
  Option<"samples", "samples", "int64_t", /*default=*/"128",
           "Calibration windows">,
  Option<"seqLen", "seq-len", "int64_t", /*default=*/"256",
           "Tokens per calibration window">,
  Option<"seed", "seed", "uint64_t", /*default=*/"0", "Seed of the window sampling">,
  Option<"calibBatch", "calib-batch", "int64_t", /*default=*/"8",
           "Calibration windows run together">,
  Option<"tokenizer", "tokenizer", "std::string", /*default=*/"\"\"",
           "Tokenizer for text calibration data (default: found beside the model)">,
];

// Which weights a compression pass rewrites, and the parameter file it writes.
defvar WeightSelectionOptions = [
  Option<"include", "include", "std::string", /*default=*/"\"^model\\\\.layers\\\\.\"",
           "Regular expression a weight's name must match">,
  Option<"exclude", "exclude", "std::string", /*default=*/"\"\"",
           "Regular expression a weight's name must not match (empty: none)">,
  Option<"output", "output", "std::string", /*default=*/"\"\"",
           "Parameter file to write (required)">,
];

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

def LLMVerifyParams : Pass<"llm-verify-params", "::mlir::ModuleOp"> {
  let summary = "Check the parameter file holds every declared weight, as its type says";
  let description = [{
    Opens the module's parameter file (`llm.param_file`, relative to the directory of the IR
    file, or the `param-file` option) and checks that every `llm.param` without an inline
    value has each of its component tensors (docs/weights.md) with the dtype and shape its
    `!llm.weight` type implies. Fails with one error per problem, naming the parameter, the
    tensor and the file: a missing or truncated file, a missing tensor, a wrong dtype or
    shape. Tensors in the file that no parameter declares are reported as a warning.

    ```
    midllama-opt --llm-verify-params model.mlir -o /dev/null
    ```
  }];
  let options = [
    Option<"paramFile", "param-file", "std::string", /*default=*/"\"\"",
           "Parameter file to check instead of the module's llm.param_file">,
  ];
  let dependentDialects = ["::midllama::llm::LLMDialect"];
}

def LLMMaterializeWeights : Pass<"llm-materialize-weights", "::mlir::ModuleOp"> {
  let summary = "Fold weight transforms into parameters and write a new parameter file";
  let description = [{
    Every `llm.weight_transpose` / `llm.weight_slice` chain that ends in a use by another op
    becomes a new `llm.param` (named by the last transform's `name`, else after its source
    with a `.t` / `.rows_A_B` / `.cols_A_B` suffix) whose bytes are computed when the new
    parameter file is written, one tensor at a time. Parameters that only fed transforms
    are dropped; all others are copied as they are. The new file is written atomically to
    `output` (relative to the IR file's directory, like `llm.param_file`, which is updated
    to it); it may not be the file the module reads.

    ```
    midllama-opt --llm-materialize-weights=output=model.v2.safetensors model.mlir -o model.v2.mlir
    ```
  }];
  let options = [
    Option<"output", "output", "std::string", /*default=*/"\"\"",
           "Parameter file to write (required)">,
  ];
  let dependentDialects = ["::midllama::llm::LLMDialect"];
}

def LLMOutlineDecoderLayers : Pass<"llm-outline-decoder-layers", "::mlir::ModuleOp"> {
  let summary = "Group a flat decoder into llm.decoder_layer regions";
  let description = [{
    Importers that convert a graph op by op produce one flat function. This pass finds the
    layers by structure, not by names: each `llm.attention` starts a layer whose input is
    the residual stream entering the RMSNorm that feeds its queries; the layer ends where the
    next layer's residual input (or, after the last layer, the final RMSNorm's input) is
    computed. Everything computed from the layer input up to there (and the layer's KV
    cache outputs) moves into an `llm.decoder_layer` numbered in order; values it reads
    from outside (residual, positions, KV cache) become its inputs. `llm.weight` reads are
    cloned into the layer that uses them, so tied weights stay shared. Functions that
    already have layers are left alone.
  }];
  let dependentDialects = ["::midllama::llm::LLMDialect"];
}

def LLMNameWeights : Pass<"llm-name-weights", "::mlir::ModuleOp"> {
  let summary = "Name every weight after its role, the way Hugging Face LLaMA checkpoints do";
  let description = [{
    Exports name weights their own way (`val_71` from torch.onnx, `attn.qkv_proj.MatMul.weight`
    from ONNX Runtime GenAI), but recipes and reports select weights by name, so every
    importer's output should use one convention. This pass reads each weight's role from the
    structure of outlined decoder layers (not from any name): the linears feeding
    `llm.attention`'s q/k/v (through reshapes, rotary and casts) are
    `model.layers.N.self_attn.{q,k,v}_proj.weight`, the one reading its output `o_proj`,
    SwiGLU's gate/up operands and the linear reading it `mlp.{gate,up,down}_proj.weight`,
    the RMSNorm feeding the queries `input_layernorm.weight` and the one feeding the MLP
    `post_attention_layernorm.weight`; outside the layers the embedding table is
    `model.embed_tokens.weight`, the final RMSNorm `model.norm.weight` and the output
    projection `lm_head.weight` (a tied head keeps the embedding's name).

    A weight computed by a transform (`llm.weight_transpose`, `llm.weight_slice`) gets the
    name as the transform's `name`, which --llm-materialize-weights gives the new
    parameter. A parameter read directly is renamed, with `llm.stored_as` recording the
    name its tensors still have in the parameter file until the next materialization.
    A name already taken is left alone.
  }];
  let dependentDialects = ["::midllama::llm::LLMDialect"];
}

//===----------------------------------------------------------------------===//
// Compression
//===----------------------------------------------------------------------===//

def LLMQuantizeRTN : Pass<"llm-quantize-rtn", "::mlir::ModuleOp"> {
  let summary = "Round-to-nearest affine quantization of linear weights in groups";
  let description = [{
    Quantizes each selected weight with round-to-nearest in groups of `group-size` input
    columns (asymmetric min-max, or symmetric absmax; docs/algorithms.md): its
    type becomes `#llm.affine<bits, group_size, symmetric>` and a new parameter file
    (`output`, relative to the IR file like `llm.param_file`, which is updated to it) holds
    the codes, scales and zero points in place of its fp values. A group size larger than a
    weight's K is K (one group per row); a shorter last group covers the remainder.

    Selected: dense matrices read only as the weight of `llm.linear` / `llm.lm_head` (not
    an embedding table) whose name matches `include` and not `exclude` (ECMAScript regular
    expressions over the parameter names, which the importers make Hugging Face's: the
    default takes the decoder layers' projections and keeps `lm_head` in full precision).
    Progress, one line per weight with its time, goes to stderr.

    ```
    midllama-opt --llm-quantize-rtn="bits=4 group-size=128 output=model.w4g128.safetensors" model.mlir -o model.w4g128.mlir
    ```
  }];
  let options = !listconcat(AffineOptions, WeightSelectionOptions);
  let dependentDialects = ["::midllama::llm::LLMDialect"];
}

def LLMCastWeights : Pass<"llm-cast-weights", "::mlir::ModuleOp"> {
  let summary = "Store linear weights as fp16 or bf16";
  let description = [{
    Rounds each selected weight to `dtype` (round to nearest even, as torch's `.to()`): its
    type becomes `!llm.weight<NxKxf16>` (or bf16), half the bytes of fp32, and the runtime
    multiplies the stored values with fp32 activations. A weight already stored in `dtype`
    is rewritten unchanged; quantized or pruned weights are not selected. The recipe
    method `cast` and the search candidates `fp16`/`bf16` are this pass. Selection, the
    new parameter file and progress as --llm-quantize-rtn.

    ```
    midllama-opt --llm-cast-weights="dtype=f16 output=model.f16.safetensors" model.mlir -o model.f16.mlir
    ```
  }];
  let options = !listconcat([
    Option<"dtype", "dtype", "std::string", /*default=*/"\"f16\"",
           "The stored type: f16 or bf16">,
  ], WeightSelectionOptions);
  let dependentDialects = ["::midllama::llm::LLMDialect"];
}

def LLMSetActivations : Pass<"llm-set-activations", "::mlir::ModuleOp"> {
  let summary = "Record the activation precision the runtime multiplies with by default";
  let description = [{
    Sets the module's `llm.activations` (recorded in the compiled artifact as the CPU
    runtime's default; docs/compile-and-run.md "Activation precision"): `fp32` (every
    product with fp32 activations, the reference numerics), `int8` (activations quantized
    to int8 for the 4- to 8-bit affine weights, VNNI dot products, as llama.cpp does),
    `bf16` (activations and decoded weights rounded to bf16 for the prefill of every
    weight not stored in fp32, and NF4's decode), or `int8+bf16` (int8 where it applies,
    bf16 for the rest). A module an importer marked `int8-weight-groups` (ONNX
    MatMulNBits at accuracy_level 4) keeps its scales' span for int8. The weights are not
    touched; the run's report names the choice and this pass, and midllama-run's
    --fp32-activations (or the other flags) still override it. `midllama-compile
    --activations=` runs this pass.

    ```
    midllama-opt --llm-set-activations="activations=int8+bf16" model.rtn.mlir -o model.rtn.mlir
    ```
  }];
  let options = [
    Option<"activations", "activations", "std::string", /*default=*/"\"fp32\"",
           "fp32, int8, bf16 or int8+bf16">,
  ];
  let dependentDialects = ["::midllama::llm::LLMDialect"];
}

def LLMSetKVCache : Pass<"llm-set-kv-cache", "::mlir::ModuleOp"> {
  let summary = "Record the KV cache the runtime keeps by default";
  let description = [{
    Sets the module's `llm.kv_cache` (recorded in the compiled artifact as the CPU
    runtime's default; docs/compile-and-run.md "The KV cache on the CPU"): `f32` (keys and
    values as computed, the reference numerics) or `f16` (rounded to fp16, as llama.cpp's
    default cache: half the cache's memory and of what decode reads per cached position).
    The weights are not touched; the run's report names the choice, and midllama-run's
    --kv-cache still overrides it. `midllama-compile --kv-cache=` runs this pass.

    ```
    midllama-opt --llm-set-kv-cache="kv-cache=f16" model.mlir -o model.mlir
    ```
  }];
  let options = [
    Option<"kvCache", "kv-cache", "std::string", /*default=*/"\"f32\"", "f32 or f16">,
  ];
  let dependentDialects = ["::midllama::llm::LLMDialect"];
}

def LLMQuantizeNF4 : Pass<"llm-quantize-nf4", "::mlir::ModuleOp"> {
  let summary = "NormalFloat4 quantization of linear weights (QLoRA), bit-exact with bitsandbytes";
  let description = [{
    Quantizes each selected weight to NF4 in blocks of `block-size` values of its row-major
    stream (one absmax each), optionally double-quantizing the absmax values (8-bit blocks
    of 256 after subtracting their mean), exactly as bitsandbytes' `quantize_4bit`: its type
    becomes `#llm.nf4<block_size, double_quant>` and a new parameter file (`output`) holds
    the codes and absmax values. Selection as --llm-quantize-rtn (`include`, `exclude`).
    A pruned weight keeps its mask: stored compressed, its stream (and blocks) are its kept
    values only, beside its bitmask or N:M positions; stored dense, its zeros take NF4's
    exact-zero code.

    ```
    midllama-opt --llm-quantize-nf4="double-quant=true output=model.nf4.safetensors" model.mlir -o model.nf4.mlir
    ```
  }];
  let options = !listconcat([
    Option<"blockSize", "block-size", "int64_t", /*default=*/"64",
           "Values per absmax block: a power of two from 32 to 4096">,
    Option<"doubleQuant", "double-quant", "bool", /*default=*/"false",
           "Quantize the absmax values to 8 bits (blocks of 256)">,
  ], WeightSelectionOptions);
  let dependentDialects = ["::midllama::llm::LLMDialect"];
}

def LLMQuantizeGPTQ : Pass<"llm-quantize-gptq", "::mlir::ModuleOp"> {
  let summary = "GPTQ: affine quantization that corrects each column's error on calibration data";
  let description = [{
    Quantizes each selected weight with GPTQ (Frantar et al. 2023; docs/algorithms.md)
    into the same `#llm.affine<bits, group_size, symmetric>` groups as
    --llm-quantize-rtn, so the runtime reads both the same way. The Hessian of every linear
    layer's input, H = 2/n Σ x xᵀ, comes from running the model on `calib` (a text file,
    tokenized with the model's tokenizer, or a `.tokens` file of ids): `samples` windows of
    `seq-len` tokens drawn with `seed`, decoder layer by decoder layer, each layer fed the
    outputs of the already-quantized layers before it (lib/Calibrate). With
    `true-sequential`, the groups inside a layer go one after the other too (q/k/v, o,
    gate/up, down). `formats` gives weights their own bits, group size, symmetry and
    column order in the same calibration (how --llm-apply-recipe runs a mixed recipe's
    GPTQ rules: sequential over all of them, one calibration instead of one per rule). `act-order` quantizes columns by decreasing H_jj with static groups (no
    g_idx: the stored layout is unchanged). `group-params=block-start` takes a group's
    scale and zero point from the weights as its block started, as the reference code does,
    instead of the error-updated ones (docs/quantization.md compares the two). Selection,
    the new parameter file and progress as --llm-quantize-rtn; progress also gives the
    time per layer.

    ```
    midllama-opt --llm-quantize-gptq="bits=4 group-size=128 calib=calib.txt output=model.gptq.safetensors" model.mlir -o model.gptq.mlir
    ```
  }];
  let options = !listconcat(AffineOptions, [
    Option<"damp", "damp", "double", /*default=*/"0.01",
           "Dampening λ: H += λ·mean(diag H)·I, in (0, 1]">,
    Option<"blockSize", "block-size", "int64_t", /*default=*/"128",
           "Columns per lazy-batch block (at least 1)">,
    Option<"actOrder", "act-order", "bool", /*default=*/"false",
           "Quantize columns by decreasing Hessian diagonal (static groups)">,
    Option<"trueSequential", "true-sequential", "bool", /*default=*/"true",
           "Inside a layer, calibrate q/k/v, o, gate/up and down one after the other">,
    Option<"groupParams", "group-params", "std::string", /*default=*/"\"updated\"",
           "Without act-order, where a group's scale and zero point come from: updated "
           "(the weights as error-updated when the group starts) or block-start (the "
           "reference gptq.py: the weights as the group's lazy-batch block started; differs "
           "only when group-size < block-size)">,
    Option<"formats", "formats", "std::string", /*default=*/"\"\"",
           "Per-weight formats, REGEX=w<bits>g<group>[-sym][-act] separated by ';': the "
           "first entry whose expression matches a weight's name sets its bits, group-size, "
           "symmetric and act-order (the others keep the options')">,
  ], CalibrationOptions, WeightSelectionOptions);
  let dependentDialects = ["::midllama::llm::LLMDialect"];
}

def LLMQuantizeAWQ : Pass<"llm-quantize-awq", "::mlir::ModuleOp"> {
  let summary = "AWQ: activation-aware scaling and clipping, then affine quantization";
  let description = [{
    Activation-aware weight quantization (Lin et al. 2024; docs/algorithms.md),
    decoder layer by decoder layer on the calibration data (`calib`, `samples`, `seq-len`,
    `seed`, as --llm-quantize-gptq), each layer fed by the already-quantized layers before
    it. For each group of selected projections reading one input, s = (mean|x|)^α
    (normalized) with α on a grid of `grid` values in [0, 1) chosen by the mean squared error
    of the group's block output (q/k/v: the attention output; gate/up: the MLP output; any
    other projection: its own output) with Q(W·diag(s))·diag(s)⁻¹ in place of W; α = 0 is
    RTN. With `search-samples=N` the block outputs of the search are computed on the
    first N calibration samples only (each α runs the block again, so the search costs
    grid × samples block runs; the statistics still come from all samples).
    W·diag(s) is kept and 1/s folded into the op before: the RMSNorm weight, the up
    projection before down, v before o (skipped, with a progress line, when the model has
    fewer KV heads than heads). With `clip`, every row's groups then get the range
    max|w|·(1 − i/20), i < 10, that minimizes their output error on `clip-tokens` sampled
    input rows (q and k projections are not clipped). The scaled, clipped weights are
    quantized with RTN (or, `quantizer=gptq`, with GPTQ on the Hessian of the scaled inputs)
    into `#llm.affine`; rescaled norms (and rescaled projections that are not selected) are
    written back dense (a pruned one with its pattern). A pruned weight keeps its mask
    (scaling, clipping and rounding keep zeros at zero; GPTQ runs mask-aware) and stores
    only its kept values' codes. Selection, the new parameter file and progress as
    --llm-quantize-rtn, with α and the block errors per group and the time per layer.

    ```
    midllama-opt --llm-quantize-awq="bits=4 group-size=128 calib=calib.txt output=model.awq.safetensors" model.mlir -o model.awq.mlir
    ```
  }];
  let options = !listconcat(AffineOptions, [
    Option<"grid", "grid", "int", /*default=*/"20",
           "Points of the α grid (α = i / grid), 1 to 1000">,
    Option<"clip", "clip", "bool", /*default=*/"true",
           "Search a clip range per row and group (not for q/k projections)">,
    Option<"clipTokens", "clip-tokens", "int64_t", /*default=*/"512",
           "Input rows sampled for the clip search">,
    Option<"searchSamples", "search-samples", "int64_t", /*default=*/"0",
           "Calibration samples the α search's block outputs are computed on (the first "
           "N; 0: all of them, as AutoAWQ); the scales' statistics always use all">,
    Option<"quantizer", "quantizer", "std::string", /*default=*/"\"rtn\"",
           "What quantizes the scaled weights: rtn, or gptq (with the scaled inputs' Hessian)">,
    Option<"damp", "damp", "double", /*default=*/"0.01",
           "GPTQ's dampening when quantizer=gptq, in (0, 1]">,
  ], CalibrationOptions, WeightSelectionOptions);
  let dependentDialects = ["::midllama::llm::LLMDialect"];
}

def LLMQuantizeInt8 : Pass<"llm-quantize-int8", "::mlir::ModuleOp"> {
  let summary = "LLM.int8(): int8 weights with the outlier input columns in fp16";
  let description = [{
    LLM.int8() (Dettmers et al. 2022; docs/algorithms.md) with the outlier
    features found once, at calibration: an input column of a linear layer is an outlier
    when any calibration activation reaches |x| >= `threshold` in it (calibration data as
    --llm-quantize-gptq: `calib`, `samples`, `seq-len`, `seed`, layer by layer). The weight's
    type becomes `#llm.int8_outliers<columns = [...]>`: its other columns int8 with one
    absmax scale per output row, the outlier columns in fp16. The runtime quantizes each
    activation row to int8 (absmax over its non-outlier columns), multiplies in int32, and
    adds the fp16 product of the outlier columns. Selection, the new parameter file and
    progress as --llm-quantize-rtn; progress also gives the outlier columns per input.

    ```
    midllama-opt --llm-quantize-int8="threshold=6.0 calib=calib.txt output=model.int8.safetensors" model.mlir -o model.int8.mlir
    ```
  }];
  let options = !listconcat([
    Option<"threshold", "threshold", "double", /*default=*/"6.0",
           "Outlier threshold on |x| (at least 0; 0 keeps every column in fp16)">,
  ], CalibrationOptions, WeightSelectionOptions);
  let dependentDialects = ["::midllama::llm::LLMDialect"];
}

def LLMSearchRecipe : Pass<"llm-search-recipe", "::mlir::ModuleOp"> {
  let summary = "Choose each weight's compression to fit a memory budget with the least measured error";
  let description = [{
    Answers "the most accurate version of this model that fits N bytes": for every selected
    weight (dense linear weights, `include`/`exclude`) and every candidate (`keep`, `fp16`,
    `bf16`, `rtn-w<b>g<g>[-sym]`, `gptq-w<b>g<g>[-sym][-act]`, `nf4-b<s>[-dq]`), it measures on
    calibration data the layer's output error, per output channel i the mean of
    ((W − Q)x)_i² over the tokens from the input's XᵀX (the quantity GPTQ minimizes), with
    Q the values the runtime would compute with; and it counts the candidate's bytes
    exactly as the artifact stores the weight (its `!llm.weight` type's layout). With
    `weighting=fisher` (the default) a candidate's cost is ½ Σ_i F_i · error_i, F_i the
    diagonal Fisher of output channel i (the mean squared gradient of the token loss,
    from one backward pass per calibration sample): the estimated increase of the mean
    token loss in nats, which makes errors of different layers comparable (BRECQ's
    weighting, Li et al. 2021); `weighting=output` sums the plain errors. Then it picks one
    candidate per weight, minimizing the summed cost with the model's total weight bytes (the weights not
    searched counted as they are; with `bytes=mapped`, every tensor padded to the artifact's
    64-byte alignment; with `kv-tokens`, the KV cache of that many tokens too) at
    most `budget`, by dynamic programming over byte units
    (exact when the sizes share a unit; otherwise sizes are rounded up, the result stays
    within the budget and the report states the optimality gap in bytes).

    Layers are measured on the inputs of the uncompressed model (each candidate's error is
    independent of the other layers' choices); applying the recipe with
    `--llm-apply-recipe` then calibrates GPTQ sequentially, on the compressed layers'
    outputs. `output` receives a recipe JSON (one rule per weight) that
    `--llm-apply-recipe` reads; the choice per weight with its bytes and error is printed,
    and written as JSON to `report` when given, which `measurements=` reads back to solve
    other budgets without calibrating again. The module is not changed, unless `apply=true`:
    then the recipe is applied at once (`--llm-apply-recipe` with the search's calibration
    settings) and the compressed weights go to `output-params`; the pipeline
    `--midllama-search-recipe` does that and verifies the parameter file.

    ```
    midllama-opt --llm-search-recipe="budget=60MB candidates=keep,rtn-w8g128,gptq-w4g128,gptq-w3g128 calib=wikitext2-train output=recipe.json" model.mlir -o /dev/null
    midllama-opt --llm-search-recipe="budget=60MB calib=wikitext2-train output=recipe.json apply=true output-params=model.q.safetensors" model.mlir -o model.q.mlir
    ```
  }];
  let options = !listconcat([
    Option<"budget", "budget", "std::string", /*default=*/"\"\"",
           "The model's weight bytes at most: a size (123456789, 60MB, 1.5GiB) or a width (4.25bpp) (required)">,
    Option<"candidates", "candidates", "std::string",
           /*default=*/"\"keep,rtn-w8g128,gptq-w4g128,gptq-w3g128,nf4-b64\"",
           "Comma-separated candidates: keep, fp16, bf16, rtn-w<bits>g<group>[-sym], gptq-w<bits>g<group>[-sym][-act], nf4-b<block>[-dq]">,
    Option<"units", "units", "int64_t", /*default=*/"65536",
           "Most byte units of the allocation's dynamic program (more: finer, slower)">,
    Option<"include", "include", "std::string", /*default=*/"\"^model\\\\.layers\\\\.\"",
           "Regular expression a weight's name must match">,
    Option<"exclude", "exclude", "std::string", /*default=*/"\"\"",
           "Regular expression a weight's name must not match (empty: none)">,
    Option<"output", "output", "std::string", /*default=*/"\"\"",
           "Recipe JSON to write (required)">,
    Option<"report", "report", "std::string", /*default=*/"\"\"",
           "JSON file for the choice per weight (optional)">,
    Option<"measurements", "measurements", "std::string", /*default=*/"\"\"",
           "An earlier search's report: solve with its measured errors, without calibrating">,
    Option<"weighting", "weighting", "std::string", /*default=*/"\"fisher\"",
           "A candidate's cost: fisher (output errors weighted by the diagonal Fisher: the "
           "estimated loss increase) or output (the summed output errors)">,
    Option<"kvTokens", "kv-tokens", "int64_t", /*default=*/"0",
           "Tokens of KV cache the budget must hold too (context length x sequences): fp32 K "
           "and V of every layer, as the CPU runtime allocates them">,
    Option<"fisherSamples", "fisher-samples", "int64_t", /*default=*/"0",
           "Calibration windows of the backward pass behind the Fisher (0: `samples`; "
           "fewer: faster, the backward pass costs about three forward passes per window)">,
    Option<"bytesCounted", "bytes", "std::string", /*default=*/"\"stored\"",
           "How a weight's bytes count: stored (its tensors as the artifact stores them, "
           "midllama-run's weight bytes) or mapped (each tensor padded to the 64-byte "
           "alignment the artifact maps it at, llm-stats' bytes mapped)">,
    Option<"apply", "apply", "bool", /*default=*/"false",
           "Also apply the recipe to the module (--llm-apply-recipe), writing `output-params`">,
    Option<"outputParams", "output-params", "std::string", /*default=*/"\"\"",
           "With apply=true: the parameter file of the compressed weights (required then)">,
  ], CalibrationOptions);
  let dependentDialects = ["::midllama::llm::LLMDialect"];
}

def LLMApplyRecipe : Pass<"llm-apply-recipe", "::mlir::ModuleOp"> {
  let summary = "Compress each weight with the method and options a recipe gives it";
  let description = [{
    Runs a recipe (docs/quantization.md): an ordered list of rules, each a regular expression over
    parameter names with a method (`rtn`, `gptq`, `awq`, `nf4`, `int8`, `cast`, `keep`) and its
    options; the first rule matching a weight decides for it. Each rule becomes one run of
    the method's pass with `include` = its expression and `exclude` = the earlier ones (the
    progress prints each as a pass pipeline, which reproduces it). `recipe` is a JSON file
    or a built-in name: rtn-w8g128, rtn-w4g128, gptq-w4g128, gptq-w3g128, awq-w4g128, nf4,
    nf4-dq, int8, gptq-w4g128-mixed. A rule that matches no weight (a layer the model does
    not have) is an error. Calibration settings (`calib`, `samples`, `seq-len`, `seed`,
    `tokenizer`) override the recipe's `"calibration"`. The last pass writes `output`; the
    parameter files of the steps before are removed.

    ```
    midllama-opt --llm-apply-recipe="recipe=mixed.json calib=calib.txt output=model.q.safetensors" model.mlir -o model.q.mlir
    ```
  }];
  let options = [
    Option<"recipe", "recipe", "std::string", /*default=*/"\"\"",
           "A recipe file (JSON) or the name of a built-in recipe (required)">,
    Option<"calib", "calib", "std::string", /*default=*/"\"\"",
           "Calibration data for the calibrated rules, a file or a set name as for "
           "--llm-quantize-gptq (overrides the recipe's)">,
    Option<"samples", "samples", "int64_t", /*default=*/"0",
           "Calibration windows (0: the recipe's, else the methods' default)">,
    Option<"seqLen", "seq-len", "int64_t", /*default=*/"0",
           "Tokens per calibration window (0: the recipe's, else the methods' default)">,
    Option<"seed", "seed", "uint64_t", /*default=*/"0", "Seed of the window sampling">,
    Option<"tokenizer", "tokenizer", "std::string", /*default=*/"\"\"",
           "Tokenizer for text calibration data">,
    Option<"output", "output", "std::string", /*default=*/"\"\"",
           "Parameter file to write (required)">,
  ];
  let dependentDialects = ["::midllama::llm::LLMDialect"];
}

def LLMPruneMagnitude : Pass<"llm-prune-magnitude", "::mlir::ModuleOp"> {
  let summary = "Magnitude pruning: zero the weights of smallest |W|";
  let description = [{
    Zeroes, in each comparison group (`comparison`: an output row or the whole weight), the
    `sparsity` fraction of weights with the smallest magnitude, or keeps the N largest of
    every run of M input columns (`pattern=N:M`). No calibration. A pruned weight's type gets `#llm.n_m<N:M>` (M dividing K) or `#llm.unstructured<nnz>`
    and its parameter file holds it compressed when that is smaller (docs/weights.md), so
    the bytes saved are real.
    Selection and progress as --llm-quantize-rtn.

    ```
    midllama-opt --llm-prune-magnitude="sparsity=0.5 output=model.mag50.safetensors" model.mlir -o model.mag50.mlir
    ```
  }];
  let options = !listconcat(PruningPatternOptions, [
    Option<"comparison", "comparison", "std::string", /*default=*/"\"row\"",
           "Unstructured comparison group: row (each output row) or layer (the whole weight)">,
  ], WeightSelectionOptions);
  let dependentDialects = ["::midllama::llm::LLMDialect"];
}

def LLMPruneWanda : Pass<"llm-prune-wanda", "::mlir::ModuleOp"> {
  let summary = "Wanda: prune by |W| times the input activation norm";
  let description = [{
    Wanda (Sun et al. 2023; docs/algorithms.md): score |W_ij|·‖X_j‖₂, with the
    input column norms gathered layer by layer on calibration data (as --llm-quantize-gptq:
    `calib`, `samples`, `seq-len`, `seed`), each layer fed by the already-pruned layers
    before it; the lowest scores of each output row (or layer) are zeroed, or N:M per run.
    No weight update. A pruned weight's type gets `#llm.n_m<N:M>` (M dividing K) or `#llm.unstructured<nnz>`
    and its parameter file holds it compressed when that is smaller (docs/weights.md), so
    the bytes saved are real.

    ```
    midllama-opt --llm-prune-wanda="sparsity=0.5 calib=calib.txt output=model.wanda50.safetensors" model.mlir -o model.wanda50.mlir
    ```
  }];
  let options = !listconcat(PruningPatternOptions, [
    Option<"comparison", "comparison", "std::string", /*default=*/"\"row\"",
           "Unstructured comparison group: row (each output row) or layer (the whole weight)">,
  ], CalibrationOptions, WeightSelectionOptions);
  let dependentDialects = ["::midllama::llm::LLMDialect"];
}

def LLMPruneGBLM : Pass<"llm-prune-gblm", "::mlir::ModuleOp"> {
  let summary = "GBLM-Pruner: Wanda's score plus a gradient term, from precomputed gradient norms";
  let description = [{
    GBLM-Pruner (Das et al. 2023; docs/algorithms.md), as its reference code
    scores: S_ij = |W_ij|·sqrt(a_j) + |W_ij|·G_ij, a_j the mean over calibration samples of
    ‖X_n[:, j]‖² (gathered layer by layer, each layer fed by the already-pruned layers
    before it, as --llm-prune-wanda), G_ij = sqrt(Σ_n (α·∂L_n/∂W_ij)²) the gradient norm of
    the causal-LM loss over calibration samples (labels = inputs), computed on the dense
    model by a backward pass over the same calibration samples
    (include/midllama/Calibrate/Backward.h; `alpha`, 100 by default), or read from `gradients`: a safetensors file with one F32
    [N, K] tensor per weight, under the weight's name (what the reference code saves).
    The backward pass is most of GBLM's time (12-26 s a sample for a 135M model on 2 CPU
    cores) and depends only on the dense model, the calibration samples, `alpha` and
    `norm`: `gradients-out` writes what it computed in that layout, so that other
    patterns or sparsities prune from the same norms with `gradients=`.
    Patterns, storage and options otherwise as --llm-prune-wanda.

    ```
    midllama-opt --llm-prune-gblm="sparsity=0.5 calib=calib.txt gradients-out=grad_norms.safetensors output=model.gblm50.safetensors" model.mlir -o model.gblm50.mlir
    midllama-opt --llm-prune-gblm="pattern=2:4 gradients=grad_norms.safetensors calib=calib.txt output=model.gblm24.safetensors" model.mlir -o model.gblm24.mlir
    ```
  }];
  let options = !listconcat(PruningPatternOptions, [
    Option<"comparison", "comparison", "std::string", /*default=*/"\"row\"",
           "Unstructured comparison group: row (each output row) or layer (the whole weight)">,
    Option<"gradients", "gradients", "std::string", /*default=*/"\"\"",
           "Gradient norms: safetensors, F32 [N, K] per weight name (default: computed by a backward pass over the calibration samples)">,
    Option<"gradientsOut", "gradients-out", "std::string", /*default=*/"\"\"",
           "Writes the computed gradient norms there (safetensors, F32 [N, K] per weight name), for later runs' gradients=">,
    Option<"alpha", "alpha", "double", /*default=*/"100.0",
           "α scaling the gradients before their norm (the reference's 100)">,
    Option<"norm", "norm", "std::string", /*default=*/"\"l2\"",
           "How per-sample gradients accumulate: l2, sqrt(Σ (α·g)²), or l1, Σ |α·g| (the reference code writes both)">,
  ], CalibrationOptions, WeightSelectionOptions);
  let dependentDialects = ["::midllama::llm::LLMDialect"];
}


def LLMPruneSparseGPT : Pass<"llm-prune-sparsegpt", "::mlir::ModuleOp"> {
  let summary = "SparseGPT: OBS pruning with the calibration Hessian";
  let description = [{
    SparseGPT (Frantar & Alistarh 2023): columns in blocks of `block-size`; for each block
    the mask drops the `sparsity` fraction of lowest w²/[H⁻¹]_jj² over the block (or, N:M,
    per run), and each pruned weight's error moves onto the columns not yet visited through
    the inverse Hessian (H = 2/n Σ x xᵀ from calibration, layer by layer, damped by `damp`),
    as GPTQ does with rounding errors. `count=exact` (default) prunes exactly the requested
    fraction of each block; `count=reference` reproduces the reference code's threshold,
    which prunes one weight more per block (docs/pruning.md). A pruned weight's type gets `#llm.n_m<N:M>` (M dividing K) or `#llm.unstructured<nnz>`
    and its parameter file holds it compressed when that is smaller (docs/weights.md), so
    the bytes saved are real.

    ```
    midllama-opt --llm-prune-sparsegpt="pattern=2:4 calib=calib.txt output=model.sgpt24.safetensors" model.mlir -o model.sgpt24.mlir
    ```
  }];
  let options = !listconcat(PruningPatternOptions, [
    Option<"damp", "damp", "double", /*default=*/"0.01",
           "Dampening λ: H += λ·mean(diag H)·I, in (0, 1]">,
    Option<"blockSize", "block-size", "int64_t", /*default=*/"128",
           "Columns per block (rounded up to a multiple of M for N:M)">,
    Option<"count", "count", "std::string", /*default=*/"\"exact\"",
           "Unstructured weights pruned per block of n: exact (floor(n·sparsity)), or "
           "reference (the SparseGPT code's tmp <= sort(tmp)[int(n·sparsity)]: one more, "
           "and any ties)">,
  ], CalibrationOptions, WeightSelectionOptions);
  let dependentDialects = ["::midllama::llm::LLMDialect"];
}

#endif // MIDLLAMA_TRANSFORMS_PASSES_TD
