//===- WeightSparsities.cpp - What each sparsity pattern says about itself ===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The WeightSparsityAttrInterface methods of #llm.n_m and #llm.unstructured: which values
// a pruned weight stores and the index tensors that place them (docs/weights.md).
//
//===----------------------------------------------------------------------===//

#include "midllama/Dialect/LLM/IR/LLMDialect.h"

#include "llvm/Support/MathExtras.h"

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
