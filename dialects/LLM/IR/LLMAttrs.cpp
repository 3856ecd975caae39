//===- LLMAttrs.cpp - Weight storage-format attributes --------------------===//
//
// Part of midllama, under the Apache License v2.0 with LLVM Exceptions.
//
// The checks here need only the attribute; checks against a weight's shape (a group larger
// than K, an outlier column past K, M not dividing K) are the interface's verifyWeight
// (WeightFormats.cpp, WeightSparsities.cpp).
//
//===----------------------------------------------------------------------===//

#include "midllama/Dialect/LLM/IR/LLMDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h" // the generated parser and printer use it
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace midllama::llm;

#include "midllama/Dialect/LLM/IR/LLMAttrInterfaces.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "midllama/Dialect/LLM/IR/LLMAttrs.cpp.inc"

void LLMDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "midllama/Dialect/LLM/IR/LLMAttrs.cpp.inc"
      >();
}

LogicalResult AffineQuantAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                      unsigned bits, int64_t groupSize,
                                      bool symmetric, bool actOrder, int64_t scaleBlock) {
  if (bits < 2 || bits > 8)
    return emitError() << "affine quantization supports 2 to 8 bits, got " << bits;
  if (groupSize < 1)
    return emitError() << "affine quantization group_size must be positive, got "
                       << groupSize;
  if (scaleBlock < 0)
    return emitError() << "affine quantization scale_block must be 0 or positive, got "
                       << scaleBlock;
  return success();
}

LogicalResult AffineMinQuantAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                         unsigned bits, int64_t groupSize,
                                         int64_t scaleBlock) {
  if (bits < 2 || bits > 8)
    return emitError() << "affine_min quantization supports 2 to 8 bits, got " << bits;
  if (groupSize < 1)
    return emitError() << "affine_min quantization group_size must be positive, got "
                       << groupSize;
  if (scaleBlock < 0)
    return emitError() << "affine_min quantization scale_block must be 0 or positive, got "
                       << scaleBlock;
  return success();
}

LogicalResult NF4Attr::verify(function_ref<InFlightDiagnostic()> emitError,
                              int64_t blockSize, bool doubleQuant,
                              int64_t dqBlockSize) {
  // The block sizes bitsandbytes supports for 4-bit quantization.
  if (blockSize < 32 || blockSize > 4096 || !llvm::isPowerOf2_64(blockSize))
    return emitError() << "nf4 block_size must be a power of two in [32, 4096], got "
                       << blockSize;
  if (dqBlockSize < 1 || !llvm::isPowerOf2_64(dqBlockSize))
    return emitError() << "nf4 dq_block_size must be a positive power of two, got "
                       << dqBlockSize;
  return success();
}

LogicalResult Int8OutliersAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                       DenseI64ArrayAttr columns) {
  if (!columns)
    return emitError() << "int8_outliers needs a 'columns' array";
  ArrayRef<int64_t> cols = columns.asArrayRef();
  for (size_t i = 0; i < cols.size(); ++i) {
    if (cols[i] < 0)
      return emitError() << "int8_outliers column " << cols[i] << " is negative";
    if (i > 0 && cols[i] <= cols[i - 1])
      return emitError() << "int8_outliers columns must be sorted and unique, got "
                         << cols[i - 1] << " before " << cols[i];
  }
  return success();
}

Attribute NMSparsityAttr::parse(AsmParser &parser, Type) {
  int64_t n = 0, m = 0;
  llvm::SMLoc loc = parser.getCurrentLocation();
  if (parser.parseLess() || parser.parseInteger(n) || parser.parseColon() ||
      parser.parseInteger(m) || parser.parseGreater())
    return {};
  return parser.getChecked<NMSparsityAttr>(loc, parser.getContext(), n, m);
}

void NMSparsityAttr::print(AsmPrinter &printer) const {
  printer << "<" << getN() << ":" << getM() << ">";
}

LogicalResult NMSparsityAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                     int64_t n, int64_t m) {
  if (m < 2 || m > 32)
    return emitError() << "N:M sparsity needs 2 <= M <= 32, got M = " << m;
  if (n < 1 || n >= m)
    return emitError() << "N:M sparsity needs 1 <= N < M, got " << n << ":" << m;
  return success();
}

LogicalResult
UnstructuredSparsityAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 int64_t nnz) {
  if (nnz < 0)
    return emitError() << "unstructured sparsity nnz must be >= 0, got " << nnz;
  return success();
}
