//===- Components.h - The tensors that store a compiled weight --*- C++ -*-===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The runtime's statement of which tensors, of which dtypes and shapes, an artifact holds
// for a weight of a given format and sparsity: `NAME` for a plain dense weight, else
// `NAME<suffix>` per component. The loader checks every weight against it, the reports
// count bytes with it. The compiler's side of the same layout is
// dialects/LLM/IR/WeightLayout.cpp (a test compiles every format and loads it).
//
//===----------------------------------------------------------------------===//

#ifndef MIDLLAMA_RUNTIME_FORMAT_COMPONENTS_H
#define MIDLLAMA_RUNTIME_FORMAT_COMPONENTS_H

#include "runtime/artifact/Program.h"

#include <string>
#include <vector>

namespace midllama::rt {

struct Component {
  std::string suffix; // "" for a plain dense weight
  DType dtype;
  std::vector<int64_t> shape;
};

/// Which of a weight's values are stored, in what order: every value, N of every M per
/// row (row-aligned), or one flat stream of the `total` values a bitmask keeps.
struct ValueStream {
  int64_t rows = 1, perRow = 0, total = 0;
  bool rowAligned = true;
};

/// The stored values of `info` (a matrix unless it is dense); `kept` is the number of
/// values a bitmask keeps (counted from the mask), ignored for other sparsities.
ValueStream valueStreamOf(const WeightInfo &info, int64_t kept);

/// Every tensor that stores `info`, in the order the compiler writes them: the format's
/// components, then the sparsity's index tensors.
std::vector<Component> componentsOf(const WeightInfo &info, int64_t kept);

} // namespace midllama::rt

#endif // MIDLLAMA_RUNTIME_FORMAT_COMPONENTS_H
