//===- WeightSparsities.cpp - What each sparsity pattern says about itself ===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The WeightSparsityAttrInterface methods of #llm.n_m and #llm.unstructured: which values
// a pruned weight stores and the index tensors that place them (docs/weights.md).
//
//===----------------------------------------------------------------------===//

#include "midllama/Dialect/LLM/IR/LLMDialect.h"

#include "runtime/params/ParamFile.h"

#include "llvm/Support/MathExtras.h"

#include <cstring>

using namespace mlir;
using namespace midllama;
using namespace midllama::llm;

static int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

//===----------------------------------------------------------------------===//
// #llm.n_m
//===----------------------------------------------------------------------===//

LogicalResult NMSparsityAttr::verifyWeight(function_ref<InFlightDiagnostic()> emitError,
                                           ArrayRef<int64_t> shape) const {
  if (shape[1] % getM() != 0)
    return emitError() << getN() << ":" << getM()
                       << " sparsity needs the input dimension K = " << shape[1]
                       << " to be a multiple of " << getM();
  return success();
}

ValueStream NMSparsityAttr::getCompressedStream(int64_t rows, int64_t columns) const {
  // Row-aligned kept values, and ceil(log2 M) bits per kept value for its position.
  ValueStream s = ValueStream::dense(rows, columns);
  s.perRow = columns / getM() * getN();
  s.total = rows * s.perRow;
  int64_t indexBits = llvm::Log2_64_Ceil(getM());
  s.index.push_back({".indices", rt::DType::U8, {rows, ceilDiv(s.perRow * indexBits, 8)}});
  return s;
}

bool NMSparsityAttr::isAlwaysCompressed() const { return true; }

void NMSparsityAttr::printShortName(raw_ostream &os, bool) const {
  os << " " << getN() << ":" << getM();
}

rt::SparsityParams NMSparsityAttr::getRuntimeSparsity() const {
  return {rt::SparsityKind::NM, getN(), getM()};
}

std::string NMSparsityAttr::findStoredViolation(
    function_ref<const rt::TensorView *(StringRef)> find, ArrayRef<int64_t> shape,
    bool) const {
  // Positions strictly increasing below M in every run of N kept values.
  const rt::TensorView *idx = find(".indices");
  if (!idx)
    return "";
  int64_t rows = shape[0], k = shape[1];
  int64_t bits = llvm::Log2_64_Ceil(getM()), perRow = k / getM() * getN();
  int64_t rowBytes = idx->shape.size() == 2 ? idx->shape[1] : 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0, prev = -1; i < perRow; ++i) {
      int64_t pos = 0;
      for (int64_t b = 0; b < bits; ++b) {
        int64_t bit = i * bits + b;
        pos |= int64_t(idx->data[r * rowBytes + (bit >> 3)] >> (bit & 7) & 1) << b;
      }
      if (i % getN() == 0)
        prev = -1;
      if (pos <= prev || pos >= getM()) {
        std::string declared;
        llvm::raw_string_ostream(declared) << Attribute(*this);
        return "row " + std::to_string(r) + " breaks its declared " + declared +
               ": the positions of run " + std::to_string(i / getN()) +
               " are not distinct and below M";
      }
      prev = pos;
    }
  return "";
}

//===----------------------------------------------------------------------===//
// #llm.unstructured
//===----------------------------------------------------------------------===//

LogicalResult
UnstructuredSparsityAttr::verifyWeight(function_ref<InFlightDiagnostic()> emitError,
                                       ArrayRef<int64_t> shape) const {
  if (getNnz() > shape[0] * shape[1])
    return emitError() << "unstructured sparsity keeps " << getNnz()
                       << " weights but the weight has only " << shape[0] * shape[1];
  return success();
}

ValueStream UnstructuredSparsityAttr::getCompressedStream(int64_t rows,
                                                          int64_t columns) const {
  // One flat stream of the kept values; a row bitmask and row offsets find them.
  ValueStream s = ValueStream::dense(rows, columns);
  s.total = getNnz();
  s.rowAligned = false;
  s.index.push_back({".mask", rt::DType::U8, {rows, ceilDiv(columns, 8)}});
  s.index.push_back({".row_ptr", rt::DType::I32, {rows + 1}});
  return s;
}

bool UnstructuredSparsityAttr::isAlwaysCompressed() const { return false; }

void UnstructuredSparsityAttr::printShortName(raw_ostream &os, bool compressed) const {
  os << (compressed ? " sparse-bitmask" : " sparse-in-dense");
}

rt::SparsityParams UnstructuredSparsityAttr::getRuntimeSparsity() const {
  return {rt::SparsityKind::Bitmask, 0, 0};
}

std::string UnstructuredSparsityAttr::findStoredViolation(
    function_ref<const rt::TensorView *(StringRef)> find, ArrayRef<int64_t> shape,
    bool formatted) const {
  // A bitmask with `nnz` bits set and row offsets that count them; or, stored dense (and
  // not quantized), at most `nnz` non-zero values.
  std::string declared;
  llvm::raw_string_ostream(declared) << Attribute(*this);
  int64_t rows = shape[0], k = shape[1];
  if (const rt::TensorView *mask = find(".mask")) {
    const rt::TensorView *ptr = find(".row_ptr");
    int64_t maskBytes = (k + 7) / 8, total = 0;
    for (int64_t r = 0; r < rows; ++r) {
      int32_t begin, end;
      std::memcpy(&begin, ptr->data + 4 * r, 4);
      std::memcpy(&end, ptr->data + 4 * (r + 1), 4);
      int64_t count = 0;
      for (int64_t c = 0; c < k; ++c)
        count += mask->data[r * maskBytes + (c >> 3)] >> (c & 7) & 1;
      if (begin != total || end - begin != count)
        return "row " + std::to_string(r) + "'s offsets do not count its mask bits";
      total += count;
    }
    if (total != getNnz())
      return "breaks its declared " + declared + ": its mask keeps " + std::to_string(total);
    return "";
  }
  if (formatted)
    return "";
  const rt::TensorView *t = find("");
  if (!t)
    return "";
  int64_t nonzero = 0, elem = rt::dtypeSize(t->dtype);
  for (int64_t i = 0; i < t->numElements(); ++i) {
    bool zero = true;
    for (int64_t b = 0; b < elem; ++b) // +0 only; -0 counts as a value
      zero &= t->data[i * elem + b] == 0;
    nonzero += !zero;
  }
  if (nonzero > getNnz())
    return "breaks its declared " + declared + ": it holds " + std::to_string(nonzero) +
           " non-zero values";
  return "";
}
