//===- WeightComponents.h - The tensors that store a weight ------*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The vocabulary of the weight-format attribute interfaces (LLMAttrInterfaces.td): the
// tensors of a parameter file that store one weight, and the stream of stored values a
// sparsity pattern leaves for a format to encode. Kept free of the dialect's classes so the
// generated interface declarations can name them.
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_DIALECT_LLM_IR_WEIGHTCOMPONENTS_H
#define MIDLLAMA_DIALECT_LLM_IR_WEIGHTCOMPONENTS_H

#include "runtime/params/DType.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>
#include <vector>

namespace midllama::llm {

/// Every component tensor in a parameter file starts at a multiple of this many bytes, so
/// the runtime can mmap the file and hand kernels aligned pointers.
constexpr int64_t kParamAlignment = 64;

/// One tensor of the parameter file: `<param name><suffix>`.
struct WeightComponent {
  std::string suffix; // "" for a plain dense weight, else ".qweight", ".scales", ...
  rt::DType dtype;
  llvm::SmallVector<int64_t, 2> shape;

  int64_t getNumElements() const;
  int64_t getNumBytes() const;
};

/// All the tensors that store one weight.
struct WeightLayout {
  llvm::SmallVector<WeightComponent, 4> components;

  /// Sum of the component sizes: the bytes this weight occupies.
  int64_t getNumBytes() const;
  /// The same with each component padded to `kParamAlignment`, as it lies in the file and in
  /// memory once mapped.
  int64_t getAlignedNumBytes() const;
};

/// Which values of a rank-2 [rows, columns] weight are stored, and how they are indexed:
/// what a sparsity pattern decides and a format then encodes.
struct ValueStream {
  int64_t rows = 1;
  int64_t perRow = 0;     // values per row when every row stores the same count
  int64_t total = 0;      // values stored in all
  bool rowAligned = true; // false: one flat stream of `total` values (unstructured)
  llvm::SmallVector<WeightComponent, 2> index; // mask/row_ptr or N:M indices

  /// Every value of every row: dense storage.
  static ValueStream dense(int64_t rows, int64_t columns) {
    return {rows, columns, rows * columns, true, {}};
  }
  /// A tensor of `bitsPerValue`-bit codes of the stream in `dtype` elements: one
  /// byte-aligned row each when the stream is row-aligned, else one flat array.
  WeightComponent packed(llvm::StringRef suffix, int64_t bitsPerValue,
                         rt::DType dtype = rt::DType::U8) const;
};

/// A tensor the artifact holds beside a weight's stored components, made from the type
/// alone (LLM.int8()'s outlier columns, which the IR type holds and the kernel reads).
struct TypeTensor {
  WeightComponent component;
  std::vector<uint8_t> bytes;
};

} // namespace midllama::llm

#endif // MIDLLAMA_DIALECT_LLM_IR_WEIGHTCOMPONENTS_H
