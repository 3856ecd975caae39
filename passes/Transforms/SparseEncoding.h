//===- SparseEncoding.h - Store a pruned weight compressed ------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// A pruned dense weight's type and parameter-file components (docs/weights.md): N:M when
// the pattern is N:M and M divides K (kept values plus their positions in each run), else
// `#llm.unstructured<nnz>`, which the layout stores compressed (values, row bitmask, row
// offsets) only when that is smaller than dense with explicit zeros. The bytes saved are
// then real: the parameter file and the artifact hold only what is kept.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_PASSES_TRANSFORMS_SPARSEENCODING_H
#define MIDLLAMA_PASSES_TRANSFORMS_SPARSEENCODING_H

#include "WeightRewriter.h"

#include "midllama/Sparsify/Sparsify.h"

namespace midllama {

/// `out`'s type and components for `values` ([n, k], already zero where `mask` drops).
void encodeSparse(llm::WeightType type, const std::vector<float> &values,
                  const std::vector<uint8_t> &mask, const sparse::Pattern &pattern,
                  EncodedWeight &out);

/// `out`'s type and components for a pruned weight of `type` (#llm.n_m or
/// #llm.unstructured) quantized to `m` (codes for every column, the pruned ones the zero
/// point) with `keep` its mask: the codes of the kept values only, with the type's index
/// tensors, when its layout is compressed; all codes otherwise.
void encodeAffineSparse(llm::WeightType type, const quant::AffineMatrix &m,
                        const quant::AffineParams &p, const std::vector<uint8_t> &keep,
                        EncodedWeight &out);

/// For a pruned weight with mask `keep`: `type` with the mask's pattern (an unstructured
/// weight's count updated), and whether that type's layout stores only the kept values;
/// if so, its index tensors (N:M positions, or bitmask and row offsets) are appended to
/// `index`. Shared by every format that stores a value stream.
bool storesOnlyKept(llm::WeightType &type, const std::vector<uint8_t> &keep,
                    std::vector<EncodedWeight::Component> &index);

/// For a pruned weight quantized to one code per value (`codes` of `elemBits` bits for all
/// [n, k] columns, rows of `rowBytes`): the type with the mask's pattern, whether its
/// layout stores only the kept values, and then those values' codes and the index tensors
/// (appended to `out.components`, the codes replacing the component named `codeSuffix`).
/// Shared by the affine and int8 encodings.
bool keepOnlyKeptCodes(llm::WeightType &type, const std::vector<uint8_t> &keep,
                       const std::vector<uint8_t> &codes, int64_t rowBytes, int elemBits,
                       rt::DType codeType, EncodedWeight &out);

} // namespace midllama

#endif // MIDLLAMA_PASSES_TRANSFORMS_SPARSEENCODING_H
