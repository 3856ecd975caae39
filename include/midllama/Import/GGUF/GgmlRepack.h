//===- GgmlRepack.h - ggml blocks as midllama weight tensors -----*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The ggml tensor types midllama stores without changing a value (docs/gguf.md): F32, F16
// and BF16 as they are; Q8_0 and Q4_0 as symmetric `#llm.affine` groups of 32 with fp16
// scales (Q8_0's int8 q is the code q + 128 around the implicit zero 128, Q4_0's code is
// its nibble around 8); Q4_1 as `#llm.affine_min` groups of 32 with fp16 scales and minima;
// Q5_0 and Q5_1 the same with 5-bit codes (Q5_0's zero is 16 = 2^(5-1));
// the K-quants with their codes and their sub-block scales as ggml stores them, codes
// times an fp16 super-scale (`scale_block`, GgmlDequantize.h's kQuantScaleCodes): Q4_K and
// Q5_K as `#llm.affine_min` 4 and 5 bits in groups of 32, scale and minimum codes a byte
// each per group with d and -dmin per 8 groups (4.625 and 5.625 bits per weight against
// ggml's 4.5 and 5.5, which packs the 6-bit codes); Q6_K as symmetric `#llm.affine` 6 bits
// in groups of 16 (zero 32), int8 scale codes with d per 16 groups (6.5625 bits, as ggml).
// Every value is ggml's, bit for bit.
// The blocks are cut into the tensors runtime/format/Components.h names, row by row, so a
// caller can reorder rows (the q/k projections) on the way.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_IMPORT_GGUF_GGMLREPACK_H
#define MIDLLAMA_IMPORT_GGUF_GGMLREPACK_H

#include "midllama/Import/GGUF/GgufFile.h"
#include "runtime/params/DType.h"

#include <cstdint>
#include <string>
#include <vector>

namespace midllama::gguf {

/// One tensor a kept weight is stored in: the suffix to the weight's name, its dtype and
/// its elements per row of the weight.
struct KeptTensor {
  std::string suffix;
  rt::DType dtype;
  int64_t rowElements;
};

/// The tensors a [rows, cols] weight of `type` is kept in (cols a multiple of the type's
/// block); empty when `type` is not kept (it is dequantized instead).
std::vector<KeptTensor> keptTensors(TensorType type, int64_t cols);

/// Tensor `which` (an index into keptTensors) of one row, from the row's ggml blocks.
void repackRow(TensorType type, size_t which, const uint8_t *src, int64_t cols, uint8_t *dst);

} // namespace midllama::gguf

#endif // MIDLLAMA_IMPORT_GGUF_GGMLREPACK_H
