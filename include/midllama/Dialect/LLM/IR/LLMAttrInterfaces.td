//===- LLMAttrInterfaces.td - What a weight format must say --*- tablegen -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// A storage format or sparsity pattern of `!llm.weight` is an attribute that implements
// one of these interfaces: everything the compiler needs to know about it (which tensors
// store it, which weight shapes it fits, its name in reports, what the runtime is told) is
// answered by the attribute itself, so the users (WeightLayout.cpp, --llm-stats, the
// artifact writer) hold no per-format code. Adding a format is one attribute in
// LLMAttrs.td with these methods, one entry in runtime/format/, and its kernels.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_DIALECT_LLM_IR_LLMATTRINTERFACES_TD
#define MIDLLAMA_DIALECT_LLM_IR_LLMATTRINTERFACES_TD

include "mlir/IR/Interfaces.td"

def LLM_WeightFormatAttrInterface : AttrInterface<"WeightFormatAttrInterface"> {
  let cppNamespace = "::midllama::llm";
  let description = [{
    How the stored values of an `!llm.weight` are encoded (`#llm.affine`, `#llm.nf4`,
    `#llm.int8_outliers`; a weight without one stores its element type). The sparsity
    pattern first decides which values are stored (a `ValueStream`); the format then says
    which tensors encode them.
  }];
  let methods = [
    InterfaceMethod<[{
        Checks that the format fits a weight of this shape (rank 2, `[out, in]`) and
        element type, beyond what the attribute's own verifier can see.
      }], "::mlir::LogicalResult", "verifyWeight",
      (ins "::llvm::function_ref<::mlir::InFlightDiagnostic()>":$emitError,
           "::llvm::ArrayRef<int64_t>":$shape, "::mlir::Type":$elementType)>,
    InterfaceMethod<[{
        Appends the tensors that encode the stored values `stream` of a weight with
        `columns` input columns whose element type (scales' type) is `elementType`.
      }], "void", "appendComponents",
      (ins "const ::midllama::llm::ValueStream &":$stream, "int64_t":$columns,
           "::midllama::rt::DType":$elementType,
           "::llvm::SmallVectorImpl<::midllama::llm::WeightComponent> &":$components)>,
    InterfaceMethod<[{
        Prints the format's short name in reports (`--llm-stats`), e.g. `int4 g128 asym`,
        `nf4 b64 dq`: weights with equal names are stored alike.
      }], "void", "printShortName", (ins "::llvm::raw_ostream &":$os)>,
    InterfaceMethod<[{
        The format as the runtime's program describes it (runtime/format/WeightFormat.h),
        for a weight stored compressed (`sparse`) or not; failure when the runtime has no
        kernel for it.
      }], "::mlir::FailureOr<::midllama::rt::FormatParams>", "getRuntimeFormat",
      (ins "bool":$sparse)>,
    InterfaceMethod<[{
        Appends the tensors the artifact holds beside the stored components that only the
        type knows (e.g. LLM.int8()'s outlier columns). None by default.
      }], "void", "appendTypeTensors",
      (ins "::llvm::SmallVectorImpl<::midllama::llm::TypeTensor> &":$tensors), "",
      [{ return; }]>,
    InterfaceMethod<[{
        Whether every row of the weight is stored apart from the others (row r's codes and
        scales in row r of each per-row component), so that `llm.weight_slice` may take
        rows of the encoded weight, as when a packed QKV projection is split. False by
        default.
      }], "bool", "hasIndependentRows", (ins), "", [{ return false; }]>,
  ];
}

def LLM_WeightSparsityAttrInterface : AttrInterface<"WeightSparsityAttrInterface"> {
  let cppNamespace = "::midllama::llm";
  let description = [{
    Which entries of an `!llm.weight` are known to be zero (`#llm.n_m`,
    `#llm.unstructured`), and how the kept values are indexed when the weight is stored
    compressed.
  }];
  let methods = [
    InterfaceMethod<[{
        Checks that the pattern fits a weight of this shape (rank 2, `[out, in]`).
      }], "::mlir::LogicalResult", "verifyWeight",
      (ins "::llvm::function_ref<::mlir::InFlightDiagnostic()>":$emitError,
           "::llvm::ArrayRef<int64_t>":$shape)>,
    InterfaceMethod<[{
        The values stored compressed, with the index tensors that locate them, of a
        `[rows, columns]` weight.
      }], "::midllama::llm::ValueStream", "getCompressedStream",
      (ins "int64_t":$rows, "int64_t":$columns)>,
    InterfaceMethod<[{
        Whether the weight is always stored compressed; otherwise it is stored compressed
        only when that takes fewer bytes than dense storage with explicit zeros.
      }], "bool", "isAlwaysCompressed", (ins)>,
    InterfaceMethod<[{
        Prints the pattern's suffix to the format's short name in reports (e.g. ` 2:4`),
        for a weight stored `compressed` or not.
      }], "void", "printShortName", (ins "::llvm::raw_ostream &":$os, "bool":$compressed)>,
    InterfaceMethod<[{
        How the runtime's program describes the index of a weight stored compressed.
      }], "::midllama::rt::SparsityParams", "getRuntimeSparsity", (ins)>,
    InterfaceMethod<[{
        Checks the bytes a pruned weight of this shape is stored with (`find(suffix)`: the
        tensor `<name><suffix>`, null when absent; `formatted`: the weight also has a
        format) against the pattern, e.g. N:M positions distinct and below M. Returns why
        they break it, or an empty string. `--llm-verify-params` calls it once the
        tensors' dtypes and shapes are known to be right.
      }], "std::string", "findStoredViolation",
      (ins "::llvm::function_ref<const ::midllama::rt::TensorView *(::llvm::StringRef)>":$find,
           "::llvm::ArrayRef<int64_t>":$shape, "bool":$formatted)>,
  ];
}

#endif // MIDLLAMA_DIALECT_LLM_IR_LLMATTRINTERFACES_TD
