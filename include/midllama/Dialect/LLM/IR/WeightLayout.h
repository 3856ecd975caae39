//===- WeightLayout.h - Bytes behind an !llm.weight -------------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The one place that says which tensors, of which dtypes and shapes, store a weight of a given
// !llm.weight type in the parameter file, put together from what its format and sparsity
// attributes say (LLMAttrInterfaces.td). The stats pass counts bytes with it, the importer
// and the compression passes write parameter files with it, the compiler packs from it. The
// layout follows from the type alone, so byte counts are exact without reading any file.
// docs/weights.md describes the same layout for people.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_DIALECT_LLM_IR_WEIGHTLAYOUT_H
#define MIDLLAMA_DIALECT_LLM_IR_WEIGHTLAYOUT_H

#include "midllama/Dialect/LLM/IR/LLMDialect.h"
#include "mlir/IR/Diagnostics.h"

#include <string>

namespace midllama::llm {

/// The storage layout of a weight of type `type` (which must have passed verification).
WeightLayout getWeightLayout(WeightType type);

/// Whether a weight with a sparsity pattern stores only its kept values (with index
/// tensors), rather than dense with explicit zeros.
bool isStoredCompressed(WeightType type);

/// A short human-readable name of the storage encoding, e.g. "f32", "int4 g128 asym",
/// "nf4 b64 dq", "int8 + 2 fp16 cols", "f16 2:4". Weights with equal names are stored alike.
std::string getStorageFormatName(WeightType type);

/// Checks that the encoding attributes fit the shape and element type; used by the type's
/// verifier and by passes that build new weight types.
mlir::LogicalResult
verifyWeightEncoding(llvm::function_ref<mlir::InFlightDiagnostic()> emitError,
                     llvm::ArrayRef<int64_t> shape, mlir::Type elementType,
                     WeightFormatAttrInterface format,
                     WeightSparsityAttrInterface sparsity);

} // namespace midllama::llm

#endif // MIDLLAMA_DIALECT_LLM_IR_WEIGHTLAYOUT_H
